//! The catalog: `PUT /v1/catalog/register|deregister` and the datacenters, nodes, services,
//! service and node reads, with their defaults, validation, tag and node-meta filters, blocking
//! queries and consistency modes.

use crate::harness::Server;
use crate::http::Client;
use crate::ops::{assert_change_wakes, get_json, put_true};
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// Registers through `/v1/catalog/register` and asserts Consul's `true`.
#[track_caller]
fn register(client: &mut Client, body: Value) {
    put_true(client, "/v1/catalog/register", body.to_string());
}

/// Deregisters through `/v1/catalog/deregister` and asserts Consul's `true`.
#[track_caller]
fn deregister(client: &mut Client, body: Value) {
    put_true(client, "/v1/catalog/deregister", body.to_string());
}

/// The JSON array at `path`.
#[track_caller]
fn get_array(client: &mut Client, path: &str) -> Vec<Value> {
    get_json(client, path)
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("{path} should answer a JSON array"))
}

/// The values of `field` in each element of the array at `path`, as a set.
#[track_caller]
fn field_set(client: &mut Client, path: &str, field: &str) -> BTreeSet<String> {
    get_array(client, path)
        .iter()
        .map(|item| {
            item[field]
                .as_str()
                .unwrap_or_else(|| panic!("{path}: {field} missing in {item}"))
                .to_string()
        })
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|item| item.to_string()).collect()
}

fn tag_set(tags: &Value) -> BTreeSet<String> {
    tags.as_array()
        .unwrap_or_else(|| panic!("tags should be an array, got {tags}"))
        .iter()
        .map(|tag| tag.as_str().expect("tags are strings").to_string())
        .collect()
}

fn full_registration() -> Value {
    json!({
        "Datacenter": "dc1",
        "ID": "2bd1a4a6-9e36-4b8c-a2c1-2f0a4f0c7e11",
        "Node": "cat-node",
        "Address": "10.1.2.3",
        "TaggedAddresses": {"wan": "198.51.100.7"},
        "NodeMeta": {"rack": "r1"},
        "Service": {
            "ID": "redis1",
            "Service": "redis",
            "Tags": ["primary", "v1"],
            "Address": "10.1.2.4",
            "Port": 6379,
            "Meta": {"version": "7"},
            "EnableTagOverride": true,
            "Weights": {"Passing": 10, "Warning": 2}
        },
        "Check": {
            "CheckID": "redis-alive",
            "Name": "Redis alive",
            "Status": "passing",
            "Notes": "pings redis",
            "Output": "PONG",
            "ServiceID": "redis1"
        }
    })
}

