//! The messages servers exchange over the RPC port besides Raft's own, and their RPC kinds.
//! Every payload is bincode; the RPC frame carries the protocol version.

use bytes::Bytes;
use senate_query::{Query, QueryOptions};
use senate_rpc::Kind;
use senate_state::{Command, Outcome};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// An HTTP request a follower hands to the leader to answer.
pub const FORWARD_HTTP: Kind = 10;
/// A command a follower hands to the leader to commit.
pub const PROPOSE: Kind = 11;
/// Whether a server already has a Raft configuration (asked before bootstrapping).
pub const PEER_STATUS: Kind = 12;
/// Asks a server to win an election now (leadership transfer).
pub const CAMPAIGN: Kind = 13;
/// Asks a server not to start elections for a while (leadership transfer to another).
pub const HOLD_ELECTIONS: Kind = 14;
/// A query a server hands to the leader to answer.
pub const READ: Kind = 15;
/// A session renewal a server hands to the leader.
pub const RENEW_SESSION: Kind = 16;
/// A client agent's query for any server, which forwards it to the leader when it must.
pub const CLIENT_READ: Kind = 17;
/// A client agent's command for any server, which hands it to the leader.
pub const CLIENT_PROPOSE: Kind = 18;
/// A client agent's session renewal for any server, which hands it to the leader.
pub const CLIENT_RENEW: Kind = 19;
/// A client agent's HTTP request for any server to answer as if it had received it.
pub const CLIENT_HTTP: Kind = 20;

/// The text a server answers a leader-only request with when it is not the leader; the sender
/// looks for the new leader and tries again.
pub const NOT_LEADER: &str = "not the Raft leader";

/// An HTTP request as data.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ForwardedRequest {
    pub method: String,
    /// Path and query string.
    pub uri: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Bytes,
}

/// The leader's answer to a [`ForwardedRequest`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ForwardedResponse {
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Bytes,
}

/// A follower's command for the leader.
#[derive(Debug, Serialize, Deserialize)]
pub struct Proposal {
    pub command: Command,
}

/// What the leader made of a [`Proposal`].
pub type ProposalReply = Result<Outcome, String>;

/// A query for the leader, with the options it runs under.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ForwardedRead {
    pub query: Query,
    pub options: QueryOptions,
}

/// A session for the leader to renew.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SessionRenewal {
    pub id: String,
}

/// A server's answer to [`PEER_STATUS`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PeerStatus {
    pub initialized: bool,
}

/// How long [`HOLD_ELECTIONS`] holds them.
#[derive(Debug, Serialize, Deserialize)]
pub struct HoldElections {
    pub duration: Duration,
}

/// Encodes a message.
pub fn encode<T: Serialize>(value: &T) -> Result<Bytes, String> {
    bincode::serialize(value)
        .map(Bytes::from)
        .map_err(|e| format!("encoding an RPC message: {e}"))
}

/// Decodes a message.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    bincode::deserialize(bytes).map_err(|e| format!("decoding an RPC message: {e}"))
}
