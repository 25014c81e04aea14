//! Anti-entropy: the agent's services and checks reach the catalog, drift made through the
//! catalog API is repaired, registrations survive restarts (clean and `kill -9`), and services
//! from configuration are registered.

use crate::harness::{wait_for, Server, TempDir};
use crate::http::Client;
use crate::ops::{agent_check, catalog_check, get_json, put_ok, put_true};
use serde_json::{json, Value};
use std::time::Duration;

/// How long the agent may take to bring the catalog back in line.
const REPAIR_DEADLINE: Duration = Duration::from_secs(10);

/// Polls until `/v1/catalog/service/<name>` lists an instance on the server's node with `id`.
#[track_caller]
fn wait_for_instance(server: &Server, name: &str, id: &str) -> Value {
    let mut c = server.client();
    wait_for(REPAIR_DEADLINE, &format!("{id} in the catalog"), || {
        let instances = get_json(&mut c, &format!("/v1/catalog/service/{name}"));
        instances
            .as_array()
            .expect("a JSON array")
            .iter()
            .find(|i| i["ServiceID"] == id && i["Node"] == server.node())
            .cloned()
    })
}

#[track_caller]
fn wait_for_catalog_check(server: &Server, check_id: &str, status: &str) -> Value {
    let mut c = server.client();
    wait_for(
        REPAIR_DEADLINE,
        &format!("{check_id} to be {status} in the catalog"),
        || catalog_check(&mut c, server.node(), check_id).filter(|check| check["Status"] == status),
    )
}

fn register_keeper(client: &mut Client) {
    put_ok(
        client,
        "/v1/agent/service/register",
        json!({"ID": "keeper-1", "Name": "keeper", "Tags": ["blue"], "Port": 7000,
               "Check": {"CheckID": "keeper-ttl", "TTL": "120s", "Status": "passing"}})
        .to_string(),
    );
    put_ok(
        client,
        "/v1/agent/check/register",
        json!({"ID": "node-ttl", "Name": "node heartbeat", "TTL": "120s"}).to_string(),
    );
    put_ok(client, "/v1/agent/check/pass/node-ttl?note=alive", "");
}

#[test]
fn agent_registrations_reach_the_catalog_and_health_views() {
    let server = Server::dev();
    let mut c = server.client();
    register_keeper(&mut c);

    let instance = wait_for_instance(&server, "keeper", "keeper-1");
    assert_eq!(instance["ServiceTags"], json!(["blue"]));
    assert_eq!(instance["ServicePort"], 7000);
    assert_eq!(instance["Address"], "127.0.0.1");
    wait_for_catalog_check(&server, "keeper-ttl", "passing");
    let node_check = wait_for_catalog_check(&server, "node-ttl", "passing");
    assert_eq!(node_check["Output"], "alive");

    let entries = get_json(&mut c, "/v1/health/service/keeper?passing");
    let entries = entries.as_array().expect("a JSON array");
    assert_eq!(entries.len(), 1, "{entries:?}");
    let mut ids: Vec<&str> = entries[0]["Checks"]
        .as_array()
        .expect("Checks")
        .iter()
        .map(|check| check["CheckID"].as_str().expect("CheckID"))
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, ["keeper-ttl", "node-ttl", "serfHealth"]);
}

#[test]
fn the_agent_restores_what_is_deregistered_through_the_catalog() {
    let server = Server::dev();
    let mut c = server.client();
    register_keeper(&mut c);
    wait_for_instance(&server, "keeper", "keeper-1");
    wait_for_catalog_check(&server, "keeper-ttl", "passing");
    let node = server.node();
    let deregister = |c: &mut Client, body: Value| {
        put_true(c, "/v1/catalog/deregister", body.to_string());
    };

    deregister(&mut c, json!({"Node": node, "ServiceID": "keeper-1"}));
    wait_for_instance(&server, "keeper", "keeper-1");
    wait_for_catalog_check(&server, "keeper-ttl", "passing");

    deregister(&mut c, json!({"Node": node, "CheckID": "node-ttl"}));
    wait_for_catalog_check(&server, "node-ttl", "passing");

    deregister(&mut c, json!({"Node": node}));
    wait_for_instance(&server, "keeper", "keeper-1");
    wait_for_catalog_check(&server, "serfHealth", "passing");
    wait_for_catalog_check(&server, "keeper-ttl", "passing");
    wait_for_catalog_check(&server, "node-ttl", "passing");
}

