//! Health reads: a service's instances with their node and checks (`?passing`, `?tag=`), a
//! service's checks, a node's checks, checks by state; blocking that wakes only for what was
//! read; and sessions invalidated when a check they depend on fails or goes away.

use crate::harness::{wait_for, Server};
use crate::http::Client;
use crate::ops::{
    assert_change_does_not_wake, assert_change_wakes, catalog_check, create_session, get_entry,
    get_json, put_bool, put_ok, put_true, session_info,
};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;

#[track_caller]
fn register(client: &mut Client, body: Value) {
    put_true(client, "/v1/catalog/register", body.to_string());
}

#[track_caller]
fn get_array(client: &mut Client, path: &str) -> Vec<Value> {
    get_json(client, path)
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("{path} should answer a JSON array"))
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|item| item.to_string()).collect()
}

fn check_ids(checks: &Value) -> BTreeSet<String> {
    checks
        .as_array()
        .unwrap_or_else(|| panic!("Checks should be an array: {checks}"))
        .iter()
        .map(|check| check["CheckID"].as_str().expect("CheckID").to_string())
        .collect()
}

/// `web` runs twice on `n1` (web-a passing, web-b warning) under a passing node check, and once
/// on `n2` with a critical check; `n2` also has a check in the `unknown` state.
fn register_web_fleet(client: &mut Client) {
    let n1 = || json!({"Node": "n1", "Address": "10.0.0.1"});
    let n2 = || json!({"Node": "n2", "Address": "10.0.0.2"});
    let with = |mut node: Value, field: &str, value: Value| {
        node[field] = value;
        node
    };
    register(
        client,
        with(
            n1(),
            "Check",
            json!({"CheckID": "n1-disk", "Name": "disk", "Status": "passing"}),
        ),
    );
    for (id, tags, status) in [
        ("web-a", json!(["v1", "blue"]), "passing"),
        ("web-b", json!(["v2"]), "warning"),
    ] {
        let mut body = with(
            n1(),
            "Service",
            json!({"ID": id, "Service": "web", "Tags": tags, "Port": 80}),
        );
        body["Check"] = json!({"CheckID": format!("{id}-check"), "Name": id,
                               "Status": status, "ServiceID": id});
        register(client, body);
    }
    let mut body = with(
        n2(),
        "Service",
        json!({"Service": "web", "Tags": ["v1"], "Port": 81}),
    );
    body["Checks"] = json!([
        {"CheckID": "web-check", "Name": "web", "Status": "critical", "ServiceID": "web"},
        {"CheckID": "n2-new", "Name": "not run yet", "Status": "unknown"}
    ]);
    register(client, body);
}

/// The entries of `/v1/health/service/...` keyed by "node/service-id", with their check IDs.
fn entries(client: &mut Client, path: &str) -> Vec<(String, BTreeSet<String>)> {
    let mut found: Vec<(String, BTreeSet<String>)> = get_array(client, path)
        .iter()
        .map(|entry| {
            let node = entry["Node"]["Node"].as_str().expect("Node.Node");
            let service = entry["Service"]["ID"].as_str().expect("Service.ID");
            (format!("{node}/{service}"), check_ids(&entry["Checks"]))
        })
        .collect();
    found.sort();
    found
}

#[test]
fn service_entries_carry_node_checks_and_only_their_own_service_checks() {
    let server = Server::dev();
    let mut c = server.client();
    register_web_fleet(&mut c);

    let all = get_array(&mut c, "/v1/health/service/web");
    let n2_entry = all
        .iter()
        .find(|e| e["Node"]["Node"] == "n2")
        .expect("an entry for n2");
    assert_eq!(n2_entry["Node"]["Address"], "10.0.0.2");
    assert_eq!(n2_entry["Service"]["Service"], "web");
    assert_eq!(n2_entry["Service"]["Port"], 81);
    assert_eq!(n2_entry["Service"]["Tags"], json!(["v1"]));

    assert_eq!(
        entries(&mut c, "/v1/health/service/web"),
        vec![
            ("n1/web-a".to_string(), set(&["n1-disk", "web-a-check"])),
            ("n1/web-b".to_string(), set(&["n1-disk", "web-b-check"])),
            ("n2/web".to_string(), set(&["n2-new", "web-check"])),
        ]
    );
    let only = |key: &str, checks: &[&str]| vec![(key.to_string(), set(checks))];
    assert_eq!(
        entries(&mut c, "/v1/health/service/web?passing"),
        only("n1/web-a", &["n1-disk", "web-a-check"]),
        "?passing drops entries with any warning, critical or unknown check"
    );
    assert_eq!(
        entries(&mut c, "/v1/health/service/web?passing=false").len(),
        3,
        "?passing=false does not filter"
    );
    assert_eq!(
        entries(&mut c, "/v1/health/service/web?tag=v2"),
        only("n1/web-b", &["n1-disk", "web-b-check"])
    );
    assert_eq!(
        entries(&mut c, "/v1/health/service/web?tag=v1&passing"),
        only("n1/web-a", &["n1-disk", "web-a-check"])
    );
    assert!(entries(&mut c, "/v1/health/service/web?tag=v2&passing").is_empty());
}

