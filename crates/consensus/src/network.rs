//! Raft between servers over the server RPC port: the client side (openraft's network traits,
//! one pooled multiplexed connection per peer) and the server side (answering a peer's vote,
//! append-entries and snapshot-chunk requests). Messages are bincode, tagged by RPC kind.

use crate::type_config::{ServerNode, TypeConfig};
use bytes::Bytes;
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::Raft;
use senate_rpc::{Kind, RpcClient, RpcError};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// RPC kind of an append-entries (and heartbeat) request.
pub const APPEND_ENTRIES: Kind = 1;
/// RPC kind of a vote request.
pub const VOTE: Kind = 2;
/// RPC kind of one chunk of a snapshot being installed.
pub const INSTALL_SNAPSHOT: Kind = 3;

/// When this server last heard back from each peer it sent Raft messages to (on the leader:
/// each follower's last contact, as autopilot reports it).
#[derive(Clone, Default)]
pub struct PeerContacts {
    answered_at: Arc<Mutex<HashMap<u64, Instant>>>,
}

impl PeerContacts {
    fn record(&self, peer: u64) {
        let mut answered = self.answered_at.lock().unwrap_or_else(|p| p.into_inner());
        answered.insert(peer, Instant::now());
    }

    /// How long ago `peer` last answered, if it ever did.
    pub fn since(&self, peer: u64) -> Option<Duration> {
        let answered = self.answered_at.lock().unwrap_or_else(|p| p.into_inner());
        answered.get(&peer).map(Instant::elapsed)
    }
}

/// Hands out connections to peers, all sharing one RPC client pool.
#[derive(Clone)]
pub struct PeerNetwork {
    client: RpcClient,
    contacts: PeerContacts,
}

impl PeerNetwork {
    pub fn new(client: RpcClient, contacts: PeerContacts) -> Self {
        PeerNetwork { client, contacts }
    }
}

/// The way to one peer.
pub struct PeerConnection {
    client: RpcClient,
    target: u64,
    address: String,
    contacts: PeerContacts,
}

impl RaftNetworkFactory<TypeConfig> for PeerNetwork {
    type Network = PeerConnection;

    async fn new_client(&mut self, target: u64, node: &ServerNode) -> Self::Network {
        PeerConnection {
            client: self.client.clone(),
            target,
            address: node.address.clone(),
            contacts: self.contacts.clone(),
        }
    }
}

type RaftRpcError<E> = RPCError<u64, ServerNode, RaftError<u64, E>>;

impl PeerConnection {
    /// Sends one request and decodes the peer's `Result<Response, RaftError>`.
    async fn call<Req, Resp, E>(
        &self,
        kind: Kind,
        request: &Req,
        option: &RPCOption,
    ) -> Result<Resp, RaftRpcError<E>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let payload = encode(request).map_err(network_error)?;
        let reply = self
            .client
            .call(&self.address, kind, payload, option.hard_ttl())
            .await
            .map_err(|error| match error {
                RpcError::Unreachable { .. } => RPCError::Unreachable(Unreachable::new(&error)),
                other => RPCError::Network(NetworkError::new(&other)),
            })?;
        self.contacts.record(self.target);
        let answer: Result<Resp, RaftError<u64, E>> = decode(&reply).map_err(network_error)?;
        answer.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

impl RaftNetwork<TypeConfig> for PeerConnection {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RaftRpcError<openraft::error::Infallible>> {
        self.call(APPEND_ENTRIES, &rpc, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<InstallSnapshotResponse<u64>, RaftRpcError<InstallSnapshotError>> {
        self.call(INSTALL_SNAPSHOT, &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<u64>,
        option: RPCOption,
    ) -> Result<VoteResponse<u64>, RaftRpcError<openraft::error::Infallible>> {
        self.call(VOTE, &rpc, &option).await
    }
}

fn network_error<E: std::error::Error>(text: String) -> RPCError<u64, ServerNode, E> {
    RPCError::Network(NetworkError::new(&std::io::Error::other(text)))
}

/// Whether `kind` is one of Raft's own RPCs.
pub fn is_raft_kind(kind: Kind) -> bool {
    matches!(kind, APPEND_ENTRIES | VOTE | INSTALL_SNAPSHOT)
}

/// Answers a peer's Raft request with this server's Raft.
pub async fn answer(raft: &Raft<TypeConfig>, kind: Kind, payload: &[u8]) -> Result<Bytes, String> {
    match kind {
        APPEND_ENTRIES => encode(&raft.append_entries(decode(payload)?).await),
        VOTE => encode(&raft.vote(decode(payload)?).await),
        INSTALL_SNAPSHOT => encode(&raft.install_snapshot(decode(payload)?).await),
        other => Err(format!("RPC kind {other} is not a Raft request")),
    }
}

fn encode<T: Serialize>(value: &T) -> Result<Bytes, String> {
    bincode::serialize(value)
        .map(Bytes::from)
        .map_err(|e| format!("encoding a Raft message: {e}"))
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    bincode::deserialize(bytes).map_err(|e| format!("decoding a Raft message: {e}"))
}
