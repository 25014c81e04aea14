//! The options every read takes, as data that travels with a forwarded query: how fresh the
//! answer must be, whether and how long to block, and how to render it.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Consul's default and longest blocking waits.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(5 * 60);
pub const MAX_WAIT: Duration = Duration::from_secs(10 * 60);

/// How fresh a read must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Consistency {
    /// Served by the leader from its state, while its lease holds.
    Default,
    /// Served by any server, however stale (within `max_stale`, when given).
    Stale,
    /// The leader first confirms with a quorum that it still leads.
    Consistent,
}

impl Consistency {
    /// The value Consul puts in `X-Consul-Effective-Consistency`.
    pub fn header_value(self) -> &'static str {
        match self {
            Consistency::Default => "leader",
            Consistency::Stale => "stale",
            Consistency::Consistent => "consistent",
        }
    }
}

/// The options of one read.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct QueryOptions {
    pub consistency: Consistency,
    /// Block until the result's index exceeds this (0: do not block).
    pub min_index: u64,
    pub wait: Duration,
    pub pretty: bool,
    /// With `?stale`: the longest a server may have gone without hearing from the leader and
    /// still answer; beyond it the read goes to the leader.
    pub max_stale: Option<Duration>,
}

impl Default for QueryOptions {
    fn default() -> Self {
        QueryOptions {
            consistency: Consistency::Default,
            min_index: 0,
            wait: DEFAULT_WAIT,
            pretty: false,
            max_stale: None,
        }
    }
}

impl QueryOptions {
    /// Whether the read blocks.
    pub fn blocks(&self) -> bool {
        self.min_index > 0
    }

    /// The longest a blocking read may take to answer: its wait plus the jitter Consul adds.
    pub fn longest_wait(&self) -> Duration {
        match self.blocks() {
            true => self.wait + self.wait / 16,
            false => Duration::ZERO,
        }
    }
}