#[test]
fn service_checks_and_node_checks() {
    let server = Server::dev();
    let mut c = server.client();
    register_web_fleet(&mut c);

    let service_checks = json!(get_array(&mut c, "/v1/health/checks/web"));
    assert_eq!(
        check_ids(&service_checks),
        set(&["web-a-check", "web-b-check", "web-check"]),
        "only the service's own checks, not node-level ones"
    );
    for check in service_checks.as_array().into_iter().flatten() {
        assert_eq!(check["ServiceName"], "web", "{check}");
    }
    let n1 = json!(get_array(&mut c, "/v1/health/node/n1"));
    assert_eq!(
        check_ids(&n1),
        set(&["n1-disk", "web-a-check", "web-b-check"]),
        "a node's node-level and service checks"
    );
    let web_b = catalog_check(&mut c, "n1", "web-b-check").expect("web-b-check");
    assert_eq!(web_b["Status"], "warning");
    assert_eq!(web_b["ServiceID"], "web-b");
    assert_eq!(web_b["ServiceTags"], json!(["v2"]));
}

#[test]
fn state_reads_filter_checks_by_status() {
    let server = Server::dev();
    let mut c = server.client();
    register_web_fleet(&mut c);
    let own = server.node().to_string();
    let ids_in = |c: &mut Client, state: &str| -> BTreeSet<String> {
        get_array(c, &format!("/v1/health/state/{state}"))
            .iter()
            .map(|check| {
                let node = check["Node"].as_str().expect("Node");
                let id = check["CheckID"].as_str().expect("CheckID");
                if node == own {
                    format!("self/{id}")
                } else {
                    id.to_string()
                }
            })
            .collect()
    };
    assert_eq!(
        ids_in(&mut c, "passing"),
        set(&["n1-disk", "web-a-check", "self/serfHealth"])
    );
    assert_eq!(ids_in(&mut c, "warning"), set(&["web-b-check"]));
    assert_eq!(ids_in(&mut c, "critical"), set(&["web-check"]));
    assert_eq!(ids_in(&mut c, "unknown"), set(&["n2-new"]));
    assert_eq!(
        ids_in(&mut c, "any"),
        set(&[
            "n1-disk",
            "web-a-check",
            "web-b-check",
            "web-check",
            "n2-new",
            "self/serfHealth"
        ])
    );
    let response = c.get("/v1/health/state/sleepy");
    assert_eq!(
        response.status,
        400,
        "an unknown state: {:?}",
        response.text()
    );
}

#[test]
fn blocking_health_service_wakes_for_its_service_nodes_and_checks_only() {
    let server = Server::dev();
    let mut c = server.client();
    register(
        &mut c,
        json!({"Node": "n1", "Address": "10.0.0.1",
               "Service": {"Service": "web"},
               "Checks": [{"CheckID": "web-check", "Name": "web", "Status": "passing",
                           "ServiceID": "web"},
                          {"CheckID": "n1-disk", "Name": "disk", "Status": "passing"}]}),
    );
    let path = "/v1/health/service/web";
    let later = |body: Value| {
        let mut c = server.client();
        move || register(&mut c, body)
    };

    assert_change_does_not_wake(
        &server,
        path,
        later(json!({"Node": "n2", "Address": "10.0.0.2",
                     "Service": {"Service": "unrelated"},
                     "Check": {"CheckID": "unrelated-check", "Name": "u",
                               "Status": "critical", "ServiceID": "unrelated"}})),
    );

    let woken = assert_change_wakes(
        &server,
        path,
        later(json!({"Node": "n1", "Address": "10.0.0.1",
                     "Check": {"CheckID": "web-check", "Name": "web", "Status": "warning",
                               "ServiceID": "web"}})),
    );
    let statuses: Vec<Value> = woken.json()[0]["Checks"]
        .as_array()
        .expect("Checks")
        .iter()
        .filter(|check| check["CheckID"] == "web-check")
        .map(|check| check["Status"].clone())
        .collect();
    assert_eq!(
        statuses,
        vec![json!("warning")],
        "the service check's new status"
    );

    let woken = assert_change_wakes(
        &server,
        path,
        later(json!({"Node": "n1", "Address": "10.0.0.1",
                     "Check": {"CheckID": "n1-disk", "Name": "disk", "Status": "critical"}})),
    );
    assert!(
        woken.text().contains("critical"),
        "node check change: {}",
        woken.text()
    );

    let woken = assert_change_wakes(
        &server,
        path,
        later(json!({"Node": "n1", "Address": "10.0.0.99"})),
    );
    assert_eq!(woken.json()[0]["Node"]["Address"], "10.0.0.99");

    let woken = assert_change_wakes(
        &server,
        path,
        later(json!({"Node": "n2", "Address": "10.0.0.2", "Service": {"Service": "web"}})),
    );
    assert_eq!(woken.json().as_array().map(Vec::len), Some(2));

    let woken = assert_change_wakes(&server, path, || {
        put_true(
            &mut server.client(),
            "/v1/catalog/deregister",
            json!({"Node": "n2", "ServiceID": "web"}).to_string(),
        )
    });
    assert_eq!(woken.json().as_array().map(Vec::len), Some(1));
}