#[test]
fn a_registration_shows_in_every_catalog_view() {
    let server = Server::dev();
    let mut c = server.client();
    register(&mut c, full_registration());

    assert_eq!(get_json(&mut c, "/v1/catalog/datacenters"), json!(["dc1"]));

    let nodes = get_array(&mut c, "/v1/catalog/nodes");
    let node = nodes
        .iter()
        .find(|n| n["Node"] == "cat-node")
        .unwrap_or_else(|| panic!("cat-node missing from {nodes:?}"));
    assert_eq!(node["ID"], "2bd1a4a6-9e36-4b8c-a2c1-2f0a4f0c7e11");
    assert_eq!(node["Address"], "10.1.2.3");
    assert_eq!(node["Datacenter"], "dc1");
    assert_eq!(node["TaggedAddresses"]["wan"], "198.51.100.7");
    assert_eq!(node["Meta"]["rack"], "r1");
    assert!(node["CreateIndex"].as_u64().is_some_and(|i| i > 0));

    let services = get_json(&mut c, "/v1/catalog/services");
    assert_eq!(tag_set(&services["redis"]), set(&["primary", "v1"]));

    let instances = get_array(&mut c, "/v1/catalog/service/redis");
    assert_eq!(instances.len(), 1, "{instances:?}");
    let instance = &instances[0];
    for (field, expected) in [
        ("ID", json!("2bd1a4a6-9e36-4b8c-a2c1-2f0a4f0c7e11")),
        ("Node", json!("cat-node")),
        ("Address", json!("10.1.2.3")),
        ("Datacenter", json!("dc1")),
        ("TaggedAddresses", json!({"wan": "198.51.100.7"})),
        ("NodeMeta", json!({"rack": "r1"})),
        ("ServiceID", json!("redis1")),
        ("ServiceName", json!("redis")),
        ("ServiceTags", json!(["primary", "v1"])),
        ("ServiceAddress", json!("10.1.2.4")),
        ("ServicePort", json!(6379)),
        ("ServiceMeta", json!({"version": "7"})),
        ("ServiceEnableTagOverride", json!(true)),
        ("ServiceWeights", json!({"Passing": 10, "Warning": 2})),
    ] {
        assert_eq!(instance[field], expected, "{field} in {instance}");
    }
    let create_index = instance["CreateIndex"].as_u64().expect("CreateIndex");
    assert!(create_index > 0);
    assert_eq!(instance["ModifyIndex"].as_u64(), Some(create_index));

    let node_view = get_json(&mut c, "/v1/catalog/node/cat-node");
    assert_eq!(node_view["Node"]["Node"], "cat-node");
    assert_eq!(node_view["Node"]["Address"], "10.1.2.3");
    assert_eq!(node_view["Node"]["Meta"]["rack"], "r1");
    let service = &node_view["Services"]["redis1"];
    for (field, expected) in [
        ("ID", json!("redis1")),
        ("Service", json!("redis")),
        ("Tags", json!(["primary", "v1"])),
        ("Address", json!("10.1.2.4")),
        ("Port", json!(6379)),
        ("Meta", json!({"version": "7"})),
        ("EnableTagOverride", json!(true)),
        ("Weights", json!({"Passing": 10, "Warning": 2})),
    ] {
        assert_eq!(service[field], expected, "{field} in {node_view}");
    }

    let checks = get_array(&mut c, "/v1/health/checks/redis");
    assert_eq!(checks.len(), 1, "{checks:?}");
    let check = &checks[0];
    for (field, expected) in [
        ("Node", "cat-node"),
        ("CheckID", "redis-alive"),
        ("Name", "Redis alive"),
        ("Status", "passing"),
        ("Notes", "pings redis"),
        ("Output", "PONG"),
        ("ServiceID", "redis1"),
        ("ServiceName", "redis"),
    ] {
        assert_eq!(check[field], expected, "{field} in {check}");
    }
}

#[test]
fn re_registering_updates_in_place() {
    let server = Server::dev();
    let mut c = server.client();
    register(&mut c, full_registration());
    let before = get_array(&mut c, "/v1/catalog/service/redis").remove(0);
    let node_before = get_json(&mut c, "/v1/catalog/node/cat-node")["Node"].clone();

    let mut changed = full_registration();
    changed["Address"] = json!("10.1.2.99");
    changed["Service"]["Tags"] = json!(["replica"]);
    changed["Service"]["Port"] = json!(6380);
    register(&mut c, changed);

    let instances = get_array(&mut c, "/v1/catalog/service/redis");
    assert_eq!(
        instances.len(),
        1,
        "re-registering must not duplicate: {instances:?}"
    );
    let after = &instances[0];
    assert_eq!(after["ServiceTags"], json!(["replica"]));
    assert_eq!(after["ServicePort"], 6380);
    assert_eq!(after["Address"], "10.1.2.99");
    assert_eq!(
        after["CreateIndex"], before["CreateIndex"],
        "CreateIndex is kept"
    );
    assert!(
        after["ModifyIndex"].as_u64() > before["ModifyIndex"].as_u64(),
        "ModifyIndex must grow: {before} -> {after}"
    );
    let node_after = get_json(&mut c, "/v1/catalog/node/cat-node")["Node"].clone();
    assert_eq!(node_after["CreateIndex"], node_before["CreateIndex"]);
    assert!(node_after["ModifyIndex"].as_u64() > node_before["ModifyIndex"].as_u64());
    assert_eq!(
        tag_set(&get_json(&mut c, "/v1/catalog/services")["redis"]),
        set(&["replica"]),
        "old tags are gone from /v1/catalog/services"
    );
}

