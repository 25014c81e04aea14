//! Raft for Senate: every change to replicated state is a [`senate_state::Command`] committed
//! through openraft and applied by the state machine to the [`senate_state::Store`].
//!
//! - [`type_config`]: openraft's type parameters for Senate, the server identity in the
//!   membership, and the storage format version.
//! - [`log_store`]: the Raft log and vote, in memory, written through to redb when durable.
//! - [`durable_log`]: the redb writer thread that group-commits log writes with one fsync.
//! - [`state_machine`]: applies committed entries, builds and installs snapshots.
//! - [`network`]: Raft between servers over the server RPC port (both sides).
//! - [`node`]: starts a server's Raft and offers bootstrap, propose, read barriers, leader
//!   queries and membership changes.
//! - [`proposer`]: group commit — concurrent proposals share one log entry and one fsync.
//! - [`leadership`]: a lock-free view of who leads, for every request's headers.
//! - [`read_barrier`]: `?consistent` reads share leadership confirmations.
//! - [`recovery`]: outage recovery from `raft/peers.json`.
//! - [`leader_duties`]: work only the leader does: session TTL expiry and tombstone reaping.

// openraft's storage traits return its `StorageError`, which is large; our helpers share that type.
#![allow(clippy::result_large_err)]

pub mod durable_log;
pub mod leader_duties;
pub mod leadership;
pub mod log_store;
pub mod network;
pub mod node;
pub mod proposer;
pub mod read_barrier;
pub mod recovery;
pub mod state_machine;
pub mod type_config;

pub use leadership::LeaderView;
pub use node::{ConsensusError, RaftNode, RaftOptions, RaftServer, RaftTiming};
pub use type_config::{raft_id, ServerNode};
