//! Core of `senate-bench`: a minimal HTTP/1.1 client plus the KV, blocking-query and catalog
//! benchmarks built on it, and cluster mode, which runs them through the leader and a follower
//! of a 3-server cluster (and through its client agents) and adds failover.
//!
//! A tour: [`http1`] is the client, [`target`] the address; [`kv`] names the KV requests,
//! [`load`] drives closed-loop levels of them, [`watch`] the blocking-query fan-out,
//! [`catalog`] the catalog at scale. [`cluster`] runs those through chosen servers, using
//! [`servers`] to find the leader, [`launch`] to start local servers and client agents,
//! [`clients`] to wait for the client agents and compare GETs through them, and [`failover`] to
//! time a leader's `kill -9`. [`stats`] holds latency histograms, [`procfs`] an agent's process,
//! [`report`] renders everything.

pub mod catalog;
pub mod clients;
pub mod cluster;
pub mod error;
pub mod failover;
pub mod http1;
pub mod kv;
pub mod launch;
pub mod load;
pub mod procfs;
pub mod report;
pub mod servers;
pub mod stats;
pub mod target;
pub mod units;
pub mod watch;

pub use error::{BenchError, Result};
