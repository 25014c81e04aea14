//! The commands the Raft log carries, each applied deterministically by the state machine.

use crate::coordinate::NodeCoordinate;
use bytes::Bytes;
use senate_types::catalog::{Deregistration, Registration};
use senate_types::operator::AutopilotConfig;
use senate_types::session::Session;
use serde::{Deserialize, Serialize};

/// How a KV write decides whether to take effect.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KvWriteMode {
    /// Unconditional write.
    Set,
    /// Write only if the key's ModifyIndex equals this (0: only if the key does not exist).
    Cas(u64),
    /// Write and take the lock for this session.
    Acquire(String),
    /// Write and give up the lock held by this session.
    Release(String),
}

/// How a KV delete chooses what to remove.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KvDeleteMode {
    /// The one key.
    Key,
    /// Every key starting with the given one.
    Tree,
    /// The one key, only if its ModifyIndex equals this.
    Cas(u64),
}

/// A change to replicated state, as stored in the Raft log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Command {
    KvPut {
        key: String,
        value: Bytes,
        flags: u64,
        mode: KvWriteMode,
    },
    KvDelete {
        key: String,
        mode: KvDeleteMode,
    },
    SessionCreate(Session),
    SessionDestroy {
        id: String,
    },
    /// Registers (or updates) a node, optionally a service on it, and checks.
    Register(Registration),
    /// Removes a node, a service or a check.
    Deregister(Deregistration),
    /// Forgets KV tombstones at or below this index.
    ReapTombstones {
        up_to: u64,
    },
    /// Sets autopilot's configuration; with `cas`, only if its ModifyIndex equals it.
    AutopilotSetConfig {
        config: AutopilotConfig,
        cas: Option<u64>,
    },
    /// Several commands proposed together, applied in order at one index.
    Batch(Vec<Command>),
    /// Sets nodes' network coordinates (ignoring nodes the catalog does not hold).
    CoordinateUpdate(Vec<NodeCoordinate>),
}

/// What applying a command produced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// The command took effect (or was a no-op that needs no answer).
    Done,
    /// A conditional write's answer: whether it took effect.
    Applied(bool),
    /// The command was refused as invalid; nothing changed.
    Rejected(String),
    /// The outcomes of a [`Command::Batch`], in order.
    Batch(Vec<Outcome>),
}
