//! Why a cluster operation failed, with what the HTTP layer needs to answer it.

use senate_consensus::ConsensusError;
use senate_rpc::RpcError;

/// A failed write, forward or membership change.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// No leader was known within the hold timeout.
    #[error("No cluster leader")]
    NoLeader,
    /// A client agent knows no live server to send the request to.
    #[error("No known Consul servers")]
    NoServers,
    /// The request was sent but its outcome is unknown (the leader died or timed out).
    #[error("rpc error making call: {0}")]
    Rpc(#[from] RpcError),
    /// The leader answered with an error.
    #[error("{0}")]
    Remote(String),
    /// The request is wrong (an unknown peer, an invalid target).
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Consensus(ConsensusError),
}

impl From<ConsensusError> for ClusterError {
    fn from(error: ConsensusError) -> Self {
        match error {
            ConsensusError::NoLeader => ClusterError::NoLeader,
            other => ClusterError::Consensus(other),
        }
    }
}
