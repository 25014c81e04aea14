//! Client agents of a 3-server cluster on loopback: every endpoint through a client, blocking
//! queries across clients, failure detection and the member lifecycle (a killed client turns
//! failed everywhere and loses its sessions; it comes back alive; a graceful leave deregisters
//! it; force-leave and prune), and a client moving on when the server it uses dies.

use crate::cluster::Cluster;
use crate::harness::wait_for;
use crate::http::Client;
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(30);
/// A failed client must read failed (Status 4) on every member within this.
const FAILURE_DETECTION_BOUND: Duration = Duration::from_secs(15);

/// Three servers and two client agents, with both clients registered in the catalog.
fn cluster_with_clients() -> Cluster {
    let mut cluster = Cluster::start(3);
    for _ in 0..2 {
        let index = cluster.add_client();
        let node = cluster.clients[index].node().to_string();
        let mut server = cluster.servers[0].client();
        wait_for(DEADLINE, &format!("{node} in the catalog"), || {
            (serf_health(&mut server, &node)? == "passing").then_some(())
        });
    }
    cluster
}

fn serf_health(client: &mut Client, node: &str) -> Option<String> {
    let checks = client
        .try_request("GET", &format!("/v1/health/node/{node}"), b"")
        .ok()?
        .json();
    let check = checks
        .as_array()?
        .iter()
        .find(|c| c["CheckID"] == "serfHealth")?
        .clone();
    check["Status"].as_str().map(str::to_string)
}

fn member_status(client: &mut Client, node: &str) -> Option<u64> {
    let members = client
        .try_request("GET", "/v1/agent/members", b"")
        .ok()?
        .json();
    let member = members
        .as_array()?
        .iter()
        .find(|m| m["Name"] == node)?
        .clone();
    member["Status"].as_u64()
}

/// Every running server and client agent but `except`.
fn observers(cluster: &Cluster, except: &str) -> Vec<Client> {
    cluster
        .servers
        .iter()
        .chain(&cluster.clients)
        .filter(|agent| agent.node() != except)
        .map(|agent| agent.client())
        .collect()
}

