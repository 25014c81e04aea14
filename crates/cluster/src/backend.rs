//! [`Backend`]: what the HTTP API and the local agent call, whatever this agent is — a server
//! (answering from its replica, or through its leader) or a client agent (through a server).

use crate::client::ClientAgent;
use crate::error::ClusterError;
use crate::members::GossipServer;
use crate::reads::{ReadReply, Renewed};
use crate::server::ClusterServer;
use crate::wire::{ForwardedRequest, ForwardedResponse};
use senate_gossip::Gossip;
use senate_query::{Query, QueryOptions};
use senate_state::{Command, Outcome};
use std::sync::Arc;
use std::time::Duration;

/// This agent's way to the replicated state.
#[derive(Clone)]
pub enum Backend {
    Server(Arc<ClusterServer>),
    Client(Arc<ClientAgent>),
}

/// What the agent knows of the leader, for `X-Consul-KnownLeader` and `X-Consul-LastContact`.
#[derive(Clone, Copy, Debug)]
pub struct LeaderSeen {
    pub known: bool,
    pub last_contact: Duration,
}

impl Backend {
    /// Answers `query` under `options`.
    pub async fn read(
        &self,
        query: &Query,
        options: &QueryOptions,
    ) -> Result<ReadReply, ClusterError> {
        match self {
            Backend::Server(server) => server.read(query, options).await,
            Backend::Client(client) => client.read(query, options).await,
        }
    }

    /// Commits `command` and returns its outcome.
    pub async fn write(&self, command: Command) -> Result<Outcome, ClusterError> {
        match self {
            Backend::Server(server) => server.write(command).await,
            Backend::Client(client) => client.write(command).await,
        }
    }

    /// Renews a session (on the leader).
    pub async fn renew_session(&self, id: &str) -> Result<Renewed, ClusterError> {
        match self {
            Backend::Server(server) => server.renew_session(id).await,
            Backend::Client(client) => client.renew_session(id).await,
        }
    }

    /// Has the server that must answer `request` answer it: the leader, from a server
    /// (`None` when this server is the leader); any server, from a client agent.
    pub async fn forward_http(
        &self,
        request: &ForwardedRequest,
        timeout: Duration,
    ) -> Result<Option<ForwardedResponse>, ClusterError> {
        match self {
            Backend::Server(server) => server.forward_to_leader(request, timeout).await,
            Backend::Client(client) => client.forward_http(request, timeout).await.map(Some),
        }
    }

    /// The server, when this agent is one.
    pub fn server(&self) -> Option<&Arc<ClusterServer>> {
        match self {
            Backend::Server(server) => Some(server),
            Backend::Client(_) => None,
        }
    }

    /// The gossip pool.
    pub fn gossip(&self) -> &Gossip {
        match self {
            Backend::Server(server) => server.gossip(),
            Backend::Client(client) => client.gossip(),
        }
    }

    /// The servers of this datacenter that gossip knows.
    pub fn gossip_servers(&self) -> Vec<GossipServer> {
        match self {
            Backend::Server(server) => server.gossip_servers(),
            Backend::Client(client) => client.gossip_servers(),
        }
    }

    /// What this agent knows of the leader: a server's own view; on a client agent, what the
    /// last server that answered it knew.
    pub fn leader_seen(&self) -> LeaderSeen {
        match self {
            Backend::Server(server) => {
                let view = server.leadership();
                LeaderSeen {
                    known: view.leader.is_some(),
                    last_contact: view.since_last_contact(),
                }
            }
            Backend::Client(client) => {
                let (known, last_contact) = client.leader_seen();
                LeaderSeen {
                    known,
                    last_contact,
                }
            }
        }
    }

    /// Leaves the cluster gracefully.
    pub async fn leave(&self) -> Result<(), ClusterError> {
        match self {
            Backend::Server(server) => server.leave().await,
            Backend::Client(client) => client.leave().await,
        }
    }
}
