//! A server's place in its cluster: everything between the HTTP API and one server's Raft.
//!
//! - [`backend`]: [`Backend`], what the API and the local agent call: a server or a client agent.
//! - [`client`]: [`ClientAgent`], a client agent's way to the servers (over RPC, failing over).
//! - [`server`]: [`ClusterServer`], the seam the API and the local agent call for writes,
//!   leader-bound requests and membership changes; it answers locally or forwards to the leader.
//! - [`reads`]: reads as [`senate_query::Query`] values, answered here or on the leader, and
//!   session renewal (decided on the leader).
//! - [`wire`]: the messages servers exchange over the RPC port besides Raft's own.
//! - [`rpc_service`]: answers those messages (and Raft's) on the RPC port.
//! - [`members`]: what gossip tags say about a member: its role, datacenter, ID and RPC port.
//! - [`bootstrap`]: `-bootstrap-expect`: form the first configuration once enough servers meet.
//! - [`autopilot`]: the leader's reconciliation of the Raft configuration with gossip.
//! - [`serf_health`]: the leader's reconciliation of each node's `serfHealth` check with gossip.
//! - [`error`]: what a cluster operation fails with.

pub mod autopilot;
pub mod backend;
pub mod bootstrap;
pub mod client;
pub mod error;
pub mod members;
pub mod reads;
pub mod rpc_service;
pub mod serf_health;
pub mod server;
pub mod wire;

pub use backend::{Backend, LeaderSeen};
pub use client::ClientAgent;
pub use error::ClusterError;
pub use reads::{ReadReply, Renewed};
pub use server::{ClusterServer, LocalHttp};
