//! Raft for Senate: every change to replicated state is a [`senate_state::Command`] committed
//! through openraft and applied by the state machine to the [`senate_state::Store`].
//!
//! - [`type_config`]: openraft's type parameters for Senate.
//! - [`log_store`]: the Raft log and vote, in memory, written through to redb when durable.
//! - [`durable_log`]: the redb writer thread that group-commits log writes with one fsync.
//! - [`state_machine`]: applies committed entries, builds and installs snapshots.
//! - [`network`]: the peer transport (a single server has no peers yet).
//! - [`node`]: starts a server's Raft and offers propose / read-barrier / leader queries.
//! - [`proposer`]: group commit — concurrent proposals share one log entry and one fsync.
//! - [`leadership`]: a lock-free view of who leads, for every request's headers.
//! - [`read_barrier`]: `?consistent` reads share leadership confirmations.
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
pub mod state_machine;
pub mod type_config;

pub use node::{ConsensusError, RaftNode, RaftOptions};
