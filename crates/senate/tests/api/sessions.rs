//! Session endpoints: create (defaults and Patroni-style lower-case fields), info, list, node,
//! renew, destroy, input validation and TTL expiry.

use crate::harness::{wait_for, Server};
use crate::ops::{create_session, get_entry, put_bool, session_info};
use serde_json::Value;
use std::time::{Duration, Instant};

const FIFTEEN_SECONDS_NS: u64 = 15_000_000_000;

#[test]
fn create_without_body_uses_agent_defaults() {
    let server = Server::dev();
    let mut c = server.client();
    let id = create_session(&mut c, "");

    let sessions = session_info(&mut c, &id);
    assert_eq!(sessions.len(), 1);
    let session = &sessions[0];
    assert_eq!(session["ID"], id.as_str());
    assert_eq!(
        session["Node"],
        server.node(),
        "the session belongs to the agent's node"
    );
    assert_eq!(session["NodeChecks"], serde_json::json!(["serfHealth"]));
    if let Some(checks) = session.get("Checks").filter(|checks| !checks.is_null()) {
        assert_eq!(
            checks,
            &serde_json::json!(["serfHealth"]),
            "deprecated Checks mirrors NodeChecks"
        );
    }
    assert_eq!(session["LockDelay"].as_u64(), Some(FIFTEEN_SECONDS_NS));
    assert_eq!(session["Behavior"], "release");
    assert_eq!(session["TTL"], "");
    assert_eq!(session["Name"], "");
    let create_index = session["CreateIndex"].as_u64().expect("CreateIndex");
    assert!(create_index > 0);
    assert_eq!(session["ModifyIndex"].as_u64(), Some(create_index));
}

#[test]
fn create_accepts_lower_case_fields_like_patroni_sends() {
    let server = Server::dev();
    let mut c = server.client();
    let id = create_session(
        &mut c,
        r#"{"name":"x","ttl":"15.0s","behavior":"delete","lockdelay":"1s"}"#,
    );

    let session = session_info(&mut c, &id).pop().expect("session exists");
    assert_eq!(session["Name"], "x");
    assert_eq!(session["Behavior"], "delete");
    assert_eq!(session["LockDelay"].as_u64(), Some(1_000_000_000));
    let ttl = session["TTL"].as_str().expect("TTL is a string");
    assert!(
        ttl == "15.0s" || ttl == "15s",
        "TTL {ttl:?} should be the 15 s given"
    );
    assert_eq!(session["Node"], server.node());
}

#[test]
fn create_with_canonical_fields_and_numeric_lock_delay() {
    let server = Server::dev();
    let mut c = server.client();
    let body = format!(
        r#"{{"Name":"svc","Node":"{}","LockDelay":5,"Behavior":"release","TTL":"30s"}}"#,
        server.node()
    );
    let id = create_session(&mut c, &body);
    let session = session_info(&mut c, &id).pop().expect("session exists");
    assert_eq!(session["Name"], "svc");
    assert_eq!(
        session["LockDelay"].as_u64(),
        Some(5_000_000_000),
        "small numbers are seconds"
    );
    assert_eq!(session["TTL"], "30s");
}

