//! [`Query`]: one read of the replicated state, as data — what it reads, with every parameter
//! that shapes its answer — and the watch topics that wake it when blocking.

use crate::cache::ResponseCache;
use crate::filters::NodeMetaFilter;
use crate::{catalog, coordinate, health, kv, session};
use bytes::Bytes;
use senate_state::{Tables, Topic};
use senate_types::catalog::CheckStatus;
use serde::{Deserialize, Serialize};

/// A read of the state tables.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Query {
    /// `/v1/kv/<key>`: one entry, as JSON or (`raw`) its bare value.
    KvEntry { key: String, raw: bool },
    /// `/v1/kv/<prefix>?recurse`.
    KvTree { prefix: String },
    /// `/v1/kv/<prefix>?keys[&separator=]`.
    KvKeys { prefix: String, separator: String },
    /// `/v1/catalog/nodes`, nearest to `near` first when given.
    CatalogNodes {
        node_meta: NodeMetaFilter,
        near: Option<String>,
    },
    /// `/v1/catalog/services`.
    CatalogServices { node_meta: NodeMetaFilter },
    /// `/v1/catalog/service/<service>`, nearest to `near` first when given.
    CatalogService {
        service: String,
        tags: Vec<String>,
        node_meta: NodeMetaFilter,
        near: Option<String>,
    },
    /// `/v1/catalog/node/<node>`.
    CatalogNode { node: String },
    /// What the catalog holds for one node, for the agent's anti-entropy (not an HTTP
    /// endpoint): a [`crate::catalog::NodeRecord`] as JSON.
    NodeRecord { node: String },
    /// `/v1/health/node/<node>`.
    HealthNode { node: String },
    /// `/v1/health/checks/<service>`, nearest to `near` first when given.
    HealthServiceChecks {
        service: String,
        node_meta: NodeMetaFilter,
        near: Option<String>,
    },
    /// `/v1/health/service/<service>`, nearest to `near` first when given.
    HealthService {
        service: String,
        tags: Vec<String>,
        node_meta: NodeMetaFilter,
        passing_only: bool,
        near: Option<String>,
    },
    /// `/v1/health/state/<state>` (`None`: any), nearest to `near` first when given.
    HealthState {
        state: Option<CheckStatus>,
        node_meta: NodeMetaFilter,
        near: Option<String>,
    },
    /// `/v1/session/info/<id>`.
    SessionInfo { id: String },
    /// `/v1/session/node/<node>`.
    SessionsOfNode { node: String },
    /// `/v1/session/list`.
    Sessions,
    /// `/v1/coordinate/nodes` (one segment, or all).
    CoordinateNodes { segment: Option<String> },
    /// `/v1/coordinate/node/<node>`.
    CoordinateNode { node: String },
    /// `/v1/coordinate/datacenters`: this datacenter's servers.
    CoordinateDatacenters { datacenter: String },
}

/// What a query found: the index it was read at and its rendered body, `None` when what it
/// names does not exist (a 404).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub index: u64,
    pub body: Option<Bytes>,
}

impl Answer {
    /// An answer with a body.
    pub fn found(index: u64, body: impl Into<Bytes>) -> Self {
        Answer {
            index,
            body: Some(body.into()),
        }
    }

    /// An answer saying nothing was there.
    pub fn missing(index: u64) -> Self {
        Answer { index, body: None }
    }
}

impl Query {
    /// The topics whose changes may change this query's answer.
    pub fn topics(&self) -> Vec<Topic> {
        match self {
            Query::KvEntry { key, .. } => vec![Topic::Key(key.clone())],
            Query::KvTree { prefix } | Query::KvKeys { prefix, .. } => {
                vec![Topic::KeyPrefix(prefix.clone())]
            }
            Query::CatalogNodes { .. } => vec![Topic::Nodes],
            Query::CatalogServices { .. } => vec![Topic::Services, Topic::Nodes],
            Query::CatalogService { service, .. }
            | Query::HealthServiceChecks { service, .. }
            | Query::HealthService { service, .. } => vec![Topic::Service(service.clone())],
            Query::CatalogNode { node }
            | Query::NodeRecord { node }
            | Query::HealthNode { node } => vec![Topic::Node(node.clone())],
            Query::HealthState { .. } => vec![Topic::Checks],
            Query::SessionInfo { .. } | Query::SessionsOfNode { .. } | Query::Sessions => {
                vec![Topic::Sessions]
            }
            Query::CoordinateNodes { .. } | Query::CoordinateNode { .. } => {
                vec![Topic::Coordinates]
            }
            Query::CoordinateDatacenters { .. } => vec![Topic::Coordinates, Topic::Services],
        }
    }

    /// Runs the query against one version of the tables, rendering JSON compact or `pretty`;
    /// the largest answers are shared through `cache`.
    pub fn run(&self, tables: &Tables, pretty: bool, cache: &ResponseCache) -> Answer {
        match self {
            Query::KvEntry { key, raw } => kv::entry(tables, key, *raw, pretty),
            Query::KvTree { prefix } => kv::tree(tables, prefix, pretty),
            Query::KvKeys { prefix, separator } => kv::keys(tables, prefix, separator, pretty),
            Query::CatalogNodes { node_meta, near } => {
                catalog::nodes(tables, node_meta, near.as_deref(), pretty)
            }
            Query::CatalogServices { node_meta } => catalog::services(tables, node_meta, pretty),
            Query::CatalogService {
                service,
                tags,
                node_meta,
                near,
            } => {
                let index = tables.service_read_index(service);
                let body = cache.get_or_render(self, pretty, index, || {
                    let wanted = catalog::Wanted {
                        tags,
                        node_meta,
                        near: near.as_deref(),
                    };
                    catalog::service(tables, service, &wanted, pretty)
                });
                Answer::found(index, body)
            }
            Query::CatalogNode { node } => catalog::node(tables, node, pretty),
            Query::NodeRecord { node } => catalog::node_record(tables, node),
            Query::HealthNode { node } => health::node(tables, node, pretty),
            Query::HealthServiceChecks {
                service,
                node_meta,
                near,
            } => health::service_checks(tables, service, node_meta, near.as_deref(), pretty),
            Query::HealthService {
                service,
                tags,
                node_meta,
                passing_only,
                near,
            } => {
                let index = tables.service_read_index(service);
                let body = cache.get_or_render(self, pretty, index, || {
                    let wanted = health::Wanted {
                        tags,
                        node_meta,
                        passing_only: *passing_only,
                        near: near.as_deref(),
                    };
                    health::service(tables, service, &wanted, pretty)
                });
                Answer::found(index, body)
            }
            Query::HealthState {
                state,
                node_meta,
                near,
            } => health::state(tables, *state, node_meta, near.as_deref(), pretty),
            Query::SessionInfo { id } => session::info(tables, id, pretty),
            Query::SessionsOfNode { node } => session::of_node(tables, node, pretty),
            Query::Sessions => session::list(tables, pretty),
            Query::CoordinateNodes { segment } => {
                coordinate::nodes(tables, segment.as_deref(), pretty)
            }
            Query::CoordinateNode { node } => coordinate::node(tables, node, pretty),
            Query::CoordinateDatacenters { datacenter } => {
                coordinate::datacenters(tables, datacenter, pretty)
            }
        }
    }
}
