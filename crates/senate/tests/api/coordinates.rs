//! Network coordinates over HTTP: `PUT /v1/coordinate/update` stores a node's coordinate,
//! `/v1/coordinate/nodes` and `/node/<node>` list them, `?near=` orders catalog and health
//! results by estimated round-trip time, and bad updates are refused.

use crate::harness::Server;
use crate::http::Client;
use serde_json::{json, Value};

/// A coordinate `x` seconds from the origin along the first axis.
fn coordinate_at(x: f64) -> Value {
    let mut vec = vec![0.0; 8];
    vec[0] = x;
    json!({ "Vec": vec, "Error": 0.2, "Adjustment": 0.0, "Height": 1e-5 })
}

fn register(client: &mut Client, node: &str) {
    let body = json!({
        "Node": node, "Address": "10.1.1.1",
        "Service": { "Service": "web", "Port": 80 }
    });
    client
        .put("/v1/catalog/register", body.to_string())
        .expect(200);
}

fn update(client: &mut Client, node: &str, x: f64) {
    let body = json!({ "Node": node, "Coord": coordinate_at(x) });
    client
        .put("/v1/coordinate/update", body.to_string())
        .expect(200);
}

fn names(listing: &Value, field: &str) -> Vec<String> {
    listing
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.pointer(field)?.as_str().map(str::to_string))
        .collect()
}

#[test]
fn coordinates_are_stored_listed_and_order_results_by_distance() {
    let server = Server::dev();
    let mut client = server.client();
    for node in ["far", "near", "origin"] {
        register(&mut client, node);
    }
    update(&mut client, "origin", 0.0);
    update(&mut client, "near", 0.002);
    update(&mut client, "far", 0.050);
    update(&mut client, "not-registered", 0.01);

    let all = client.get("/v1/coordinate/nodes").expect(200);
    let listed = all.json();
    assert_eq!(
        names(&listed, "/Node"),
        ["far", "near", "origin"],
        "{listed}"
    );
    assert_eq!(listed[1]["Coord"]["Vec"][0], 0.002);
    assert!(all.index() > 0);
    let one = client.get("/v1/coordinate/node/near").expect(200).json();
    assert_eq!(names(&one, "/Node"), ["near"]);
    assert_eq!(client.get("/v1/coordinate/node/ghost").status, 404);

    let nodes = client
        .get("/v1/catalog/nodes?near=origin")
        .expect(200)
        .json();
    let by_distance = names(&nodes, "/Node");
    assert_eq!(&by_distance[..3], ["origin", "near", "far"], "{nodes}");
    let service = client
        .get("/v1/catalog/service/web?near=far")
        .expect(200)
        .json();
    assert_eq!(names(&service, "/Node"), ["far", "near", "origin"]);
    let health = client
        .get("/v1/health/service/web?near=near")
        .expect(200)
        .json();
    assert_eq!(names(&health, "/Node/Node"), ["near", "origin", "far"]);
}

#[test]
fn bad_coordinate_updates_are_refused() {
    let server = Server::dev();
    let mut client = server.client();
    register(&mut client, "n1");
    let short = json!({ "Node": "n1", "Coord": { "Vec": [0.0, 1.0], "Error": 1.5,
        "Adjustment": 0.0, "Height": 1e-5 } });
    let response = client.put("/v1/coordinate/update", short.to_string());
    assert_eq!(response.status, 400, "{}", response.text());
    assert!(
        response.text().contains("Invalid coordinate"),
        "{}",
        response.text()
    );
    let nameless = json!({ "Coord": coordinate_at(0.1) });
    let response = client.put("/v1/coordinate/update", nameless.to_string());
    assert_eq!(response.status, 400, "{}", response.text());
    let response = client.put("/v1/coordinate/update", "{not json");
    assert_eq!(response.status, 400, "{}", response.text());
    let listed = client.get("/v1/coordinate/nodes").expect(200).json();
    assert_eq!(listed, json!([]), "nothing was stored");
}
