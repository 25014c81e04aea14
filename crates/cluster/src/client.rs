//! [`ClientAgent`]: the seam on a client agent, which holds no replicated state. Every read,
//! write, session renewal and leader-bound HTTP request goes to one server over RPC; the server
//! is chosen at random among the live servers gossip shows, kept while it answers, replaced
//! when it cannot be reached, and changed every few minutes so clients spread over the servers.

use crate::error::ClusterError;
use crate::members::{servers_in, GossipServer};
use crate::reads::{ReadReply, Renewed};
use crate::server::{remote_or_rpc, remote_text};
use crate::wire::{
    self, ForwardedRead, ForwardedRequest, ForwardedResponse, Proposal, ProposalReply,
    SessionRenewal, CLIENT_HTTP, CLIENT_PROPOSE, CLIENT_READ, CLIENT_RENEW,
};
use rand::seq::SliceRandom;
use rand::Rng;
use senate_consensus::RaftTiming;
use senate_gossip::{Gossip, MemberStatus};
use senate_query::{Query, QueryOptions};
use senate_rpc::{Kind, RpcClient, RpcError};
use senate_state::{Command, Outcome};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// How long a client keeps using one server before choosing again (plus up to as much again,
/// at random), as Consul's clients rebalance.
const REBALANCE_AFTER: Duration = Duration::from_secs(120);

/// A client agent's way to the servers of its datacenter.
pub struct ClientAgent {
    rpc: RpcClient,
    gossip: Gossip,
    datacenter: String,
    timing: RaftTiming,
    chosen: Mutex<Option<Choice>>,
    last_reply: Mutex<LastReply>,
}

/// The server in use, and until when.
#[derive(Clone)]
struct Choice {
    server: GossipServer,
    until: Instant,
}

/// What the last server's answer said of its leader.
#[derive(Clone, Copy, Default)]
struct LastReply {
    known_leader: bool,
    last_contact: Duration,
}

/// Whether a request may be sent again after an attempt that failed this way.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Retry {
    /// Only when it surely never arrived (writes: a second arrival could apply twice).
    IfNotSent,
    /// Also when its outcome is unknown (reads).
    Always,
}

impl ClientAgent {
    /// A client agent of `datacenter`, finding servers through `gossip`; `timing` bounds how
    /// long a request waits for a server.
    pub fn new(rpc: RpcClient, gossip: Gossip, datacenter: String, timing: RaftTiming) -> Self {
        ClientAgent {
            rpc,
            gossip,
            datacenter,
            timing,
            chosen: Mutex::new(None),
            last_reply: Mutex::new(LastReply::default()),
        }
    }

    /// The gossip pool.
    pub fn gossip(&self) -> &Gossip {
        &self.gossip
    }

    /// This agent's datacenter.
    pub fn datacenter(&self) -> &str {
        &self.datacenter
    }

    /// The servers of this datacenter that gossip knows.
    pub fn gossip_servers(&self) -> Vec<GossipServer> {
        servers_in(&self.gossip.members(), &self.datacenter)
    }

    /// Whether the last server that answered knew a leader, and how long ago it heard from it.
    pub fn leader_seen(&self) -> (bool, Duration) {
        let last = *lock(&self.last_reply);
        (last.known_leader, last.last_contact)
    }

    /// Answers `query` on a server (which forwards it to its leader when it must).
    pub async fn read(
        &self,
        query: &Query,
        options: &QueryOptions,
    ) -> Result<ReadReply, ClusterError> {
        let request = ForwardedRead {
            query: query.clone(),
            options: options.clone(),
        };
        let timeout = options.longest_wait() + self.timing.hold_timeout() * 3;
        let reply: ReadReply = self
            .call(CLIENT_READ, &request, timeout, Retry::Always)
            .await?;
        *lock(&self.last_reply) = LastReply {
            known_leader: reply.known_leader,
            last_contact: reply.last_contact,
        };
        Ok(reply)
    }

    /// Commits `command` through a server.
    pub async fn write(&self, command: Command) -> Result<Outcome, ClusterError> {
        let timeout = self.timing.hold_timeout() * 3;
        let reply: ProposalReply = self
            .call(
                CLIENT_PROPOSE,
                &Proposal { command },
                timeout,
                Retry::IfNotSent,
            )
            .await?;
        reply.map_err(remote_text)
    }