#[test]
fn other_health_reads_block_and_accept_consistency_modes() {
    let server = Server::dev();
    let mut c = server.client();
    register(
        &mut c,
        json!({"Node": "n1", "Address": "10.0.0.1", "Service": {"Service": "web"},
               "Check": {"CheckID": "web-check", "Name": "web", "Status": "passing",
                         "ServiceID": "web"}}),
    );
    let set_web_check = |status: &'static str| {
        let mut c = server.client();
        move || {
            register(
                &mut c,
                json!({"Node": "n1", "Address": "10.0.0.1",
                       "Check": {"CheckID": "web-check", "Name": "web", "Status": status,
                                 "ServiceID": "web"}}),
            )
        }
    };
    for (path, status) in [
        ("/v1/health/checks/web", "warning"),
        ("/v1/health/node/n1", "critical"),
        ("/v1/health/state/any", "passing"),
        ("/v1/health/state/warning", "warning"),
    ] {
        let woken = assert_change_wakes(&server, path, set_web_check(status));
        assert!(woken.text().contains(status), "{path}: {}", woken.text());
    }
    for path in [
        "/v1/health/service/web",
        "/v1/health/checks/web",
        "/v1/health/node/n1",
        "/v1/health/state/any",
    ] {
        let default = c.get(path).expect(200);
        for mode in ["stale", "consistent"] {
            let response = c.get(&format!("{path}?{mode}")).expect(200);
            assert_eq!(response.json(), default.json(), "{path}?{mode}");
            assert_eq!(response.index(), default.index(), "{path}?{mode}");
        }
    }
}

/// Registers an agent TTL check that starts passing, and waits until the catalog has it
/// (a session can only name checks the catalog knows, and not critical ones).
fn passing_ttl_check(server: &Server, check_id: &str) {
    let mut c = server.client();
    put_ok(
        &mut c,
        "/v1/agent/check/register",
        json!({"ID": check_id, "Name": check_id, "TTL": "60s", "Status": "passing"}).to_string(),
    );
    wait_for(
        Duration::from_secs(10),
        "the TTL check in the catalog",
        || {
            catalog_check(&mut c, server.node(), check_id)
                .filter(|check| check["Status"] == "passing")
        },
    );
}

/// Creates a session tied to `serfHealth` and `check_id` and takes the lock on `key` with it.
fn lock_with_check(server: &Server, check_id: &str, behavior: &str, key: &str) -> String {
    let mut c = server.client();
    let body = json!({"Name": "locker", "Checks": ["serfHealth", check_id],
                      "Behavior": behavior, "LockDelay": "0s"});
    let session = create_session(&mut c, &body.to_string());
    assert!(put_bool(
        &mut c,
        &format!("/v1/kv/{key}?acquire={session}"),
        "held"
    ));
    let entry = get_entry(&mut c, key).expect("the locked key");
    assert_eq!(entry["Session"], session.as_str());
    session
}

#[test]
fn a_failing_check_invalidates_its_sessions_and_releases_their_locks() {
    let server = Server::dev();
    let mut c = server.client();
    passing_ttl_check(&server, "lock-ttl");
    let session = lock_with_check(&server, "lock-ttl", "release", "service/leader");
    let other = create_session(&mut c, "");

    put_ok(&mut c, "/v1/agent/check/fail/lock-ttl?note=down", "");
    wait_for(
        Duration::from_secs(10),
        "the session to be invalidated",
        || session_info(&mut c, &session).is_empty().then_some(()),
    );
    let entry = get_entry(&mut c, "service/leader").expect("release keeps the key");
    assert!(
        entry.get("Session").is_none_or(Value::is_null),
        "the lock is released: {entry}"
    );
    assert_eq!(
        session_info(&mut c, &other).len(),
        1,
        "a session not tied to the check is untouched"
    );
}

#[test]
fn deregistering_a_check_invalidates_its_sessions_and_deletes_their_keys() {
    let server = Server::dev();
    let mut c = server.client();
    passing_ttl_check(&server, "lock-ttl");
    let session = lock_with_check(&server, "lock-ttl", "delete", "service/ephemeral");

    put_ok(&mut c, "/v1/agent/check/deregister/lock-ttl", "");
    wait_for(
        Duration::from_secs(10),
        "the session to be invalidated",
        || session_info(&mut c, &session).is_empty().then_some(()),
    );
    assert!(
        get_entry(&mut c, "service/ephemeral").is_none(),
        "Behavior delete removes the held key"
    );
}