#[test]
fn every_endpoint_works_through_client_agents() {
    let cluster = cluster_with_clients();
    let mut writer = cluster.clients[0].client();
    let mut reader = cluster.clients[1].client();
    assert!(writer.put("/v1/kv/through/client", "one").is_true());
    let read = reader.get("/v1/kv/through/client?raw").expect(200);
    assert_eq!(read.text(), "one");
    assert_eq!(read.header("x-consul-knownleader"), Some("true"));
    assert!(read.header("x-consul-lastcontact").is_some());
    let index = read.index();
    let mut watcher = cluster.clients[1].client();
    let blocked = std::thread::spawn(move || {
        let path = format!("/v1/kv/through/client?raw&index={index}&wait=20s");
        let started = Instant::now();
        let response = watcher.get(&path);
        (response.text(), started.elapsed())
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(writer.put("/v1/kv/through/client", "two").is_true());
    let (woken_with, after) = blocked.join().expect("the watcher returns");
    assert_eq!(woken_with, "two");
    assert!(
        after < Duration::from_secs(15),
        "woken by the write, not the wait"
    );

    let leader = writer.get("/v1/status/leader").expect(200).json();
    assert!(leader.as_str().is_some_and(|l| !l.is_empty()), "{leader}");
    let peers = writer.get("/v1/status/peers").expect(200).json();
    assert_eq!(peers.as_array().map(Vec::len), Some(3), "{peers}");
    let configuration = writer
        .get("/v1/operator/raft/configuration")
        .expect(200)
        .json();
    assert_eq!(configuration["Servers"].as_array().map(Vec::len), Some(3));
    let me = writer.get("/v1/agent/self").expect(200).json();
    assert_eq!(me["Config"]["Server"], false);
    assert_eq!(me["Member"]["Tags"]["role"], "node");
    assert_eq!(me["Stats"]["consul"]["known_servers"], "3");
    assert!(
        me["Stats"].get("raft").is_none(),
        "a client has no raft stats"
    );
}

#[test]
fn a_killed_client_fails_everywhere_loses_its_sessions_and_comes_back() {
    let mut cluster = cluster_with_clients();
    let node = cluster.clients[0].node().to_string();
    let mut own = cluster.clients[0].client();
    let created = own.put("/v1/session/create", "{}").expect(200).json();
    let session = created["ID"].as_str().expect("a session ID").to_string();
    let info = own.get(&format!("/v1/session/info/{session}")).json();
    assert_eq!(
        info[0]["Node"],
        node.as_str(),
        "the session is on the client's node"
    );

    cluster.clients[0].kill();
    let killed_at = Instant::now();
    for mut observer in observers(&cluster, &node) {
        wait_for(DEADLINE, &format!("{node} failed"), || {
            (member_status(&mut observer, &node)? == 4).then_some(())
        });
    }
    let detected = killed_at.elapsed();
    assert!(
        detected < FAILURE_DETECTION_BOUND,
        "every member saw the failure after {detected:?}"
    );
    let mut server = cluster.servers[0].client();
    wait_for(DEADLINE, "serfHealth critical and the session gone", || {
        let critical = serf_health(&mut server, &node)? == "critical";
        let sessions = server.get(&format!("/v1/session/info/{session}")).json();
        (critical && sessions.as_array()?.is_empty()).then_some(())
    });

    cluster.clients[0].restart();
    wait_for(DEADLINE, "the client alive and passing again", || {
        let alive = member_status(&mut server, &node)? == 1;
        (alive && serf_health(&mut server, &node)? == "passing").then_some(())
    });
}

#[test]
fn a_client_that_leaves_is_left_and_deregistered() {
    let cluster = cluster_with_clients();
    let node = cluster.clients[1].node().to_string();
    cluster.clients[1]
        .client()
        .put("/v1/agent/leave", "")
        .expect(200);
    let mut server = cluster.servers[1].client();
    wait_for(DEADLINE, "the client left and deregistered", || {
        let left = member_status(&mut server, &node)? == 3;
        let nodes = server.get("/v1/catalog/nodes").json();
        let listed = nodes.as_array()?.iter().any(|n| n["Node"] == node.as_str());
        (left && !listed).then_some(())
    });
}

#[test]
fn force_leave_moves_a_failed_client_to_left_and_prune_forgets_it() {
    let mut cluster = cluster_with_clients();
    let node = cluster.clients[0].node().to_string();
    cluster.clients[0].kill();
    cluster.wait_until_failed(0, &node);
    let mut server = cluster.servers[0].client();
    server
        .put(&format!("/v1/agent/force-leave/{node}"), "")
        .expect(200);
    wait_for(DEADLINE, "the failed client left", || {
        (member_status(&mut server, &node)? == 3).then_some(())
    });
    server
        .put(&format!("/v1/agent/force-leave/{node}?prune"), "")
        .expect(200);
    wait_for(DEADLINE, "the pruned client forgotten", || {
        member_status(&mut server, &node).is_none().then_some(())
    });
    let unknown = server.put("/v1/agent/force-leave/no-such-node", "");
    assert_eq!(unknown.status, 404, "{}", unknown.text());
    assert!(
        unknown.text().contains("no-such-node"),
        "{}",
        unknown.text()
    );
}

#[test]
fn a_client_moves_on_when_the_server_it_uses_dies() {
    let mut cluster = cluster_with_clients();
    let mut client = cluster.clients[0].client();
    assert!(client.put("/v1/kv/failover/seed", "x").is_true());
    // The client keeps one server for minutes; killing each server in turn kills its server once.
    for victim in 0..cluster.servers.len() {
        cluster.servers[victim].kill();
        wait_for(DEADLINE, "a stale read through the client", || {
            let response = client
                .try_request("GET", "/v1/kv/failover/seed?stale&raw", b"")
                .ok()?;
            (response.status == 200 && response.text() == "x").then_some(())
        });
        let value = format!("after-{victim}");
        wait_for(DEADLINE, "a write through the client", || {
            let response = client
                .try_request("PUT", "/v1/kv/failover/latest", value.as_bytes())
                .ok()?;
            response.is_true().then_some(())
        });
        cluster.servers[victim].restart();
        cluster.wait_for_voters(3);
        wait_for(DEADLINE, "the restarted server alive in gossip", || {
            let node = cluster.servers[victim].node().to_string();
            let mut observer = cluster.clients[0].client();
            (member_status(&mut observer, &node)? == 1).then_some(())
        });
    }
    let latest = client.get("/v1/kv/failover/latest?raw").expect(200);
    assert_eq!(latest.text(), "after-2");
}

#[test]
fn a_client_with_no_server_answers_no_known_servers() {
    let mut cluster = Cluster::empty();
    let index = cluster.add_client();
    let response = cluster.clients[index].client().get("/v1/kv/anything");
    assert_eq!(response.status, 500, "{}", response.text());
    assert!(
        response.text().contains("No known Consul servers"),
        "{}",
        response.text()
    );
}

/// Members `observer` sees alive.
fn alive_count(observer: &mut Client) -> Option<usize> {
    let members = observer
        .try_request("GET", "/v1/agent/members", b"")
        .ok()?
        .json();
    Some(
        members
            .as_array()?
            .iter()
            .filter(|m| m["Status"] == 1)
            .count(),
    )
}

#[test]
fn a_restarted_agent_rejoins_from_its_member_snapshot_but_not_after_leaving() {
    let cluster = Cluster::start(3);
    let dir = crate::harness::TempDir::new("rejoin");
    let fast = ["-hcl", "performance { raft_multiplier = 1 }"];
    let mut agent = crate::harness::Server::client_agent(dir.path(), &[], &fast);
    let seed = format!(
        "/v1/agent/join/127.0.0.1:{}",
        cluster.servers[0].serf_lan_port()
    );
    agent.client().put(&seed, "").expect(200);
    let snapshot = dir.path().join("serf").join("local.snapshot");
    wait_for(DEADLINE, "the member snapshot", || {
        let text = std::fs::read_to_string(&snapshot).ok()?;
        (text.matches("127.0.0.1:").count() == 3).then_some(())
    });

    agent.kill();
    agent.restart();
    let mut observer = agent.client();
    wait_for(
        DEADLINE,
        "the restarted agent back among the servers",
        || (alive_count(&mut observer)? == 4).then_some(()),
    );

    agent.client().put("/v1/agent/leave", "").expect(200);
    wait_for(DEADLINE, "the agent to exit after leaving", || {
        (!agent.is_running()).then_some(())
    });
    agent.restart();
    let mut observer = agent.client();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        alive_count(&mut observer),
        Some(1),
        "after a graceful leave it does not rejoin on its own"
    );
    drop(agent);
    let rejoin = ["-hcl", "performance { raft_multiplier = 1 }", "-rejoin"];
    let agent = crate::harness::Server::client_agent(dir.path(), &[], &rejoin);
    let mut observer = agent.client();
    wait_for(DEADLINE, "-rejoin to rejoin after the leave", || {
        (alive_count(&mut observer)? == 4).then_some(())
    });
}

#[test]
fn sigterm_makes_a_client_leave_gracefully_and_a_server_just_stop() {
    let mut cluster = cluster_with_clients();
    let client_node = cluster.clients[0].node().to_string();
    cluster.clients[0].signal("TERM");
    let mut observer = cluster.servers[1].client();
    wait_for(DEADLINE, "the terminated client left (Status 3)", || {
        (member_status(&mut observer, &client_node)? == 3).then_some(())
    });
    let leader = cluster.leader();
    let server = (leader + 1) % 3;
    let server_node = cluster.servers[server].node().to_string();
    cluster.servers[server].signal("TERM");
    let mut observer = cluster.clients[1].client();
    wait_for(DEADLINE, "the terminated server failed (Status 4)", || {
        (member_status(&mut observer, &server_node)? == 4).then_some(())
    });
}

fn event_ids(client: &mut Client, name: &str) -> Option<Vec<String>> {
    let events = client
        .try_request("GET", &format!("/v1/event/list?name={name}"), b"")
        .ok()?
        .json();
    Some(
        events
            .as_array()?
            .iter()
            .filter_map(|e| e["ID"].as_str().map(str::to_string))
            .collect(),
    )
}

#[test]
fn an_event_fired_on_one_client_reaches_the_others_that_its_filters_select() {
    let cluster = cluster_with_clients();
    let target = cluster.clients[1].node().to_string();
    let mut firer = cluster.clients[0].client();
    let everyone = firer.put("/v1/event/fire/hello", "all").expect(200).json();
    let only_one = firer
        .put(&format!("/v1/event/fire/hello?node=^{target}$"), "one")
        .expect(200)
        .json();
    assert!(
        only_one["LTime"].as_u64() > everyone["LTime"].as_u64(),
        "{only_one}"
    );
    let (everyone, only_one) = (
        everyone["ID"].as_str().unwrap().to_string(),
        only_one["ID"].as_str().unwrap().to_string(),
    );
    let mut selected = cluster.clients[1].client();
    wait_for(DEADLINE, "both events on the selected client", || {
        let ids = event_ids(&mut selected, "hello")?;
        (ids.contains(&everyone) && ids.contains(&only_one)).then_some(())
    });
    for agent in cluster.servers.iter().chain(&cluster.clients[..1]) {
        let mut other = agent.client();
        wait_for(DEADLINE, "the unfiltered event everywhere", || {
            event_ids(&mut other, "hello")?
                .contains(&everyone)
                .then_some(())
        });
        let ids = event_ids(&mut other, "hello").unwrap_or_default();
        assert!(
            !ids.contains(&only_one),
            "{} was not selected",
            agent.node()
        );
    }
}

#[test]
fn every_agent_reports_a_network_coordinate_measured_by_gossip() {
    let cluster = cluster_with_clients();
    let mut client = cluster.clients[0].client();
    wait_for(
        DEADLINE,
        "the agent's coordinate to move off its start",
        || {
            let me = client
                .try_request("GET", "/v1/agent/self", b"")
                .ok()?
                .json();
            let error = me["Coord"]["Error"].as_f64()?;
            (error < 1.5).then_some(())
        },
    );
    let nodes: Vec<String> = cluster
        .servers
        .iter()
        .chain(&cluster.clients)
        .map(|agent| agent.node().to_string())
        .collect();
    wait_for(
        DEADLINE,
        "a coordinate for every node in the catalog",
        || {
            let listed = client
                .try_request("GET", "/v1/coordinate/nodes", b"")
                .ok()?
                .json();
            let named: Vec<&str> = listed
                .as_array()?
                .iter()
                .filter_map(|c| c["Node"].as_str())
                .collect();
            nodes
                .iter()
                .all(|n| named.contains(&n.as_str()))
                .then_some(())
        },
    );
    // The order itself is checked with fixed coordinates in coordinates.rs; here the agent's
    // own measured coordinate must be usable as the origin.
    let near = client
        .get("/v1/catalog/nodes?near=_agent")
        .expect(200)
        .json();
    assert_eq!(near.as_array().map(Vec::len), Some(nodes.len()), "{near}");
}
