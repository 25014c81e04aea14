//! What every handler shares: the cluster seam (Raft, forwarding, gossip), the state store,
//! the agent's configuration and local state.

use crate::error::ApiError;
use senate_agent::config::AgentConfig;
use senate_agent::events::EventBuffer;
use senate_agent::local_agent::LocalAgent;
use senate_agent::monitor::LogMonitor;
use senate_cluster::{Backend, ClusterServer};
use senate_consensus::RaftNode;
use senate_state::Store;
use std::sync::Arc;

/// Shared by all requests.
pub struct Context {
    pub config: Arc<AgentConfig>,
    pub cluster: Backend,
    pub events: Arc<EventBuffer>,
    pub agent: Arc<LocalAgent>,
    /// Reads the configuration files again (for `/v1/agent/reload`).
    pub reload_config: ConfigLoader,
    /// The agent's log watchers (for `/v1/agent/monitor`).
    pub logs: Arc<LogMonitor>,
    /// Notified when the agent should shut down (after `/v1/agent/leave`).
    pub shutdown: Arc<tokio::sync::Notify>,
}

/// Re-reads the agent's configuration from its original sources.
pub type ConfigLoader = Arc<dyn Fn() -> Result<AgentConfig, String> + Send + Sync>;

impl Context {
    /// This agent as a server; the endpoints that call it are answered only by servers (a
    /// client agent relays them to one, see [`crate::forward`]).
    pub fn server(&self) -> Result<&Arc<ClusterServer>, ApiError> {
        self.cluster
            .server()
            .ok_or_else(|| ApiError::internal("this endpoint is answered by servers only"))
    }

    /// The local replica of the replicated state store (servers only).
    pub fn store(&self) -> Result<&Arc<Store>, ApiError> {
        Ok(self.server()?.store())
    }

    /// This server's Raft (servers only).
    pub fn raft(&self) -> Result<&Arc<RaftNode>, ApiError> {
        Ok(self.server()?.raft())
    }
}
