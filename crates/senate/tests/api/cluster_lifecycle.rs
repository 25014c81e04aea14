//! A cluster's servers coming and going: gossip-driven `serfHealth` (a killed server turns
//! critical and its sessions are invalidated), a graceful leave, outage recovery from
//! `peers.json`, and the start-up mistakes Senate must refuse rather than split a cluster over.

use crate::cluster::{raft_servers, Cluster};
use crate::harness::{wait_for, Server, TempDir};
use serde_json::{json, Value};
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(30);

fn serf_health(cluster: &mut Cluster, observer: usize, node: &str) -> Option<String> {
    let checks = cluster.servers[observer]
        .client()
        .get(&format!("/v1/health/node/{node}"))
        .json();
    let check = checks
        .as_array()?
        .iter()
        .find(|c| c["CheckID"] == "serfHealth")?
        .clone();
    check["Status"].as_str().map(str::to_string)
}

#[test]
fn a_killed_server_turns_critical_loses_its_sessions_and_recovers_when_back() {
    let mut cluster = Cluster::start(3);
    let leader = cluster.leader();
    let victim = (leader + 1) % 3;
    let node = cluster.servers[victim].node().to_string();
    wait_for(DEADLINE, "serfHealth passing", || {
        (serf_health(&mut cluster, leader, &node)? == "passing").then_some(())
    });
    let mut client = cluster.servers[leader].client();
    let session = client
        .put(
            "/v1/session/create",
            json!({"Node": node, "Checks": ["serfHealth"]}).to_string(),
        )
        .expect(200)
        .json()["ID"]
        .as_str()
        .expect("a session ID")
        .to_string();
    cluster.servers[victim].kill();
    wait_for(DEADLINE, "serfHealth critical after the kill", || {
        (serf_health(&mut cluster, leader, &node)? == "critical").then_some(())
    });
    wait_for(DEADLINE, "the node's session to be invalidated", || {
        let info = client.get(&format!("/v1/session/info/{session}")).json();
        (info == json!([])).then_some(())
    });
    cluster.servers[victim].restart();
    wait_for(DEADLINE, "serfHealth passing again", || {
        (serf_health(&mut cluster, leader, &node)? == "passing").then_some(())
    });
}

#[test]
fn a_server_that_leaves_gracefully_is_removed_at_once() {
    let mut cluster = Cluster::start(3);
    let leaver = cluster.follower();
    let node = cluster.servers[leaver].node().to_string();
    let address = cluster.servers[leaver].rpc_address();
    cluster.servers[leaver]
        .client()
        .put("/v1/agent/leave", "")
        .expect(200);
    wait_for(DEADLINE, "the leaving server to exit", || {
        (!cluster.servers[leaver].is_running()).then_some(())
    });
    let leader = cluster.leader();
    let mut client = cluster.servers[leader].client();
    let servers = raft_servers(&mut client).expect("raft configuration");
    assert!(
        servers.iter().all(|s| s["Address"] != address.as_str()),
        "removed from Raft before it exited: {servers:?}"
    );
    wait_for(DEADLINE, "gossip to show the member left", || {
        let members = client.get("/v1/agent/members").json();
        let member = members
            .as_array()?
            .iter()
            .find(|m| m["Name"] == node.as_str())?
            .clone();
        (member["Status"] == 3).then_some(())
    });
    wait_for(DEADLINE, "the node to be deregistered", || {
        let found = client.get(&format!("/v1/catalog/node/{node}")).json();
        (found == Value::Null).then_some(())
    });
}

