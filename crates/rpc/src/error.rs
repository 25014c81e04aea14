//! What an RPC call can fail with.

use std::time::Duration;

/// Why a call did not produce the peer handler's answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RpcError {
    /// No connection could be made to the peer (refused, no route, connect timeout).
    #[error("cannot reach {address}: {reason}")]
    Unreachable { address: String, reason: String },
    /// No answer arrived within the call's timeout.
    #[error("call to {address} timed out after {after:?}")]
    Timeout { address: String, after: Duration },
    /// The connection broke while the call was in flight.
    #[error("connection to {address} was lost with the call in flight")]
    ConnectionLost { address: String },
    /// The peer's handler answered with an error.
    #[error("remote error: {0}")]
    Remote(String),
    /// The peer speaks another protocol version.
    #[error("{address} speaks RPC protocol version {theirs}, this server speaks {ours}", ours = crate::PROTOCOL_VERSION)]
    VersionMismatch { address: String, theirs: u8 },
    /// A frame (ours to send, or one the peer sent) exceeds the frame limit.
    #[error("frame of {size} bytes to or from {address} exceeds the limit of {max} bytes")]
    FrameTooLarge {
        address: String,
        size: usize,
        max: usize,
    },
    /// The peer closed the connection, saying why (it judged our frames malformed).
    #[error("{address} closed the connection: {reason}")]
    Rejected { address: String, reason: String },
}
