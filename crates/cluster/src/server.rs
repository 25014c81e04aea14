//! [`ClusterServer`]: the one seam the HTTP API and the local agent call. Writes are committed
//! locally on the leader or handed to it over RPC; requests only the leader may answer are
//! forwarded to it as data; both wait a bounded time for a leader and follow a change of leader.

use crate::autopilot::StabilityTracker;
use crate::error::ClusterError;
use crate::members::{servers_in, GossipServer};
use crate::wire::{
    self, ForwardedRequest, ForwardedResponse, HoldElections, Proposal, ProposalReply, CAMPAIGN,
    FORWARD_HTTP, HOLD_ELECTIONS, NOT_LEADER, PROPOSE,
};
use futures::future::BoxFuture;
use senate_consensus::leader_duties::SessionTimers;
use senate_consensus::{ConsensusError, LeaderView, RaftNode, RaftServer, ServerNode};
use senate_gossip::Gossip;
use senate_query::ResponseCache;
use senate_rpc::{Kind, RpcClient, RpcError};
use senate_state::command::KvWriteMode;
use senate_state::{Command, Outcome, Store};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::time::Instant;

/// Answers a forwarded HTTP request on this server (the HTTP layer provides it): as the
/// leader's part of a forward (`as_leader`: answer here), or as if a client had sent it here.
pub trait LocalHttp: Send + Sync + 'static {
    fn serve(
        &self,
        request: ForwardedRequest,
        as_leader: bool,
    ) -> BoxFuture<'static, ForwardedResponse>;
}

/// A server: its Raft, its RPC client, its gossip pool and its datacenter.
pub struct ClusterServer {
    raft: Arc<RaftNode>,
    rpc: RpcClient,
    gossip: Gossip,
    datacenter: String,
    local_http: OnceLock<Arc<dyn LocalHttp>>,
    stability: StabilityTracker,
    /// TTL deadlines of sessions, kept while this server leads.
    pub(crate) session_timers: Arc<SessionTimers>,
    /// Rendered bodies of large reads, shared by clients asking the same thing.
    pub(crate) responses: ResponseCache,
}

/// Where a request that only the leader may answer goes now.
enum Route {
    Here,
    Leader(ServerNode),
}

impl ClusterServer {
    pub fn new(raft: Arc<RaftNode>, rpc: RpcClient, gossip: Gossip, datacenter: String) -> Self {
        ClusterServer {
            raft,
            rpc,
            gossip,
            datacenter,
            local_http: OnceLock::new(),
            stability: StabilityTracker::default(),
            session_timers: Arc::default(),
            responses: ResponseCache::default(),
        }
    }

    /// The session TTL timers the leader's duties expire (and a renewal restarts).
    pub fn session_timers(&self) -> &Arc<SessionTimers> {
        &self.session_timers
    }

    /// Installs what answers forwarded HTTP requests here (once, at start-up).
    pub fn set_local_http(&self, local: Arc<dyn LocalHttp>) {
        let _already_set = self.local_http.set(local);
    }

    pub(crate) fn local_http(&self) -> Option<&Arc<dyn LocalHttp>> {
        self.local_http.get()
    }

    /// Autopilot's record of how long each server has been healthy.
    pub(crate) fn stability(&self) -> &StabilityTracker {
        &self.stability
    }

    /// This server's Raft.
    pub fn raft(&self) -> &Arc<RaftNode> {
        &self.raft
    }

    /// The gossip pool.
    pub fn gossip(&self) -> &Gossip {
        &self.gossip
    }

    /// The RPC client pool.
    pub fn rpc(&self) -> &RpcClient {
        &self.rpc
    }

    /// This server's datacenter.
    pub fn datacenter(&self) -> &str {
        &self.datacenter
    }

    /// The local replica of the state tables.
    pub fn store(&self) -> &Arc<Store> {
        self.raft.store()
    }

    /// Who leads, for response headers.
    pub fn leadership(&self) -> Arc<LeaderView> {
        self.raft.leadership()
    }

    /// The servers of this datacenter that gossip knows.
    pub fn gossip_servers(&self) -> Vec<GossipServer> {
        servers_in(&self.gossip.members(), &self.datacenter)
    }

    /// Whether this server answers leader-only requests itself right now.
    pub fn is_leader(&self) -> bool {
        self.raft.is_leader()
    }

    /// Commits `command` and returns its outcome: here when this server leads, else on the leader.
    pub async fn write(&self, command: Command) -> Result<Outcome, ClusterError> {
        let timeout = self.raft.timing().hold_timeout();
        let proposal = Proposal { command };
        self.on_leader(
            || self.commit_here(proposal.command.clone()),
            |leader| {
                let proposal = &proposal;
                async move {
                    let reply: ProposalReply = self
                        .call_leader(&leader, PROPOSE, proposal, timeout)
                        .await?;
                    reply.map_err(remote_text)
                }
            },
        )
        .await
    }

