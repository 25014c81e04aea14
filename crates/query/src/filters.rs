//! Result filters shared by catalog and health reads: `?node-meta=key:value` and `?tag=`.

use senate_state::Tables;
use senate_types::catalog::{HealthCheck, Node};
use serde::{Deserialize, Serialize};

/// Node metadata every listed node must carry (`?node-meta=key:value`, repeatable).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NodeMetaFilter(Vec<(String, String)>);

impl NodeMetaFilter {
    /// Requires every `(key, value)` pair.
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        NodeMetaFilter(pairs)
    }

    /// Whether the filter asks for nothing.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The checks whose nodes carry every required key and value.
    pub fn keep_checks<'a>(
        &self,
        tables: &Tables,
        checks: Vec<&'a HealthCheck>,
    ) -> Vec<&'a HealthCheck> {
        if self.is_empty() {
            return checks;
        }
        checks
            .into_iter()
            .filter(|c| tables.node(&c.node).is_some_and(|n| self.matches(n)))
            .collect()
    }

    /// Whether `node` carries every required key and value.
    pub fn matches(&self, node: &Node) -> bool {
        self.0
            .iter()
            .all(|(key, value)| node.meta.get(key) == Some(value))
    }
}

/// Whether `tags` contains every wanted tag (case-insensitively, as Consul matches tags).
pub fn has_all_tags(tags: &[String], wanted: &[String]) -> bool {
    wanted
        .iter()
        .all(|w| tags.iter().any(|t| t.eq_ignore_ascii_case(w)))
}
