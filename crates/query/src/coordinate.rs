//! Coordinate reads: every node's network coordinate, one node's, and this datacenter's
//! servers' (what `/v1/coordinate/datacenters` lists; Senate has one datacenter and no WAN pool).

use crate::query::Answer;
use crate::render::json_bytes;
use senate_state::coordinate::NodeCoordinate;
use senate_state::Tables;
use serde::Serialize;

/// Every node's coordinates (in `segment` when given), by node name.
pub fn nodes(tables: &Tables, segment: Option<&str>, pretty: bool) -> Answer {
    let (index, coordinates) = tables.coordinates(segment);
    Answer::found(index, json_bytes(&coordinates, pretty))
}

/// One node's coordinates; missing when it has none.
pub fn node(tables: &Tables, node: &str, pretty: bool) -> Answer {
    let (index, coordinates) = tables.node_coordinates(node);
    if coordinates.is_empty() {
        return Answer::missing(index);
    }
    Answer::found(index, json_bytes(&coordinates, pretty))
}

/// One datacenter's entry in `/v1/coordinate/datacenters`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DatacenterMap {
    datacenter: String,
    #[serde(rename = "AreaID")]
    area_id: &'static str,
    coordinates: Vec<NodeCoordinate>,
}

/// This datacenter with its servers' coordinates (servers run the `consul` service), each
/// named `<node>.<datacenter>` as Consul names WAN members.
pub fn datacenters(tables: &Tables, datacenter: &str, pretty: bool) -> Answer {
    let (index, coordinates) = tables.coordinates(Some(""));
    let (_, servers) = tables.service_instances("consul");
    let is_server = |node: &str| servers.iter().any(|(n, _)| n.node == node);
    let coordinates = coordinates
        .into_iter()
        .filter(|c| is_server(&c.node))
        .map(|c| NodeCoordinate {
            node: format!("{}.{datacenter}", c.node),
            ..c.clone()
        })
        .collect();
    let map = DatacenterMap {
        datacenter: datacenter.to_string(),
        area_id: "wan",
        coordinates,
    };
    Answer::found(index, json_bytes(&[map], pretty))
}