    /// Commits `command` on this server, the leader. Lock delay is decided here, as Consul
    /// decides it on the leader: acquiring a key still in its lock delay fails (`false`).
    pub(crate) async fn commit_here(&self, command: Command) -> Result<Outcome, ClusterError> {
        if let Command::KvPut {
            key,
            mode: KvWriteMode::Acquire(_),
            ..
        } = &command
        {
            if self.store().lock_delay_remaining(key).is_some() {
                return Ok(Outcome::Applied(false));
            }
        }
        self.raft.propose(command).await.map_err(Into::into)
    }

    /// Answers `request` on the leader: `None` when this server is the leader (the caller
    /// answers it itself), else the leader's response. `timeout` bounds the leader's answer.
    pub async fn forward_to_leader(
        &self,
        request: &ForwardedRequest,
        timeout: Duration,
    ) -> Result<Option<ForwardedResponse>, ClusterError> {
        self.on_leader(
            || async { Ok(None) },
            |leader| async move {
                let response = self
                    .call_leader(&leader, FORWARD_HTTP, request, timeout)
                    .await?;
                Ok(Some(response))
            },
        )
        .await
    }

    /// Runs `here` when this server leads, else `there` with the leader; waits (up to the hold
    /// timeout) for a leader to be known, and tries again when the attempt failed because
    /// leadership moved.
    pub(crate) async fn on_leader<T, Here, There>(
        &self,
        mut here: impl FnMut() -> Here,
        mut there: impl FnMut(ServerNode) -> There,
    ) -> Result<T, ClusterError>
    where
        Here: Future<Output = Result<T, ClusterError>>,
        There: Future<Output = Result<T, ClusterError>>,
    {
        let deadline = self.hold_deadline();
        loop {
            let attempt = match self.route(deadline).await? {
                Route::Here => here().await,
                Route::Leader(leader) => there(leader).await,
            };
            match attempt {
                Err(error) if is_retryable(&error) && Instant::now() < deadline => {
                    self.wait_for_change().await
                }
                other => return other,
            }
        }
    }

    /// Sends `request` to the leader as RPC `kind` and decodes its answer.
    pub(crate) async fn call_leader<Request: Serialize, Reply: DeserializeOwned>(
        &self,
        leader: &ServerNode,
        kind: Kind,
        request: &Request,
        timeout: Duration,
    ) -> Result<Reply, ClusterError> {
        let payload = wire::encode(request).map_err(ClusterError::Remote)?;
        let reply = self
            .rpc
            .call(&leader.address, kind, payload, timeout)
            .await
            .map_err(remote_or_rpc)?;
        wire::decode(&reply).map_err(ClusterError::Remote)
    }

    /// Waits (until `deadline`) for a leader, and says whether it is this server.
    async fn route(&self, deadline: Instant) -> Result<Route, ClusterError> {
        loop {
            let view = self.raft.leadership();
            if view.is_leader {
                return Ok(Route::Here);
            }
            if let Some((_, leader)) = &view.leader {
                if leader.id != self.raft.server().id {
                    return Ok(Route::Leader(leader.clone()));
                }
            }
            if Instant::now() >= deadline {
                return Err(ClusterError::NoLeader);
            }
            self.wait_for_change().await;
        }
    }

    pub(crate) fn hold_deadline(&self) -> Instant {
        Instant::now() + self.raft.timing().hold_timeout()
    }

    pub(crate) async fn wait_for_change(&self) {
        tokio::time::sleep(self.raft.timing().heartbeat).await;
    }

    /// Removes a server from the Raft configuration, named by its RPC address or its node ID.
    pub async fn remove_peer(
        &self,
        address: Option<&str>,
        id: Option<&str>,
    ) -> Result<(), ClusterError> {
        let (_, servers) = self.raft.servers();
        let target = servers.iter().find(|server| {
            address == Some(server.node.address.as_str()) || id == Some(server.node.id.as_str())
        });
        let Some(target) = target else {
            let named = match (address, id) {
                (Some(address), _) => format!("address \"{address}\""),
                (None, id) => format!("id \"{}\"", id.unwrap_or_default()),
            };
            return Err(ClusterError::BadRequest(format!(
                "{named} was not found in the Raft configuration"
            )));
        };
        let voters = servers.iter().filter(|s| s.voter).count();
        if target.voter && voters == 1 {
            return Err(ClusterError::BadRequest(
                "cannot remove the last voter from the Raft configuration".into(),
            ));
        }
        if target.raft_id == self.raft.raft_id() {
            self.transfer_leadership(None).await?;
            return self.remove_peer_on_new_leader(target).await;
        }
        self.raft.remove(target.raft_id).await.map_err(Into::into)
    }

