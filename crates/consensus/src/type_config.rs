//! openraft's type parameters for Senate: commands in, outcomes out, nodes named by address.

use senate_state::{Command, Outcome};
use std::io::Cursor;

openraft::declare_raft_types!(
    /// Senate's Raft type configuration.
    pub TypeConfig:
        D = Command,
        R = Outcome,
        NodeId = u64,
        Node = openraft::BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

/// A Raft log entry of Senate's.
pub type Entry = openraft::Entry<TypeConfig>;
/// A log ID (term, leader, index).
pub type LogId = openraft::LogId<u64>;
/// A storage error as openraft expects it.
pub type StorageError = openraft::StorageError<u64>;