#[test]
fn service_id_check_id_and_status_have_defaults() {
    let server = Server::dev();
    let mut c = server.client();
    register(
        &mut c,
        json!({
            "Node": "defaults",
            "Address": "10.0.0.8",
            "Service": {"Service": "memcached", "Port": 11211},
            "Checks": [
                {"Name": "mem-ok", "ServiceID": "memcached"},
                {"CheckID": "disk", "Name": "Disk", "Status": "unknown"}
            ]
        }),
    );
    let instance = get_array(&mut c, "/v1/catalog/service/memcached").remove(0);
    assert_eq!(
        instance["ServiceID"], "memcached",
        "ID defaults to the name"
    );

    let checks = get_array(&mut c, "/v1/health/node/defaults");
    let mem = checks
        .iter()
        .find(|check| check["CheckID"] == "mem-ok")
        .unwrap_or_else(|| panic!("CheckID should default to Name: {checks:?}"));
    assert_eq!(mem["Status"], "critical", "Status defaults to critical");
    assert_eq!(mem["ServiceName"], "memcached");
    let disk = checks
        .iter()
        .find(|check| check["CheckID"] == "disk")
        .expect("both checks of Checks are registered");
    assert_eq!(disk["Status"], "unknown");
    assert_eq!(disk["ServiceID"], "");
}

#[test]
fn invalid_registrations_are_400_and_write_nothing() {
    let server = Server::dev();
    let mut c = server.client();
    register(
        &mut c,
        json!({"Node": "real", "Address": "10.0.0.1", "Service": {"Service": "web"}}),
    );
    let nodes_before = field_set(&mut c, "/v1/catalog/nodes", "Node");
    let index_before = c.get("/v1/catalog/nodes").expect(200).index();

    for (what, body) in [
        ("missing Node", json!({"Address": "10.0.0.2"})),
        ("missing Address", json!({"Node": "ghost"})),
        (
            "service without a name",
            json!({"Node": "ghost", "Address": "10.0.0.2", "Service": {"Port": 80}}),
        ),
        (
            "check of a service the new node does not have",
            json!({"Node": "ghost", "Address": "10.0.0.2",
                   "Check": {"CheckID": "c", "Name": "c", "ServiceID": "nope"}}),
        ),
        (
            "check of a service the existing node does not have",
            json!({"Node": "real", "Address": "10.0.0.1",
                   "Checks": [{"CheckID": "fine", "Name": "fine"},
                              {"CheckID": "orphan", "Name": "orphan", "ServiceID": "nope"}]}),
        ),
        (
            "unknown check status",
            json!({"Node": "ghost", "Address": "10.0.0.2",
                   "Check": {"CheckID": "c", "Name": "c", "Status": "sleepy"}}),
        ),
    ] {
        let response = c.put("/v1/catalog/register", body.to_string());
        assert_eq!(
            response.status,
            400,
            "{what}: answered {} {:?}",
            response.status,
            response.text()
        );
    }
    let response = c.put("/v1/catalog/register", "{not json");
    assert_eq!(
        response.status,
        400,
        "a body that is not JSON: {:?}",
        response.text()
    );

    assert_eq!(field_set(&mut c, "/v1/catalog/nodes", "Node"), nodes_before);
    assert_eq!(get_json(&mut c, "/v1/catalog/node/ghost"), Value::Null);
    assert!(
        get_array(&mut c, "/v1/health/node/real").is_empty(),
        "a refused registration writes none of its checks"
    );
    assert_eq!(c.get("/v1/catalog/nodes").expect(200).index(), index_before);
}

