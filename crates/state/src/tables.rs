//! One immutable version of the replicated state: every table, its indexes, and the Raft index
//! it reflects. Cloning is cheap (persistent maps share structure), which gives lock-free MVCC reads.

use crate::coordinate::CoordinateTable;
use crate::watch::Topic;
use imbl::{OrdMap, OrdSet};
use senate_types::catalog::{HealthCheck, Node, ServiceInstance};
use senate_types::kv::KvEntry;
use senate_types::operator::AutopilotConfig;
use senate_types::session::Session;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// All replicated tables at one Raft index.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Tables {
    /// The Raft index of the last command applied.
    pub applied_index: u64,
    pub(crate) kv: OrdMap<String, KvEntry>,
    /// Deleted keys and the index that deleted them, so prefix reads keep a monotonic index.
    pub(crate) tombstones: OrdMap<String, u64>,
    /// The last index that changed the KV table, deletes included.
    pub(crate) kv_index: u64,
    pub(crate) sessions: OrdMap<String, Session>,
    /// Keys whose lock each session holds.
    pub(crate) session_locks: OrdMap<String, OrdSet<String>>,
    pub(crate) session_index: u64,
    pub(crate) nodes: OrdMap<String, Node>,
    pub(crate) node_index: u64,
    /// Service instances by (node, service ID).
    pub(crate) services: OrdMap<(String, String), ServiceInstance>,
    /// Instances of each service name, by (node, service ID).
    pub(crate) instances_by_name: OrdMap<String, OrdSet<(String, String)>>,
    /// Each service name's tags, with how many instances carry each.
    pub(crate) tags_by_name: OrdMap<String, OrdMap<String, u32>>,
    pub(crate) service_index: u64,
    /// Health checks by (node, check ID).
    pub(crate) checks: OrdMap<(String, String), HealthCheck>,
    pub(crate) check_index: u64,
    /// The last index that changed anything a read of one service name depends on.
    pub(crate) service_name_index: OrdMap<String, u64>,
    /// The last index that changed a node, its services or its checks.
    pub(crate) node_change_index: OrdMap<String, u64>,
    /// Autopilot's configuration once set, with its create and modify indexes.
    pub(crate) autopilot: Option<(AutopilotConfig, u64, u64)>,
    /// Network coordinates. Encoded after the other tables (see [`Tables::encode`]), so
    /// snapshots written before the table existed still decode.
    #[serde(skip)]
    pub(crate) coordinates: CoordinateTable,
}

/// What applying commands changed, beyond the tables themselves.
#[derive(Debug, Default)]
pub struct Changes {
    /// Topics whose subscribers must wake.
    pub topics: Vec<Topic>,
    /// Keys released by invalidated sessions, and how long each must refuse new locks.
    pub lock_delays: Vec<(String, Duration)>,
}

impl Changes {
    pub(crate) fn touch(&mut self, topic: Topic) {
        self.topics.push(topic);
    }
}

/// Why a snapshot could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
#[error("state snapshot codec: {0}")]
pub struct SnapshotError(#[from] bincode::Error);

impl Tables {
    /// Encodes every table for a Raft snapshot: the tables of the first format, then the
    /// sections added since (the coordinate table).
    pub fn encode(&self) -> Result<Vec<u8>, SnapshotError> {
        let mut bytes = bincode::serialize(self)?;
        bincode::serialize_into(&mut bytes, &self.coordinates)?;
        Ok(bytes)
    }

    /// Decodes tables written by [`Tables::encode`], or by a release that wrote only the first
    /// format's tables (the later sections are then empty).
    pub fn decode(bytes: &[u8]) -> Result<Self, SnapshotError> {
        let mut reader = std::io::Cursor::new(bytes);
        let mut tables: Tables = bincode::deserialize_from(&mut reader)?;
        if (reader.position() as usize) < bytes.len() {
            tables.coordinates = bincode::deserialize_from(&mut reader)?;
        }
        Ok(tables)
    }

    /// An index that is never zero: Consul's clients treat 0 as "no index yet".
    pub(crate) fn at_least_one(index: u64) -> u64 {
        index.max(1)
    }
}

/// Iterates the entries of `map` whose string key starts with `prefix`, in key order.
pub(crate) fn with_prefix<'a, V: Clone>(
    map: &'a OrdMap<String, V>,
    prefix: &'a str,
) -> impl Iterator<Item = (&'a String, &'a V)> + 'a {
    map.range::<_, str>((
        std::ops::Bound::Included(prefix),
        std::ops::Bound::Unbounded,
    ))
    .take_while(move |(key, _)| key.starts_with(prefix))
}
