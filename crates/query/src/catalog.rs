//! Catalog reads: the nodes, the services, one service's instances, one node's services; and
//! the JSON shapes Consul gives them.

use crate::filters::{has_all_tags, NodeMetaFilter};
use crate::query::Answer;
use crate::render::json_bytes;
use senate_coordinate::distance_rank;
use senate_state::Tables;
use senate_types::catalog::{HealthCheck, Node, ServiceInstance, Weights};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The nodes carrying the wanted metadata, nearest to `near` first when given.
pub fn nodes(
    tables: &Tables,
    node_meta: &NodeMetaFilter,
    near: Option<&str>,
    pretty: bool,
) -> Answer {
    let (index, nodes) = tables.nodes();
    let mut kept: Vec<&Node> = nodes.into_iter().filter(|n| node_meta.matches(n)).collect();
    sort_near(tables, near, &mut kept, |node| node.node.as_str());
    Answer::found(index, json_bytes(&kept, pretty))
}

/// Which instances `/v1/catalog/service/<name>` lists, and in what order.
pub struct Wanted<'a> {
    pub tags: &'a [String],
    pub node_meta: &'a NodeMetaFilter,
    /// The node whose nearest instances come first.
    pub near: Option<&'a str>,
}

/// Each service name with its tags (only instances on nodes with the wanted metadata count).
pub fn services(tables: &Tables, node_meta: &NodeMetaFilter, pretty: bool) -> Answer {
    let (index, names) = match node_meta.is_empty() {
        true => tables.service_names(),
        false => services_on_matching_nodes(tables, node_meta),
    };
    Answer::found(index, json_bytes(&names, pretty))
}

fn services_on_matching_nodes(
    tables: &Tables,
    node_meta: &NodeMetaFilter,
) -> (u64, BTreeMap<String, Vec<String>>) {
    let (index, all) = tables.service_names();
    let mut names = BTreeMap::new();
    for name in all.keys() {
        let (_, instances) = tables.service_instances(name);
        let mut tags: Vec<String> = instances
            .iter()
            .filter(|(node, _)| node_meta.matches(node))
            .flat_map(|(_, service)| service.tags.iter().cloned())
            .collect();
        if instances.iter().any(|(node, _)| node_meta.matches(node)) {
            tags.sort();
            tags.dedup();
            names.insert(name.clone(), tags);
        }
    }
    (index, names)
}

/// One instance in `/v1/catalog/service/<name>`'s flat shape.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct CatalogService<'a> {
    #[serde(rename = "ID")]
    id: &'a str,
    node: &'a str,
    address: &'a str,
    datacenter: &'a str,
    tagged_addresses: &'a BTreeMap<String, String>,
    node_meta: &'a BTreeMap<String, String>,
    service_kind: &'static str,
    #[serde(rename = "ServiceID")]
    service_id: &'a str,
    service_name: &'a str,
    service_tags: &'a [String],
    service_address: &'a str,
    service_weights: Weights,
    service_meta: &'a BTreeMap<String, String>,
    service_port: u16,
    service_enable_tag_override: bool,
    create_index: u64,
    modify_index: u64,
}

impl<'a> CatalogService<'a> {
    fn new(node: &'a Node, service: &'a ServiceInstance) -> Self {
        CatalogService {
            id: &node.id,
            node: &node.node,
            address: &node.address,
            datacenter: &node.datacenter,
            tagged_addresses: &node.tagged_addresses,
            node_meta: &node.meta,
            service_kind: "",
            service_id: &service.id,
            service_name: &service.service,
            service_tags: &service.tags,
            service_address: &service.address,
            service_weights: service.weights,
            service_meta: &service.meta,
            service_port: service.port,
            service_enable_tag_override: service.enable_tag_override,
            create_index: service.create_index,
            modify_index: service.modify_index,
        }
    }
}

/// The instances of `service` with every wanted tag, on nodes with the wanted metadata.
pub fn service(tables: &Tables, service: &str, wanted: &Wanted, pretty: bool) -> Vec<u8> {
    let (_, instances) = tables.service_instances(service);
    let mut view = instances
        .into_iter()
        .filter(|(node, instance)| {
            wanted.node_meta.matches(node) && has_all_tags(&instance.tags, wanted.tags)
        })
        .map(|(node, instance)| CatalogService::new(node, instance))
        .collect::<Vec<_>>();
    sort_near(tables, wanted.near, &mut view, |entry| entry.node);
    json_bytes(&view, pretty)
}

/// Orders `items` by estimated round-trip time from node `near` (nearest first; items whose
/// node has no coordinate last); leaves them as they are without `near` or its coordinate.
pub fn sort_near<T>(
    tables: &Tables,
    near: Option<&str>,
    items: &mut [T],
    node_of: impl Fn(&T) -> &str,
) {
    let Some(origin) = near.and_then(|node| tables.coordinate_of(node)) else {
        return;
    };
    items.sort_by_cached_key(|item| distance_rank(origin, tables.coordinate_of(node_of(item))));
}

/// `/v1/catalog/node/<node>`'s answer.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct NodeServices<'a> {
    node: &'a Node,
    services: BTreeMap<&'a str, &'a ServiceInstance>,
}

/// A node and its services, or `null` when there is no such node (as Consul answers).
pub fn node(tables: &Tables, node: &str, pretty: bool) -> Answer {
    let (index, found) = tables.node_services(node);
    let view = found.map(|(node, services)| NodeServices {
        node,
        services: services.into_iter().map(|s| (s.id.as_str(), s)).collect(),
    });
    Answer::found(index, json_bytes(&view, pretty))
}

/// Everything the catalog holds for one node: its record, services and checks.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeRecord {
    pub node: Option<Node>,
    pub services: Vec<ServiceInstance>,
    pub checks: Vec<HealthCheck>,
}

impl NodeRecord {
    /// Reads a record back from a [`node_record`] answer's body.
    pub fn decode(body: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(body)
    }
}

/// One node's [`NodeRecord`], at the index of the node's last change.
pub fn node_record(tables: &Tables, node: &str) -> Answer {
    let (index, found) = tables.node_services(node);
    let (_, checks) = tables.node_checks(node);
    let record = NodeRecord {
        node: found.as_ref().map(|(node, _)| (*node).clone()),
        services: found
            .map(|(_, services)| services.into_iter().cloned().collect())
            .unwrap_or_default(),
        checks: checks.into_iter().cloned().collect(),
    };
    Answer::found(index, json_bytes(&record, false))
}
