//! openraft's type parameters for Senate: commands in, outcomes out, servers named by their
//! node ID, node name and RPC address.

use senate_state::{Command, Outcome};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::io::Cursor;

/// The version of the log-entry and snapshot encodings written by this release. Every stored
/// entry and snapshot starts with it, so a later release can still read what this one wrote.
pub const STORAGE_FORMAT_VERSION: u8 = 1;

/// One server in the Raft membership, as Consul names it.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ServerNode {
    /// The server's node ID (a UUID).
    pub id: String,
    /// The server's node name.
    pub name: String,
    /// Where the server's RPC port is reached (`ip:port`).
    pub address: String,
}

impl fmt::Display for ServerNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}, {})", self.name, self.id, self.address)
    }
}

/// The numeric Raft ID of a server: the first 64 bits of its node ID (a UUID). A node ID that is
/// not a UUID is hashed instead.
pub fn raft_id(node_id: &str) -> u64 {
    match uuid::Uuid::parse_str(node_id) {
        Ok(uuid) => uuid.as_u64_pair().0,
        Err(_) => fnv1a(node_id.as_bytes()),
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

openraft::declare_raft_types!(
    /// Senate's Raft type configuration.
    pub TypeConfig:
        D = Command,
        R = Outcome,
        NodeId = u64,
        Node = ServerNode,
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
/// A Raft membership of Senate's servers.
pub type Membership = openraft::Membership<u64, ServerNode>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raft_id_takes_the_high_half_of_a_uuid() {
        assert_eq!(raft_id("00000000-0000-0001-ffff-ffffffffffff"), 1);
        assert_ne!(
            raft_id("6f3c2a1e-0000-4000-8000-000000000001"),
            raft_id("6f3c2a1f-0000-4000-8000-000000000001")
        );
    }

    #[test]
    fn raft_id_hashes_other_ids_stably() {
        assert_eq!(raft_id("server-one"), raft_id("server-one"));
        assert_ne!(raft_id("server-one"), raft_id("server-two"));
    }
}