    /// Renews a session on the leader, through a server.
    pub async fn renew_session(&self, id: &str) -> Result<Renewed, ClusterError> {
        let renewal = SessionRenewal { id: id.to_string() };
        let timeout = self.timing.hold_timeout() * 3;
        self.call(CLIENT_RENEW, &renewal, timeout, Retry::Always)
            .await
    }

    /// Has a server answer an HTTP request this agent cannot (operator and status endpoints).
    pub async fn forward_http(
        &self,
        request: &ForwardedRequest,
        timeout: Duration,
    ) -> Result<ForwardedResponse, ClusterError> {
        let retry = match request.method.as_str() {
            "GET" | "HEAD" => Retry::Always,
            _ => Retry::IfNotSent,
        };
        self.call(CLIENT_HTTP, request, timeout, retry).await
    }

    /// Sends `request` to a server, trying others (within the hold timeout) while the chosen
    /// one cannot be reached.
    async fn call<Request: Serialize, Reply: DeserializeOwned>(
        &self,
        kind: Kind,
        request: &Request,
        timeout: Duration,
        retry: Retry,
    ) -> Result<Reply, ClusterError> {
        let payload = wire::encode(request).map_err(ClusterError::Remote)?;
        let deadline = Instant::now() + self.timing.hold_timeout();
        loop {
            let server = self.server(deadline).await?;
            let attempt = self
                .rpc
                .call(&server.node.address, kind, payload.clone(), timeout)
                .await;
            match attempt {
                Ok(reply) => return wire::decode(&reply).map_err(ClusterError::Remote),
                Err(error) if is_transport(&error) => {
                    self.forget(&server);
                    let may_retry = retry == Retry::Always || never_sent(&error);
                    if !may_retry || Instant::now() >= deadline {
                        return Err(ClusterError::Rpc(error));
                    }
                    tracing::debug!(server = %server.node.name, %error, "trying another server");
                }
                Err(error) => return Err(remote_or_rpc(error)),
            }
        }
    }

    /// The server to use now: the chosen one while it is alive and its time lasts, else a
    /// live one at random; waits (until `deadline`) for gossip to show one.
    async fn server(&self, deadline: Instant) -> Result<GossipServer, ClusterError> {
        loop {
            if let Some(server) = self.current_or_new() {
                return Ok(server);
            }
            if Instant::now() >= deadline {
                return Err(ClusterError::NoServers);
            }
            tokio::time::sleep(self.timing.heartbeat).await;
        }
    }

    fn current_or_new(&self) -> Option<GossipServer> {
        let alive: Vec<GossipServer> = self
            .gossip_servers()
            .into_iter()
            .filter(|s| s.status == MemberStatus::Alive)
            .collect();
        let mut chosen = lock(&self.chosen);
        if let Some(choice) = chosen.as_ref() {
            let still_alive = alive.iter().any(|s| s.node.id == choice.server.node.id);
            if still_alive && Instant::now() < choice.until {
                return Some(choice.server.clone());
            }
        }
        let server = alive.choose(&mut rand::thread_rng())?.clone();
        let keep_for = REBALANCE_AFTER.mul_f64(1.0 + rand::thread_rng().gen::<f64>());
        *chosen = Some(Choice {
            server: server.clone(),
            until: Instant::now() + keep_for,
        });
        Some(server)
    }

    /// Stops using `server` (it could not be reached); the next call chooses another.
    fn forget(&self, server: &GossipServer) {
        let mut chosen = lock(&self.chosen);
        if chosen
            .as_ref()
            .is_some_and(|c| c.server.node.id == server.node.id)
        {
            *chosen = None;
        }
    }

    /// Leaves the gossip pool gracefully.
    pub async fn leave(&self) -> Result<(), ClusterError> {
        self.gossip
            .leave()
            .await
            .map_err(|e| ClusterError::Remote(format!("leaving the gossip pool: {e}")))
    }
}

/// Failures of the connection rather than of the request.
fn is_transport(error: &RpcError) -> bool {
    matches!(
        error,
        RpcError::Unreachable { .. } | RpcError::ConnectionLost { .. } | RpcError::Timeout { .. }
    )
}

/// Whether the request surely never reached the server.
fn never_sent(error: &RpcError) -> bool {
    matches!(error, RpcError::Unreachable { .. })
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}
