//! Core of `senate-bench`: a minimal HTTP/1.1 client plus the KV, blocking-query and catalog
//! benchmarks built on it.

pub mod catalog;
pub mod error;
pub mod http1;
pub mod kv;
pub mod load;
pub mod procfs;
pub mod report;
pub mod stats;
pub mod target;
pub mod units;
pub mod watch;

pub use error::{BenchError, Result};
