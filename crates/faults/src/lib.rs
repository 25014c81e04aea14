//! Senate's fault-injection suite: a real cluster of `senate` servers under faults, client
//! histories recorded and checked (linearizability per key with `senate-linearize`, lost and
//! unexpected set elements, lock overlaps, blocking-query monotonicity).
//!
//! - [`netns`]: network namespaces and veth pairs, blackhole partitions and netem loss.
//! - [`cluster`]: the servers (in namespaces, or on loopback without root): start, kill,
//!   pause, restart, leader.
//! - [`http`]: a blocking HTTP client whose errors say whether a request can have arrived.
//! - [`history`]: the run's clock, the workload context, how outcomes are classified.
//! - [`workload`]: registers, a set, a lock, watches.
//! - [`nemesis`]: the faults and their schedule.
//! - [`run`]: one run end to end, its checks and its report.

pub mod cluster;
pub mod history;
pub mod http;
pub mod nemesis;
pub mod netns;
pub mod run;
pub mod workload;
