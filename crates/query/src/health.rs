//! Health reads: the checks of a node, of a service, in a state, and each instance of a
//! service with its node and every check bearing on it.

use crate::catalog::sort_near;
use crate::filters::{has_all_tags, NodeMetaFilter};
use crate::query::Answer;
use crate::render::json_bytes;
use senate_state::catalog::ServiceHealth;
use senate_state::Tables;
use senate_types::catalog::CheckStatus;

/// The checks of `node`.
pub fn node(tables: &Tables, node: &str, pretty: bool) -> Answer {
    let (index, checks) = tables.node_checks(node);
    Answer::found(index, json_bytes(&checks, pretty))
}

/// The checks of `service`'s instances, on nodes with the wanted metadata.
pub fn service_checks(
    tables: &Tables,
    service: &str,
    node_meta: &NodeMetaFilter,
    near: Option<&str>,
    pretty: bool,
) -> Answer {
    let (index, checks) = tables.service_checks(service);
    let mut kept = node_meta.keep_checks(tables, checks);
    sort_near(tables, near, &mut kept, |check| check.node.as_str());
    Answer::found(index, json_bytes(&kept, pretty))
}

/// Which instances `/v1/health/service/<name>` lists.
pub struct Wanted<'a> {
    pub tags: &'a [String],
    pub node_meta: &'a NodeMetaFilter,
    /// Only instances whose every check passes (`?passing`).
    pub passing_only: bool,
    /// The node whose nearest instances come first.
    pub near: Option<&'a str>,
}

/// The wanted instances of `service`, each with its node and checks.
pub fn service(tables: &Tables, service: &str, wanted: &Wanted, pretty: bool) -> Vec<u8> {
    let (_, entries) = tables.service_health(service);
    let mut kept = entries
        .into_iter()
        .filter(|e| wanted.node_meta.matches(e.node) && has_all_tags(&e.service.tags, wanted.tags))
        .filter(|e| !wanted.passing_only || all_passing(e))
        .collect::<Vec<_>>();
    sort_near(tables, wanted.near, &mut kept, |entry| {
        entry.node.node.as_str()
    });
    json_bytes(&kept, pretty)
}

fn all_passing(entry: &ServiceHealth) -> bool {
    entry
        .checks
        .iter()
        .all(|c| c.status == CheckStatus::Passing)
}

/// The checks in `state` (`None`: any), on nodes with the wanted metadata.
pub fn state(
    tables: &Tables,
    state: Option<CheckStatus>,
    node_meta: &NodeMetaFilter,
    near: Option<&str>,
    pretty: bool,
) -> Answer {
    let (index, checks) = tables.checks_in_state(state);
    let mut kept = node_meta.keep_checks(tables, checks);
    sort_near(tables, near, &mut kept, |check| check.node.as_str());
    Answer::found(index, json_bytes(&kept, pretty))
}
