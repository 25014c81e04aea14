//! What every handler shares: Raft, the state store, the agent's configuration and local state.

use crate::response_cache::ResponseCache;
use senate_agent::config::AgentConfig;
use senate_agent::events::EventBuffer;
use senate_agent::local_agent::LocalAgent;
use senate_consensus::leader_duties::SessionTimers;
use senate_consensus::RaftNode;
use senate_state::Store;
use std::sync::Arc;

/// Shared by all requests.
pub struct Context {
    pub config: Arc<AgentConfig>,
    pub raft: Arc<RaftNode>,
    pub events: EventBuffer,
    pub session_timers: Arc<SessionTimers>,
    pub agent: Arc<LocalAgent>,
    /// Rendered bodies of large reads, shared by clients asking the same thing at the same index.
    pub responses: ResponseCache,
    /// Reads the configuration files again (for `/v1/agent/reload`).
    pub reload_config: ConfigLoader,
}

/// Re-reads the agent's configuration from its original sources.
pub type ConfigLoader = Box<dyn Fn() -> Result<AgentConfig, String> + Send + Sync>;

impl Context {
    /// The replicated state store.
    pub fn store(&self) -> &Arc<Store> {
        self.raft.store()
    }
}