#[test]
fn peers_json_recovers_a_cluster_that_lost_two_of_three_servers_for_good() {
    let mut cluster = Cluster::start(3);
    let survivor = 0;
    let mut client = cluster.servers[survivor].client();
    for i in 0..20 {
        client
            .put(&format!("/v1/kv/recovered/{i}"), i.to_string())
            .expect(200);
    }
    let address = cluster.servers[survivor].rpc_address();
    let id = raft_servers(&mut client)
        .expect("raft configuration")
        .into_iter()
        .find(|s| s["Address"] == address.as_str())
        .and_then(|s| s["ID"].as_str().map(str::to_string))
        .expect("the survivor's ID");
    wait_for(DEADLINE, "the writes to reach the survivor", || {
        let response = client.get("/v1/kv/recovered/19?stale");
        (response.status == 200).then_some(())
    });
    for server in &mut cluster.servers {
        server.kill();
    }
    let peers = cluster.data_dir(survivor).join("raft").join("peers.json");
    let listing = json!([{ "id": id, "address": address, "non_voter": false }]);
    std::fs::write(&peers, listing.to_string()).expect("writing peers.json");
    cluster.servers[survivor].restart();
    wait_for(DEADLINE, "the survivor to lead alone", || {
        let leader: String = client.get("/v1/status/leader").json().as_str()?.to_string();
        (leader == address).then_some(())
    });
    for i in 0..20 {
        let value = client
            .get(&format!("/v1/kv/recovered/{i}?raw"))
            .expect(200)
            .text();
        assert_eq!(value, i.to_string());
    }
    client.put("/v1/kv/recovered/after", "yes").expect(200);
    let servers = raft_servers(&mut client).expect("raft configuration");
    assert_eq!(servers.len(), 1, "{servers:?}");
    assert!(!peers.exists(), "peers.json is deleted once applied");
}

#[test]
fn a_malformed_peers_json_stops_start_up_naming_the_file() {
    let dir = TempDir::new("bad-peers");
    let mut server = Server::member(
        dir.path(),
        3,
        &[],
        &["-hcl", "performance { raft_multiplier = 1 }"],
    );
    server.kill();
    let peers = dir.path().join("raft").join("peers.json");
    std::fs::write(
        &peers,
        "[{\"id\": \"not-a-uuid\", \"address\": \"127.0.0.1:1\"}]",
    )
    .expect("writing");
    let failure = server.try_restart().expect_err("start-up must stop");
    assert!(failure.contains("peers.json"), "{failure}");
    assert!(failure.contains("not a node ID"), "{failure}");
}

#[test]
fn servers_that_disagree_on_bootstrap_expect_never_bootstrap() {
    let mut cluster = Cluster::empty();
    cluster.add_server(3);
    cluster.add_server(3);
    cluster.add_server(5);
    wait_for(DEADLINE, "the conflict to be logged", || {
        cluster.servers[0]
            .log_text()
            .contains("disagree on bootstrap_expect")
            .then_some(())
    });
    for server in &mut cluster.servers {
        let leader = server.client().get("/v1/status/leader").json();
        assert_eq!(leader, "", "no cluster may form");
    }
}

#[test]
fn a_second_server_with_a_taken_node_name_is_refused() {
    let mut cluster = Cluster::empty();
    cluster.add_server(3);
    let taken = cluster.servers[0].node().to_string();
    let name_setting = format!("node_name = \"{taken}\"");
    let impostor = cluster.add_server_with(3, &["-hcl", &name_setting]);
    wait_for(DEADLINE, "the impostor to be refused", || {
        let log = cluster.servers[impostor].log_text();
        log.contains("conflicting address").then_some(())
    });
    let members = cluster.servers[0].client().get("/v1/agent/members").json();
    let named: Vec<&Value> = members
        .as_array()
        .expect("members")
        .iter()
        .filter(|m| m["Name"] == taken.as_str())
        .collect();
    assert_eq!(named.len(), 1, "{members}");
    assert_eq!(
        named[0]["Port"],
        cluster.servers[0].serf_lan_port(),
        "the first server keeps its name"
    );
}

#[test]
fn a_second_server_with_a_taken_node_id_is_refused() {
    let mut cluster = Cluster::empty();
    cluster.add_server(3);
    let taken = cluster.servers[0].client().get("/v1/agent/self").json()["Config"]["NodeID"]
        .as_str()
        .expect("a node ID")
        .to_string();
    let id_setting = format!("node_id = \"{taken}\"");
    let impostor = cluster.add_server_with(3, &["-hcl", &id_setting]);
    wait_for(DEADLINE, "the impostor to be refused", || {
        let log = cluster.servers[impostor].log_text();
        log.contains(&format!("conflicting node ID '{taken}'"))
            .then_some(())
    });
    let members = cluster.servers[0].client().get("/v1/agent/members").json();
    let holding: Vec<&Value> = members
        .as_array()
        .expect("members")
        .iter()
        .filter(|m| m["Tags"]["id"] == taken.as_str())
        .collect();
    assert_eq!(
        holding.len(),
        1,
        "only the first server holds the ID: {members}"
    );
}
