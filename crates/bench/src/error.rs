//! The single error type shared by every benchmark module.

use std::time::Duration;

/// Anything that can stop a benchmark phase.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("invalid address {addr:?}: {reason}")]
    Address { addr: String, reason: String },
    #[error("refusing non-loopback target {0} (pass --allow-remote to override)")]
    Remote(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("malformed HTTP response: {0}")]
    Protocol(&'static str),
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("{what} returned HTTP {status}: {body}")]
    Status {
        what: String,
        status: u16,
        body: String,
    },
    #[error("histogram error: {0}")]
    Histogram(String),
    #[error("cannot read /proc/{pid}/status: {reason}")]
    Proc { pid: u32, reason: String },
    #[error("malformed JSON answer: {0}")]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Task(#[from] tokio::task::JoinError),
    #[error("{0}")]
    Setup(String),
}

/// Result alias used across the crate.
pub type Result<T> = std::result::Result<T, BenchError>;
