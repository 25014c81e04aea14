//! Cluster status and agent information: `/v1/status/*`, `/v1/operator/raft/configuration`,
//! `/v1/agent/self` and `/v1/agent/members`.

use crate::harness::Server;
use serde_json::Value;

fn leader(server: &Server) -> String {
    let leader = server.client().get("/v1/status/leader").expect(200).json();
    leader
        .as_str()
        .expect("the leader is a JSON string")
        .to_string()
}

#[test]
fn leader_and_peers() {
    let server = Server::dev();
    let leader = leader(&server);
    let (ip, port) = leader
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("leader {leader:?} is not ip:port"));
    assert!(
        ip.parse::<std::net::IpAddr>().is_ok(),
        "leader {leader:?} has no IP"
    );
    assert!(
        port.parse::<u16>().is_ok_and(|p| p > 0),
        "leader {leader:?} has no port"
    );

    let peers = server.client().get("/v1/status/peers").expect(200).json();
    assert_eq!(
        peers,
        Value::Array(vec![Value::String(leader)]),
        "a single server is its only peer"
    );
}

#[test]
fn raft_configuration_has_one_voting_leader() {
    let server = Server::dev();
    let response = server
        .client()
        .get("/v1/operator/raft/configuration")
        .expect(200);
    let configuration = response.json();
    let servers = configuration["Servers"]
        .as_array()
        .expect("Servers is an array");
    assert_eq!(servers.len(), 1, "{configuration}");
    let only = &servers[0];
    assert_eq!(only["Leader"], true);
    assert_eq!(only["Voter"], true);
    assert_eq!(only["Node"], server.node());
    assert_eq!(only["Address"], leader(&server).as_str());
    assert!(only["ID"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(
        configuration["Index"].as_u64().is_some(),
        "Index is a number: {configuration}"
    );
}

#[test]
fn agent_self_describes_this_agent() {
    let server = Server::dev();
    let me = server.client().get("/v1/agent/self").expect(200).json();
    let config = &me["Config"];
    assert_eq!(config["Datacenter"], "dc1");
    assert_eq!(config["NodeName"], server.node());
    assert_eq!(config["Server"], true);
    let version = config["Version"]
        .as_str()
        .expect("Config.Version is a string");
    let parts: Vec<&str> = version.split('.').collect();
    assert!(
        parts.len() == 3 && parts.iter().all(|p| p.parse::<u32>().is_ok()),
        "version {version:?} is not x.y.z"
    );
    assert!(
        version.starts_with("1."),
        "Consul-compatible version, got {version:?}"
    );
    assert_eq!(me["Member"]["Name"], server.node());
}

#[test]
fn agent_members_lists_this_node() {
    let server = Server::dev();
    let members = server.client().get("/v1/agent/members").expect(200).json();
    let members = members.as_array().expect("members is an array");
    let me = members
        .iter()
        .find(|m| m["Name"] == server.node())
        .unwrap_or_else(|| panic!("{} missing from {members:?}", server.node()));
    assert_eq!(me["Status"], 1, "alive");
    assert!(me["Addr"].as_str().is_some_and(|a| !a.is_empty()));
}