#[test]
fn deregister_removes_a_check_a_service_or_a_whole_node() {
    let server = Server::dev();
    let mut c = server.client();
    for service in ["alpha", "beta"] {
        register(
            &mut c,
            json!({"Node": "doomed", "Address": "10.0.0.3",
                   "Service": {"Service": service},
                   "Check": {"CheckID": format!("{service}-check"), "Name": service,
                             "ServiceID": service, "Status": "passing"}}),
        );
    }
    register(
        &mut c,
        json!({"Node": "doomed", "Address": "10.0.0.3",
               "Check": {"CheckID": "node-check", "Name": "node", "Status": "passing"}}),
    );
    let check_ids = |c: &mut Client| field_set(c, "/v1/health/node/doomed", "CheckID");
    assert_eq!(
        check_ids(&mut c),
        set(&["alpha-check", "beta-check", "node-check"])
    );

    deregister(&mut c, json!({"Node": "doomed", "CheckID": "node-check"}));
    assert_eq!(check_ids(&mut c), set(&["alpha-check", "beta-check"]));

    deregister(&mut c, json!({"Node": "doomed", "ServiceID": "alpha"}));
    assert_eq!(
        check_ids(&mut c),
        set(&["beta-check"]),
        "the service's checks go with it"
    );
    assert!(get_array(&mut c, "/v1/catalog/service/alpha").is_empty());
    let services = get_json(&mut c, "/v1/catalog/services");
    assert!(
        services.get("alpha").is_none(),
        "alpha still listed: {services}"
    );
    assert!(services.get("beta").is_some());

    deregister(&mut c, json!({"Node": "doomed"}));
    assert_eq!(get_json(&mut c, "/v1/catalog/node/doomed"), Value::Null);
    assert!(get_array(&mut c, "/v1/catalog/service/beta").is_empty());
    assert!(get_array(&mut c, "/v1/health/node/doomed").is_empty());
    assert!(!field_set(&mut c, "/v1/catalog/nodes", "Node").contains("doomed"));

    let response = c.put(
        "/v1/catalog/deregister",
        json!({"ServiceID": "x"}).to_string(),
    );
    assert_eq!(response.status, 400, "missing Node: {:?}", response.text());
}

/// Registers `db` instances on three nodes with different tags and node metadata.
fn register_tagged_fleet(client: &mut Client) {
    for (node, env, rack, tags) in [
        ("db-1", "prod", "r1", json!(["Primary", "v1"])),
        ("db-2", "prod", "r2", json!(["replica", "v1"])),
        ("db-3", "dev", "r1", json!(["replica", "v2"])),
    ] {
        register(
            client,
            json!({"Node": node, "Address": "10.0.1.1", "NodeMeta": {"env": env, "rack": rack},
                   "Service": {"Service": "db", "Tags": tags}}),
        );
    }
}

#[test]
fn tag_filters_need_every_tag_and_ignore_case() {
    let server = Server::dev();
    let mut c = server.client();
    register_tagged_fleet(&mut c);
    for (query, nodes) in [
        ("", vec!["db-1", "db-2", "db-3"]),
        ("?tag=v1", vec!["db-1", "db-2"]),
        ("?tag=primary", vec!["db-1"]),
        ("?tag=PRIMARY", vec!["db-1"]),
        ("?tag=replica&tag=v1", vec!["db-2"]),
        ("?tag=REPLICA&tag=V2", vec!["db-3"]),
        ("?tag=replica&tag=nope", vec![]),
        ("?tag=nope", vec![]),
    ] {
        for endpoint in ["/v1/catalog/service/db", "/v1/health/service/db"] {
            let path = format!("{endpoint}{query}");
            let found: BTreeSet<String> = get_array(&mut c, &path)
                .iter()
                .map(|entry| match entry["Node"].as_str() {
                    Some(node) => node.to_string(),
                    None => entry["Node"]["Node"]
                        .as_str()
                        .expect("Node.Node")
                        .to_string(),
                })
                .collect();
            assert_eq!(found, set(&nodes), "{path}");
        }
    }
}

#[test]
fn node_meta_filters_need_every_pair() {
    let server = Server::dev();
    let mut c = server.client();
    register_tagged_fleet(&mut c);
    for (path, nodes) in [
        ("/v1/catalog/nodes?node-meta=env:prod", vec!["db-1", "db-2"]),
        (
            "/v1/catalog/nodes?node-meta=env:prod&node-meta=rack:r1",
            vec!["db-1"],
        ),
        ("/v1/catalog/nodes?node-meta=env:staging", vec![]),
        ("/v1/catalog/service/db?node-meta=env:dev", vec!["db-3"]),
        (
            "/v1/catalog/service/db?node-meta=rack:r1",
            vec!["db-1", "db-3"],
        ),
    ] {
        assert_eq!(field_set(&mut c, path, "Node"), set(&nodes), "{path}");
    }
    let services = get_json(&mut c, "/v1/catalog/services?node-meta=env:dev");
    assert_eq!(
        tag_set(&services["db"]),
        set(&["replica", "v2"]),
        "only tags of instances on matching nodes: {services}"
    );
}

