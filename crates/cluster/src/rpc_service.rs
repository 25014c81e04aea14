//! Answers what arrives on the server RPC port: Raft's own messages go to Raft; requests another
//! server forwarded (queries, proposals, renewals, HTTP) are served only while this server leads
//! (otherwise the sender is told to find the leader); a client agent's requests are served as
//! if received here (forwarded on to the leader when they must be); the rest serve bootstrap and
//! leadership transfer.

use crate::error::ClusterError;
use crate::server::ClusterServer;
use crate::wire::{
    self, ForwardedRead, ForwardedRequest, HoldElections, PeerStatus, Proposal, ProposalReply,
    SessionRenewal, CAMPAIGN, CLIENT_HTTP, CLIENT_PROPOSE, CLIENT_READ, CLIENT_RENEW, FORWARD_HTTP,
    HOLD_ELECTIONS, NOT_LEADER, PEER_STATUS, PROPOSE, READ, RENEW_SESSION,
};
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::FutureExt;
use senate_consensus::network::is_raft_kind;
use senate_rpc::{Handler, Kind};
use std::sync::Arc;

/// The RPC port's handler for one server.
pub struct RpcService {
    server: Arc<ClusterServer>,
}

impl RpcService {
    pub fn new(server: Arc<ClusterServer>) -> Arc<Self> {
        Arc::new(RpcService { server })
    }
}

impl Handler for RpcService {
    fn handle(&self, kind: Kind, payload: Bytes) -> BoxFuture<'static, Result<Bytes, String>> {
        let server = self.server.clone();
        async move { answer(&server, kind, &payload).await }.boxed()
    }
}

async fn answer(server: &ClusterServer, kind: Kind, payload: &[u8]) -> Result<Bytes, String> {
    if is_raft_kind(kind) {
        return server.raft().answer_peer(kind, payload).await;
    }
    match kind {
        FORWARD_HTTP => {
            ensure_leader(server)?;
            serve_http(server, wire::decode(payload)?, true).await
        }
        CLIENT_HTTP => serve_http(server, wire::decode(payload)?, false).await,
        CLIENT_READ => {
            let forwarded: ForwardedRead = wire::decode(payload)?;
            let reply = server
                .read(&forwarded.query, &forwarded.options)
                .await
                .map_err(|e| e.to_string())?;
            wire::encode(&reply)
        }
        CLIENT_PROPOSE => {
            let proposal: Proposal = wire::decode(payload)?;
            let reply: ProposalReply = server
                .write(proposal.command)
                .await
                .map_err(|e| e.to_string());
            wire::encode(&reply)
        }
        CLIENT_RENEW => {
            let renewal: SessionRenewal = wire::decode(payload)?;
            let renewed = server
                .renew_session(&renewal.id)
                .await
                .map_err(|e| e.to_string())?;
            wire::encode(&renewed)
        }
        PROPOSE => propose(server, wire::decode(payload)?).await,
        READ => read(server, wire::decode(payload)?).await,
        RENEW_SESSION => {
            let renewal: SessionRenewal = wire::decode(payload)?;
            ensure_leader(server)?;
            wire::encode(&server.renew_here(&renewal.id))
        }
        PEER_STATUS => {
            let initialized = server
                .raft()
                .is_initialized()
                .await
                .map_err(|e| e.to_string())?;
            wire::encode(&PeerStatus { initialized })
        }
        CAMPAIGN => {
            server.campaign().await.map_err(|e| e.to_string())?;
            Ok(Bytes::new())
        }
        HOLD_ELECTIONS => {
            let hold: HoldElections = wire::decode(payload)?;
            hold_elections(server, hold);
            Ok(Bytes::new())
        }
        other => Err(format!("unknown RPC kind {other}")),
    }
}

/// Refuses a leader-only request on a server that is not the leader.
fn ensure_leader(server: &ClusterServer) -> Result<(), String> {
    match server.is_leader() {
        true => Ok(()),
        false => Err(NOT_LEADER.into()),
    }
}

/// Answers an HTTP request with this server's router: as the leader's part of a forward
/// (`as_leader`), or as if a client had sent it here.
async fn serve_http(
    server: &ClusterServer,
    request: ForwardedRequest,
    as_leader: bool,
) -> Result<Bytes, String> {
    let local = server
        .local_http()
        .ok_or("this server is still starting")?
        .clone();
    wire::encode(&local.serve(request, as_leader).await)
}

async fn propose(server: &ClusterServer, proposal: Proposal) -> Result<Bytes, String> {
    ensure_leader(server)?;
    let reply: ProposalReply = server
        .commit_here(proposal.command)
        .await
        .map_err(leader_error_text);
    wire::encode(&reply)
}

async fn read(server: &ClusterServer, forwarded: ForwardedRead) -> Result<Bytes, String> {
    ensure_leader(server)?;
    let reply = server
        .read_here(&forwarded.query, &forwarded.options)
        .await
        .map_err(leader_error_text)?;
    wire::encode(&reply)
}

/// How a failure on this server reads to the server that forwarded the request: losing
/// leadership meanwhile reads as [`NOT_LEADER`], so the sender finds the new leader.
fn leader_error_text(error: ClusterError) -> String {
    match error {
        ClusterError::Consensus(senate_consensus::ConsensusError::NotLeader { .. }) => {
            NOT_LEADER.to_string()
        }
        other => other.to_string(),
    }
}

/// Keeps this server from starting elections for a while, then lets it again.
fn hold_elections(server: &ClusterServer, hold: HoldElections) {
    let raft = server.raft().clone();
    raft.allow_elections(false);
    tokio::spawn(async move {
        tokio::time::sleep(hold.duration).await;
        raft.allow_elections(true);
    });
}
