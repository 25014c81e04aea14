//! Gossip encryption across 3 servers and 2 client agents: the keyring endpoint lists, installs,
//! uses and removes keys on all five while every member stays alive; an agent with the wrong key
//! is refused and says why; bad keyring requests change nothing; a pool without encryption
//! answers the keyring endpoint with an error.

use crate::cluster::Cluster;
use crate::harness::{wait_for, Server};
use crate::http::Client;
use serde_json::{json, Value};
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(30);
const FIRST_KEY: &str = "pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s=";
const SECOND_KEY: &str = "HS5lJ+XuTlYKWaeGYyG+/A==";
const WRONG_KEY: &str = "Z0T4E6Zf9NoPY86W4Gu3cZk6tG6N3v9S2bl4m1sOKwY=";

/// Three servers and two clients, all with `FIRST_KEY`, every member alive on every agent.
fn encrypted_cluster() -> Cluster {
    let encrypt = format!("-encrypt={FIRST_KEY}");
    let mut cluster = Cluster::start_with(3, &[&encrypt]);
    cluster.add_client_with(&[&encrypt]);
    cluster.add_client_with(&[&encrypt]);
    for agent in cluster.servers.iter().chain(&cluster.clients) {
        let mut client = agent.client();
        wait_for(DEADLINE, "five alive members", || {
            (alive_members(&mut client)? == 5).then_some(())
        });
    }
    cluster
}

fn alive_members(client: &mut Client) -> Option<usize> {
    let members = client
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

/// The LAN pool's key counts, as `GET /v1/operator/keyring` reports them.
fn key_counts(client: &mut Client) -> Value {
    let pools = client.get("/v1/operator/keyring").expect(200).json();
    let lan = pools
        .as_array()
        .and_then(|pools| pools.iter().find(|p| p["WAN"] == false))
        .unwrap_or_else(|| panic!("a LAN pool: {pools}"))
        .clone();
    assert_eq!(lan["NumNodes"], 5, "{lan}");
    lan
}

fn change(client: &mut Client, method: &str, key: &str) -> crate::http::Response {
    let body = json!({ "Key": key }).to_string();
    client.request(method, "/v1/operator/keyring", body.as_bytes())
}

#[test]
fn the_primary_key_rotates_across_all_agents_while_gossip_stays_up() {
    let cluster = encrypted_cluster();
    let mut operator = cluster.clients[0].client();
    let before = key_counts(&mut operator);
    assert_eq!(before["Keys"], json!({ FIRST_KEY: 5 }), "{before}");
    assert_eq!(before["PrimaryKeys"], json!({ FIRST_KEY: 5 }), "{before}");

    change(&mut operator, "POST", SECOND_KEY).expect(200);
    let installed = key_counts(&mut operator);
    assert_eq!(installed["Keys"], json!({ FIRST_KEY: 5, SECOND_KEY: 5 }));
    change(&mut operator, "PUT", SECOND_KEY).expect(200);
    assert_eq!(
        key_counts(&mut operator)["PrimaryKeys"],
        json!({ SECOND_KEY: 5 })
    );
    change(&mut operator, "DELETE", FIRST_KEY).expect(200);
    let after = key_counts(&mut operator);
    assert_eq!(after["Keys"], json!({ SECOND_KEY: 5 }), "{after}");
    for agent in cluster.servers.iter().chain(&cluster.clients) {
        assert_eq!(
            alive_members(&mut agent.client()),
            Some(5),
            "gossip stayed up"
        );
    }
    let mut server = cluster.servers[0].client();
    let me = server.get("/v1/agent/self").expect(200).json();
    assert_eq!(me["Stats"]["serf_lan"]["encrypted"], "true");
}

#[test]
fn bad_keyring_requests_are_refused_and_change_nothing() {
    let cluster = encrypted_cluster();
    let mut operator = cluster.servers[1].client();
    let primary = change(&mut operator, "DELETE", FIRST_KEY);
    assert_eq!(primary.status, 500, "{}", primary.text());
    assert!(primary
        .text()
        .contains("Removing the primary key is not allowed"));
    let unknown = change(&mut operator, "PUT", SECOND_KEY);
    assert_eq!(unknown.status, 500, "{}", unknown.text());
    let malformed = change(&mut operator, "POST", "not base64!");
    assert_eq!(malformed.status, 400, "{}", malformed.text());
    assert!(
        malformed.text().contains("encrypt key"),
        "{}",
        malformed.text()
    );
    let relay = operator.get("/v1/operator/keyring?relay-factor=9");
    assert_eq!(relay.status, 400, "{}", relay.text());
    let local = change(&mut operator, "POST", SECOND_KEY);
    assert_eq!(local.status, 200, "{}", local.text());
    let local_only = operator.request(
        "POST",
        "/v1/operator/keyring?local-only=1",
        json!({ "Key": SECOND_KEY }).to_string().as_bytes(),
    );
    assert_eq!(local_only.status, 400, "{}", local_only.text());
    let after = key_counts(&mut operator);
    assert_eq!(after["PrimaryKeys"], json!({ FIRST_KEY: 5 }), "{after}");
}

#[test]
fn an_agent_with_the_wrong_key_cannot_join_and_says_why() {
    let mut cluster = encrypted_cluster();
    let wrong = format!("-encrypt={WRONG_KEY}");
    let intruder = cluster.add_client_with(&[&wrong]);
    wait_for(DEADLINE, "the intruder to report the key", || {
        let log = cluster.clients[intruder].log_text();
        log.contains("is the cluster's gossip key").then_some(())
    });
    let mut server = cluster.servers[0].client();
    let members = server.get("/v1/agent/members").json();
    let names: Vec<&str> = members
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["Name"].as_str())
        .collect();
    let intruder_name = cluster.clients[intruder].node();
    assert!(!names.contains(&intruder_name), "{members}");
}

#[test]
fn a_pool_without_encryption_refuses_keyring_requests() {
    let server = Server::dev();
    let response = server.client().get("/v1/operator/keyring");
    assert_eq!(response.status, 500, "{}", response.text());
    assert!(
        response.text().contains("Gossip encryption is not enabled"),
        "{}",
        response.text()
    );
}

#[test]
fn keygen_makes_a_key_an_agent_accepts() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_senate"))
        .arg("keygen")
        .output()
        .expect("running senate keygen");
    let key = String::from_utf8(output.stdout)
        .expect("UTF-8")
        .trim()
        .to_string();
    assert_eq!(key.len(), 44, "32 bytes, base64: {key}");
    let flag = format!("-encrypt={key}");
    let server = Server::dev_with(&[&flag]);
    let me = server.client().get("/v1/agent/self").expect(200).json();
    assert_eq!(me["Stats"]["serf_lan"]["encrypted"], "true");
}
