//! The local agent: its configuration, the services and checks it manages and runs, the
//! anti-entropy that keeps the catalog in step with them (and its network coordinate), and what it keeps for itself rather
//! than in the replicated state (the user-event buffer, and the log lines `/v1/agent/monitor`
//! streams, see [`monitor`]).

pub mod checks;
pub mod config;
mod coordinate_sync;
pub mod events;
pub mod local;
pub mod local_agent;
pub mod member;
pub mod monitor;
pub mod service;
mod sync;