#[test]
fn the_agent_removes_catalog_entries_on_its_node_it_does_not_know() {
    let server = Server::dev();
    let mut c = server.client();
    register_keeper(&mut c);
    wait_for_instance(&server, "keeper", "keeper-1");
    put_true(
        &mut c,
        "/v1/catalog/register",
        json!({"Node": server.node(), "Address": "127.0.0.1",
               "Service": {"Service": "intruder"},
               "Check": {"CheckID": "intruder-check", "Name": "i", "Status": "passing"}})
        .to_string(),
    );
    wait_for(REPAIR_DEADLINE, "the unknown service to be removed", || {
        (get_json(&mut c, "/v1/catalog/service/intruder") == json!([])).then_some(())
    });
    wait_for(REPAIR_DEADLINE, "the unknown check to be removed", || {
        catalog_check(&mut c, server.node(), "intruder-check")
            .is_none()
            .then_some(())
    });
    assert!(get_json(&mut c, "/v1/agent/services")
        .get("intruder")
        .is_none());
    wait_for_instance(&server, "keeper", "keeper-1");
}

/// Registers through the agent on a durable server, restarts it with `restart`, and checks the
/// registrations, their TTL check state and the catalog survived.
fn registrations_survive(restart: fn(&mut Server)) {
    let data = TempDir::new("agent-data");
    let mut server = Server::durable(data.path());
    let mut c = server.client();
    register_keeper(&mut c);
    wait_for_catalog_check(&server, "node-ttl", "passing");

    restart(&mut server);
    let mut c = server.client();
    let services = get_json(&mut c, "/v1/agent/services");
    assert_eq!(services["keeper-1"]["Service"], "keeper", "{services}");
    assert_eq!(services["keeper-1"]["Port"], 7000);
    let keeper_ttl = agent_check(&mut c, "keeper-ttl").expect("the service check survives");
    assert_eq!(keeper_ttl["ServiceID"], "keeper-1");
    let node_ttl = agent_check(&mut c, "node-ttl").expect("the node check survives");
    assert_eq!(
        node_ttl["Status"], "passing",
        "a TTL check's state is restored: {node_ttl}"
    );
    assert_eq!(node_ttl["Output"], "alive");
    wait_for_instance(&server, "keeper", "keeper-1");

    put_ok(&mut c, "/v1/agent/check/warn/node-ttl?note=restarted", "");
    wait_for_catalog_check(&server, "node-ttl", "warning");
}

#[test]
fn agent_registrations_survive_a_clean_restart() {
    registrations_survive(Server::stop_and_restart);
}

#[test]
fn agent_registrations_survive_kill_9() {
    registrations_survive(Server::kill_and_restart);
}

#[test]
fn services_from_configuration_are_registered() {
    let config_dir = TempDir::new("config");
    let json_file = config_dir.path().join("web.json");
    let definition = json!({"service": {"id": "cfg-json-1", "name": "cfg-json", "port": 10,
                                        "tags": ["x"], "check": {"ttl": "30s"}}});
    std::fs::write(&json_file, definition.to_string()).expect("writing the config file");
    let config_flag = format!("-config-file={}", json_file.display());
    let hcl = "services {\n  name = \"cfg\"\n  port = 9\n}";
    let server = Server::dev_with(&["-hcl", hcl, &config_flag]);
    let mut c = server.client();

    let services = get_json(&mut c, "/v1/agent/services");
    assert_eq!(services["cfg"]["Port"], 9, "{services}");
    assert_eq!(services["cfg-json-1"]["Service"], "cfg-json");
    assert_eq!(services["cfg-json-1"]["Tags"], json!(["x"]));
    let check = agent_check(&mut c, "service:cfg-json-1").expect("the config service's check");
    assert_eq!(check["Name"], "Service 'cfg-json' check");

    assert_eq!(wait_for_instance(&server, "cfg", "cfg")["ServicePort"], 9);
    assert_eq!(
        wait_for_instance(&server, "cfg-json", "cfg-json-1")["ServicePort"],
        10
    );
    wait_for_catalog_check(&server, "service:cfg-json-1", "critical");
}

#[test]
fn one_line_hcl_blocks_are_accepted_as_consul_does() {
    // Consul reads HCL 1, where a block's attributes need no newline or comma between them.
    let server = Server::dev_with(&["-hcl", r#"services { name = "cfg" port = 9 }"#]);
    let mut c = server.client();
    let services = get_json(&mut c, "/v1/agent/services");
    assert_eq!(services["cfg"]["Port"], 9, "{services}");
}
