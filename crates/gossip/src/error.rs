//! Why a gossip operation failed, in words an operator can act on.

use crate::cipher::KeyError;
use std::io;
use std::net::SocketAddr;

/// Errors from [`crate::Gossip`].
#[derive(Debug, thiserror::Error)]
pub enum GossipError {
    /// The UDP or TCP socket could not be bound.
    #[error("cannot bind the gossip {protocol} socket on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        protocol: &'static str,
        source: io::Error,
    },
    /// The configuration cannot work (timings, advertise address, node name, tags).
    #[error("invalid gossip configuration: {0}")]
    Config(String),
    /// No address could be joined; the message names every address and why.
    #[error("{0}")]
    Join(String),
    /// A live member already uses this node's name at another address.
    #[error(
        "Member '{name}' has conflicting address {existing}; this node advertises {ours}: \
         give every agent a unique node name, or wait until the old one is marked failed"
    )]
    NameConflict {
        name: String,
        existing: SocketAddr,
        ours: SocketAddr,
    },
    /// `force_leave` named no known member.
    #[error("No node found with name '{0}'")]
    UnknownMember(String),
    /// The encoded tags are larger than gossip can carry.
    #[error("gossip tags take {size} bytes encoded; the limit is {limit}")]
    TagsTooLarge { size: usize, limit: usize },
    /// The encoded user event is larger than one datagram can carry.
    #[error("user event takes {size} bytes encoded; gossip can carry {limit}")]
    EventTooLarge { size: usize, limit: usize },
    /// A gossip encryption key is malformed.
    #[error("invalid encrypt key: {0}")]
    InvalidKey(#[from] KeyError),
    /// The keyring file cannot be read, parsed or written.
    #[error("gossip keyring file: {0}")]
    KeyringFile(String),
    /// A keyring operation on a node without gossip encryption.
    #[error("Gossip encryption is not enabled")]
    KeyringDisabled,
    /// The gossip layer was shut down or has left the cluster.
    #[error("gossip has been shut down")]
    Shutdown,
    /// foca refused an operation (an internal protocol error).
    #[error("gossip protocol: {0}")]
    Protocol(String),
    /// Another I/O failure.
    #[error("gossip I/O: {0}")]
    Io(#[from] io::Error),
}