    /// A leader removing itself first hands leadership on; the new leader removes it.
    async fn remove_peer_on_new_leader(&self, target: &RaftServer) -> Result<(), ClusterError> {
        let request = ForwardedRequest {
            method: "DELETE".into(),
            uri: format!("/v1/operator/raft/peer?id={}", target.node.id),
            headers: Vec::new(),
            body: Default::default(),
        };
        let timeout = self.raft.timing().hold_timeout();
        match self.forward_to_leader(&request, timeout).await? {
            Some(response) if response.status == 200 => Ok(()),
            Some(response) => Err(ClusterError::Remote(
                String::from_utf8_lossy(&response.body).into_owned(),
            )),
            None => Err(ClusterError::Remote("leadership did not move".into())),
        }
    }

    /// Hands leadership to `target` (a node ID), or to the most up-to-date other voter.
    pub async fn transfer_leadership(
        &self,
        target: Option<&str>,
    ) -> Result<ServerNode, ClusterError> {
        if !self.raft.is_leader() {
            return Err(ClusterError::Remote(NOT_LEADER.into()));
        }
        let (_, servers) = self.raft.servers();
        let others: Vec<&RaftServer> = servers
            .iter()
            .filter(|s| s.voter && s.raft_id != self.raft.raft_id())
            .collect();
        let chosen = match target {
            Some(id) => others
                .iter()
                .find(|s| s.node.id == id)
                .copied()
                .ok_or_else(|| {
                    ClusterError::BadRequest(format!(
                        "cannot find voting server {id:?} to transfer leadership to"
                    ))
                })?,
            None => others
                .iter()
                .max_by_key(|s| s.last_index.unwrap_or(0))
                .copied()
                .ok_or_else(|| {
                    ClusterError::BadRequest(
                        "cannot transfer leadership: there is no other voter".into(),
                    )
                })?,
        };
        let timing = self.raft.timing();
        let hold = timing.election_timeout_max * 10;
        for bystander in others.iter().filter(|s| s.raft_id != chosen.raft_id) {
            let payload =
                wire::encode(&HoldElections { duration: hold }).map_err(ClusterError::Remote)?;
            let _best_effort = self
                .rpc
                .call(
                    &bystander.node.address,
                    HOLD_ELECTIONS,
                    payload,
                    timing.hold_timeout(),
                )
                .await;
        }
        self.raft.pause_heartbeats(true);
        // The target campaigns for up to `hold`; its answer may take a little longer to arrive.
        let answer_within = hold + timing.hold_timeout();
        let campaign = self
            .rpc
            .call(
                &chosen.node.address,
                CAMPAIGN,
                Default::default(),
                answer_within,
            )
            .await;
        self.raft.pause_heartbeats(false);
        campaign.map_err(remote_or_rpc)?;
        Ok(chosen.node.clone())
    }

    /// Leaves the cluster gracefully: a leader first hands on leadership and has itself removed
    /// from the Raft configuration; then gossip announces the leave, and a follower waits (a
    /// bounded time) for the leader to remove it, so the quorum shrinks before it goes.
    pub async fn leave(&self) -> Result<(), ClusterError> {
        let me = self.raft.server().id.clone();
        let in_configuration = |server: &ClusterServer| {
            let (_, servers) = server.raft.servers();
            servers.iter().any(|s| s.node.id == me) && servers.len() > 1
        };
        if self.is_leader() && in_configuration(self) {
            self.remove_peer(None, Some(&me)).await?;
        }
        self.gossip
            .leave()
            .await
            .map_err(|e| ClusterError::Remote(format!("leaving the gossip pool: {e}")))?;
        let deadline = self.hold_deadline();
        while in_configuration(self) && Instant::now() < deadline {
            self.wait_for_change().await;
        }
        Ok(())
    }

    /// Answers a peer's [`CAMPAIGN`]: win an election now.
    pub(crate) async fn campaign(&self) -> Result<(), ConsensusError> {
        let deadline = self.raft.timing().election_timeout_max * 10;
        self.raft.campaign(deadline).await
    }
}

/// A remote handler's text becomes [`ClusterError::Remote`]; transport failures stay RPC errors.
pub(crate) fn remote_or_rpc(error: RpcError) -> ClusterError {
    match error {
        RpcError::Remote(text) => remote_text(text),
        other => ClusterError::Rpc(other),
    }
}

pub(crate) fn remote_text(text: String) -> ClusterError {
    match text.as_str() {
        "No cluster leader" => ClusterError::NoLeader,
        _ => ClusterError::Remote(text),
    }
}

/// Failures that mean the request did not take effect, so it may go to the new leader.
fn is_retryable(error: &ClusterError) -> bool {
    match error {
        ClusterError::NoLeader => true,
        ClusterError::Remote(text) => text == NOT_LEADER,
        ClusterError::Rpc(RpcError::Unreachable { .. }) => true,
        ClusterError::Consensus(ConsensusError::NotLeader { .. }) => true,
        _ => false,
    }
}
