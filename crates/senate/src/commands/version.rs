//! `senate version`: Senate's version and the Consul API version it implements.

use std::process::ExitCode;

use senate_types::version::{CONSUL_API_VERSION, SENATE_VERSION};

/// Prints the versions and succeeds.
pub fn run() -> ExitCode {
    println!("Senate v{SENATE_VERSION}");
    println!("Consul API v{CONSUL_API_VERSION}");
    ExitCode::SUCCESS
}
