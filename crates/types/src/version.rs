//! The versions Senate reports: its own, and the Consul API level it implements.

/// The Consul release whose HTTP API Senate implements; clients branch on this in `Config.Version`.
pub const CONSUL_API_VERSION: &str = "1.21.0";

/// Senate's own version.
pub const SENATE_VERSION: &str = env!("CARGO_PKG_VERSION");
