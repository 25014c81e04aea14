//! The agent's health checks: definitions as clients and config files write them, and the runner that
//! probes them (TTL, script, HTTP/HTTPS, TCP) and reports their status changes.

mod decode;
pub mod definition;
mod http;
mod output;
mod report;
pub mod runner;
mod script;
pub mod spec;
mod tcp;
mod tls;
mod ttl;

pub use decode::DurationValue;
pub use definition::{CheckDefinition, DefinitionError};
pub use runner::{CheckRunner, RunnerError, StatusSink};
pub use spec::{
    CheckKind, CheckSpec, HttpCheck, ScriptCheck, ScriptCommand, TcpCheck, Thresholds,
    DEFAULT_NETWORK_TIMEOUT, DEFAULT_OUTPUT_MAX_SIZE, DEFAULT_SCRIPT_TIMEOUT, MIN_INTERVAL,
};