#[test]
fn unknown_nodes_and_services_read_as_empty() {
    let server = Server::dev();
    let mut c = server.client();
    let node = c.get("/v1/catalog/node/nowhere").expect(200);
    assert_eq!(
        node.json(),
        Value::Null,
        "Consul answers null for an unknown node"
    );
    assert!(node.index() > 0);
    for path in [
        "/v1/catalog/service/nothing",
        "/v1/health/service/nothing",
        "/v1/health/checks/nothing",
        "/v1/health/node/nowhere",
    ] {
        let response = c.get(path).expect(200);
        assert_eq!(response.json(), json!([]), "{path}");
        assert!(response.index() > 0, "{path}: X-Consul-Index");
    }
}

#[test]
fn every_catalog_read_blocks_until_its_data_changes() {
    let server = Server::dev();
    let mut c = server.client();
    register(
        &mut c,
        json!({"Node": "watched", "Address": "10.0.0.4", "Service": {"Service": "api"}}),
    );
    let register_later = |body: Value| {
        let mut c = server.client();
        move || register(&mut c, body)
    };
    let nodes = assert_change_wakes(
        &server,
        "/v1/catalog/nodes",
        register_later(json!({"Node": "newcomer", "Address": "10.0.0.5"})),
    );
    assert!(nodes.text().contains("newcomer"));
    let services = assert_change_wakes(
        &server,
        "/v1/catalog/services",
        register_later(json!({"Node": "newcomer", "Address": "10.0.0.5",
                              "Service": {"Service": "cache"}})),
    );
    assert!(services.json().get("cache").is_some());
    let instances = assert_change_wakes(
        &server,
        "/v1/catalog/service/api",
        register_later(json!({"Node": "newcomer", "Address": "10.0.0.5",
                              "Service": {"Service": "api", "Tags": ["second"]}})),
    );
    assert_eq!(instances.json().as_array().map(Vec::len), Some(2));
    let node = assert_change_wakes(
        &server,
        "/v1/catalog/node/watched",
        register_later(json!({"Node": "watched", "Address": "10.0.0.4",
                              "Service": {"Service": "worker"}})),
    );
    assert!(node.json()["Services"].get("worker").is_some());
}

#[test]
fn catalog_reads_accept_stale_and_consistent() {
    let server = Server::dev();
    let mut c = server.client();
    register(&mut c, full_registration());
    for path in [
        "/v1/catalog/nodes",
        "/v1/catalog/services",
        "/v1/catalog/service/redis",
        "/v1/catalog/node/cat-node",
    ] {
        let default = c.get(path).expect(200);
        for mode in ["stale", "consistent"] {
            let response = c.get(&format!("{path}?{mode}")).expect(200);
            assert_eq!(response.json(), default.json(), "{path}?{mode}");
            assert_eq!(response.index(), default.index(), "{path}?{mode}");
            assert_eq!(
                response.header("x-consul-knownleader"),
                Some("true"),
                "{path}?{mode}"
            );
        }
    }
    let response = c.get("/v1/catalog/nodes?stale&consistent");
    assert_eq!(
        response.status,
        400,
        "stale and consistent together: {:?}",
        response.text()
    );
}

#[test]
fn a_server_lists_the_consul_service() {
    let server = Server::dev();
    let mut c = server.client();
    let services = get_json(&mut c, "/v1/catalog/services");
    assert_eq!(
        services.get("consul"),
        Some(&json!([])),
        "Consul servers register the `consul` service on their node: {services}"
    );
    let instances = get_array(&mut c, "/v1/catalog/service/consul");
    assert_eq!(instances.len(), 1, "{instances:?}");
    assert_eq!(instances[0]["Node"], server.node());
    assert_eq!(instances[0]["ServiceID"], "consul");
    assert_eq!(instances[0]["ServicePort"], server.server_port());
}