#[test]
fn list_node_info_and_destroy() {
    let server = Server::dev();
    let mut c = server.client();
    let first = create_session(&mut c, r#"{"Name":"first"}"#);
    let second = create_session(&mut c, r#"{"Name":"second"}"#);

    let ids = |value: Value| -> Vec<String> {
        let sessions = value.as_array().cloned().expect("a JSON array of sessions");
        let mut ids: Vec<String> = sessions
            .iter()
            .map(|s| s["ID"].as_str().expect("ID").to_string())
            .collect();
        ids.sort();
        ids
    };
    let mut expected = vec![first.clone(), second.clone()];
    expected.sort();

    let list = c.get("/v1/session/list").expect(200);
    assert!(list.index() > 0);
    assert_eq!(ids(list.json()), expected);
    let by_node = c
        .get(&format!("/v1/session/node/{}", server.node()))
        .expect(200);
    assert_eq!(ids(by_node.json()), expected);
    let other_node = c.get("/v1/session/node/no-such-node").expect(200);
    assert_eq!(other_node.json(), serde_json::json!([]));

    assert_eq!(
        c.put(&format!("/v1/session/destroy/{first}"), "")
            .expect(200)
            .json(),
        Value::Bool(true)
    );
    assert!(
        session_info(&mut c, &first).is_empty(),
        "a destroyed session is gone"
    );
    assert_eq!(
        ids(c.get("/v1/session/list").expect(200).json()),
        vec![second]
    );
}

#[test]
fn renew_returns_the_session_and_404_for_unknown() {
    let server = Server::dev();
    let mut c = server.client();
    let id = create_session(&mut c, r#"{"TTL":"20s","Name":"renewable"}"#);

    let renewed = c
        .put(&format!("/v1/session/renew/{id}"), "")
        .expect(200)
        .json();
    let renewed = renewed.as_array().expect("renew answers a JSON array");
    assert_eq!(renewed.len(), 1);
    assert_eq!(renewed[0]["ID"], id.as_str());
    assert_eq!(renewed[0]["Name"], "renewable");
    assert!(renewed[0]["TTL"]
        .as_str()
        .is_some_and(|ttl| !ttl.is_empty()));

    let unknown = "00000000-0000-4000-8000-000000000000";
    let missing = c
        .put(&format!("/v1/session/renew/{unknown}"), "")
        .expect(404);
    assert!(
        missing.text().contains(unknown),
        "body: {:?}",
        missing.text()
    );
}

#[test]
fn invalid_session_bodies_are_rejected() {
    let server = Server::dev();
    let mut c = server.client();
    // A TTL out of range is Consul's 500 (clients such as Patroni read it); the rest are 400s.
    let cases = [
        (r#"{"TTL":"5s"}"#, "TTL below 10s", 500),
        (r#"{"TTL":"100000s"}"#, "TTL above 24h", 500),
        (r#"{"TTL":"soon"}"#, "TTL not a duration", 400),
        (r#"{"Behavior":"explode"}"#, "unknown behavior", 400),
        (r#"{"Name": "#, "malformed JSON", 400),
        (
            r#"{"LockDelay":"forever"}"#,
            "lock delay not a duration",
            400,
        ),
    ];
    for (body, why, status) in cases {
        let response = c.put("/v1/session/create", body);
        assert_eq!(
            response.status,
            status,
            "{why}: {body} answered {} {:?}",
            response.status,
            response.text()
        );
    }
    assert_eq!(
        c.get("/v1/session/list").expect(200).json(),
        serde_json::json!([]),
        "nothing was created"
    );
}

#[test]
fn ttl_session_expires_without_renewal_and_releases_its_lock() {
    let server = Server::dev();
    let mut c = server.client();
    let id = create_session(&mut c, r#"{"TTL":"10s","LockDelay":"0s"}"#);
    let created = Instant::now();
    assert!(put_bool(
        &mut c,
        &format!("/v1/kv/ttl-lock?acquire={id}"),
        "held"
    ));

    wait_for(Duration::from_secs(25), "the TTL session to expire", || {
        session_info(&mut c, &id).is_empty().then_some(())
    });
    let lived = created.elapsed();
    assert!(
        lived >= Duration::from_secs(9),
        "a 10s TTL session expired after only {lived:?}"
    );

    let entry = get_entry(&mut c, "ttl-lock").expect("behavior=release keeps the key");
    assert!(entry.get("Session").is_none(), "lock not released: {entry}");
    assert_eq!(entry["LockIndex"], 1);
}

#[test]
fn session_ttl_min_sets_the_shortest_ttl_and_a_shorter_one_is_consuls_500() {
    let server = Server::dev_with(&["-hcl", "session_ttl_min = \"5s\""]);
    let mut client = server.client();
    wait_for(Duration::from_secs(30), "a 6s session", || {
        let accepted = client.put("/v1/session/create", r#"{"TTL": "6s"}"#);
        (accepted.status == 200).then_some(())
    });
    let refused = client.put("/v1/session/create", r#"{"TTL": "3s"}"#);
    assert_eq!(refused.status, 500, "{}", refused.text());
    assert!(
        refused
            .text()
            .starts_with("Invalid Session TTL '3s', must be between [5s=24h0m0s]"),
        "{}",
        refused.text()
    );
}
