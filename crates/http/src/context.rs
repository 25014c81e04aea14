//! What every handler shares: the cluster seam (Raft, forwarding, gossip), the state store,
//! the agent's configuration and local state.

use senate_agent::config::AgentConfig;
use senate_agent::events::EventBuffer;
use senate_agent::local_agent::LocalAgent;
use senate_cluster::ClusterServer;
use senate_consensus::RaftNode;
use senate_state::Store;
use std::sync::Arc;

/// Shared by all requests.
pub struct Context {
    pub config: Arc<AgentConfig>,
    pub cluster: Arc<ClusterServer>,
    pub events: EventBuffer,
    pub agent: Arc<LocalAgent>,
    /// Reads the configuration files again (for `/v1/agent/reload`).
    pub reload_config: ConfigLoader,
    /// Notified when the agent should shut down (after `/v1/agent/leave`).
    pub shutdown: Arc<tokio::sync::Notify>,
}

/// Re-reads the agent's configuration from its original sources.
pub type ConfigLoader = Box<dyn Fn() -> Result<AgentConfig, String> + Send + Sync>;

impl Context {
    /// The local replica of the replicated state store.
    pub fn store(&self) -> &Arc<Store> {
        self.cluster.store()
    }

    /// This server's Raft.
    pub fn raft(&self) -> &Arc<RaftNode> {
        self.cluster.raft()
    }
}
