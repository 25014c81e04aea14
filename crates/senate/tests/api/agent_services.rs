//! The local agent's service endpoints: register (defaults, service check IDs and names,
//! updates), deregister, the listings, maintenance modes, reload, and the requests the agent
//! must refuse.

use crate::harness::{wait_for, Server, TempDir};
use crate::http::Client;
use crate::ops::{agent_check, catalog_check, get_json, put_ok};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;

const SYNC_DEADLINE: Duration = Duration::from_secs(10);

#[track_caller]
fn register_service(client: &mut Client, definition: Value) {
    put_ok(client, "/v1/agent/service/register", definition.to_string());
}

fn agent_check_ids(client: &mut Client) -> BTreeSet<String> {
    let checks = get_json(client, "/v1/agent/checks");
    checks
        .as_object()
        .expect("/v1/agent/checks answers a JSON object")
        .keys()
        .cloned()
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|item| item.to_string()).collect()
}

/// Polls the catalog until `/v1/catalog/service/<name>` satisfies `done`.
#[track_caller]
fn wait_for_catalog(client: &mut Client, name: &str, what: &str, done: impl Fn(&[Value]) -> bool) {
    wait_for(SYNC_DEADLINE, what, || {
        let instances = get_json(client, &format!("/v1/catalog/service/{name}"));
        done(instances.as_array().expect("a JSON array")).then_some(())
    });
}

#[test]
fn a_registered_service_is_listed_with_consuls_defaults() {
    let server = Server::dev();
    let mut c = server.client();
    register_service(
        &mut c,
        json!({"ID": "web-1", "Name": "web", "Tags": ["a", "b"], "Address": "10.0.0.5",
               "Port": 8080, "Meta": {"ver": "1"}, "EnableTagOverride": true}),
    );
    register_service(&mut c, json!({"Name": "bare"}));

    let services = get_json(&mut c, "/v1/agent/services");
    let web = &services["web-1"];
    for (field, expected) in [
        ("ID", json!("web-1")),
        ("Service", json!("web")),
        ("Tags", json!(["a", "b"])),
        ("Address", json!("10.0.0.5")),
        ("Port", json!(8080)),
        ("Meta", json!({"ver": "1"})),
        ("EnableTagOverride", json!(true)),
        ("Weights", json!({"Passing": 1, "Warning": 1})),
        ("Datacenter", json!("dc1")),
    ] {
        assert_eq!(web[field], expected, "{field} in {web}");
    }
    assert_eq!(
        services["bare"]["ID"], "bare",
        "the ID defaults to the name"
    );
    assert_eq!(services["bare"]["Service"], "bare");
    assert_eq!(services["bare"]["Port"], 0);
    assert_eq!(get_json(&mut c, "/v1/agent/service/web-1"), *web);
    assert_eq!(c.get("/v1/agent/service/nope").status, 404);

    wait_for_catalog(&mut c, "web", "web-1 in the catalog", |instances| {
        instances.iter().any(|i| {
            i["ServiceID"] == "web-1"
                && i["Node"] == server.node()
                && i["ServicePort"] == 8080
                && i["ServiceTags"] == json!(["a", "b"])
        })
    });
}

#[test]
fn service_checks_get_consuls_ids_and_names() {
    let server = Server::dev();
    let mut c = server.client();
    register_service(
        &mut c,
        json!({"ID": "api-1", "Name": "api", "Tags": ["t"], "Check": {"TTL": "30s"}}),
    );
    register_service(
        &mut c,
        json!({"Name": "multi", "Checks": [
            {"TTL": "30s"},
            {"TTL": "30s", "Notes": "second"},
            {"TTL": "30s", "CheckID": "mine", "Name": "My own"}
        ]}),
    );
    assert_eq!(
        agent_check_ids(&mut c),
        set(&[
            "service:api-1",
            "service:multi:1",
            "service:multi:2",
            "mine"
        ])
    );
    let check = agent_check(&mut c, "service:api-1").expect("service:api-1");
    for (field, expected) in [
        ("Node", json!(server.node())),
        ("CheckID", json!("service:api-1")),
        ("Name", json!("Service 'api' check")),
        ("Status", json!("critical")),
        ("ServiceID", json!("api-1")),
        ("ServiceName", json!("api")),
        ("ServiceTags", json!(["t"])),
        ("Type", json!("ttl")),
    ] {
        assert_eq!(check[field], expected, "{field} in {check}");
    }
    let second = agent_check(&mut c, "service:multi:2").expect("service:multi:2");
    assert_eq!(second["Name"], "Service 'multi' check");
    assert_eq!(second["Notes"], "second");
    assert_eq!(second["ServiceID"], "multi");
    let mine = agent_check(&mut c, "mine").expect("mine");
    assert_eq!(mine["Name"], "My own");
    assert_eq!(mine["ServiceID"], "multi");

    wait_for(SYNC_DEADLINE, "the service checks in the catalog", || {
        let checks = get_json(&mut c, "/v1/health/checks/multi");
        (checks.as_array().map(Vec::len) == Some(3)).then_some(())
    });
}

#[test]
fn re_registering_a_service_updates_it() {
    let server = Server::dev();
    let mut c = server.client();
    register_service(
        &mut c,
        json!({"Name": "web", "Port": 80, "Tags": ["v1"], "Check": {"TTL": "30s"}}),
    );
    register_service(
        &mut c,
        json!({"Name": "web", "Port": 81, "Tags": ["v2"], "Check": {"TTL": "30s"}}),
    );
    let services = get_json(&mut c, "/v1/agent/services");
    assert_eq!(services.as_object().map(|s| s.len()), Some(1), "{services}");
    assert_eq!(services["web"]["Port"], 81);
    assert_eq!(services["web"]["Tags"], json!(["v2"]));
    assert_eq!(agent_check_ids(&mut c), set(&["service:web"]));
    wait_for_catalog(&mut c, "web", "the update in the catalog", |instances| {
        instances.len() == 1
            && instances[0]["ServicePort"] == 81
            && instances[0]["ServiceTags"] == json!(["v2"])
    });
}

#[test]
fn deregistering_removes_the_service_and_its_checks() {
    let server = Server::dev();
    let mut c = server.client();
    register_service(&mut c, json!({"Name": "gone", "Check": {"TTL": "30s"}}));
    put_ok(
        &mut c,
        "/v1/agent/check/register",
        json!({"ID": "gone-extra", "Name": "extra", "ServiceID": "gone", "TTL": "30s"}).to_string(),
    );
    put_ok(
        &mut c,
        "/v1/agent/check/register",
        json!({"ID": "node-level", "Name": "node level", "TTL": "30s"}).to_string(),
    );
    assert_eq!(
        agent_check(&mut c, "gone-extra").expect("gone-extra")["ServiceName"],
        "gone"
    );
    wait_for_catalog(&mut c, "gone", "the service in the catalog", |i| {
        i.len() == 1
    });

    put_ok(&mut c, "/v1/agent/service/deregister/gone", "");
    assert!(get_json(&mut c, "/v1/agent/services").get("gone").is_none());
    assert_eq!(agent_check_ids(&mut c), set(&["node-level"]));
    wait_for_catalog(
        &mut c,
        "gone",
        "the service to leave the catalog",
        <[Value]>::is_empty,
    );
    wait_for(SYNC_DEADLINE, "its checks to leave the catalog", || {
        catalog_check(&mut c, server.node(), "gone-extra")
            .is_none()
            .then_some(())
    });

    put_ok(&mut c, "/v1/agent/check/deregister/node-level", "");
    assert!(agent_check_ids(&mut c).is_empty());
    wait_for(SYNC_DEADLINE, "the node check to leave the catalog", || {
        catalog_check(&mut c, server.node(), "node-level")
            .is_none()
            .then_some(())
    });

    assert_eq!(c.put("/v1/agent/service/deregister/gone", "").status, 404);
    assert_eq!(
        c.put("/v1/agent/check/deregister/node-level", "").status,
        404
    );
}

#[test]
fn a_check_for_an_unknown_service_is_404() {
    let server = Server::dev();
    let mut c = server.client();
    let response = c.put(
        "/v1/agent/check/register",
        json!({"Name": "orphan", "ServiceID": "nope", "TTL": "30s"}).to_string(),
    );
    assert_eq!(
        response.status,
        404,
        "Consul answers 404 when the ServiceID is not registered here: {:?}",
        response.text()
    );
    assert!(agent_check_ids(&mut c).is_empty());
}

#[test]
fn agent_write_endpoints_refuse_get() {
    let server = Server::dev();
    let mut c = server.client();
    register_service(&mut c, json!({"Name": "web", "Check": {"TTL": "30s"}}));
    for path in [
        "/v1/agent/service/register",
        "/v1/agent/service/deregister/web",
        "/v1/agent/check/register",
        "/v1/agent/check/deregister/service:web",
        "/v1/agent/check/pass/service:web",
        "/v1/agent/check/warn/service:web",
        "/v1/agent/check/fail/service:web",
        "/v1/agent/check/update/service:web",
        "/v1/agent/maintenance?enable=true",
        "/v1/agent/service/maintenance/web?enable=true",
        "/v1/agent/reload",
    ] {
        let response = c.get(path);
        assert_eq!(response.status, 405, "GET {path}: {:?}", response.text());
    }
    assert!(get_json(&mut c, "/v1/agent/services").get("web").is_some());
    let check = agent_check(&mut c, "service:web").expect("the check is untouched");
    assert_eq!(check["Status"], "critical");
}

#[test]
fn bad_service_and_check_definitions_are_400() {
    let server = Server::dev();
    let mut c = server.client();
    let service_cases = [
        ("missing Name", json!({"ID": "x", "Port": 80})),
        (
            "check with no type",
            json!({"Name": "x", "Check": {"Notes": "nothing to run"}}),
        ),
        ("bad TTL", json!({"Name": "x", "Check": {"TTL": "soon"}})),
        (
            "script check while scripts are disabled",
            json!({"Name": "x", "Check": {"Args": ["true"], "Interval": "10s"}}),
        ),
    ];
    for (what, body) in service_cases {
        let response = c.put("/v1/agent/service/register", body.to_string());
        assert_eq!(
            response.status,
            400,
            "service {what}: {:?}",
            response.text()
        );
    }
    let check_cases = [
        ("missing Name", json!({"TTL": "10s"})),
        ("none of TTL, script, HTTP or TCP", json!({"Name": "c"})),
        ("bad TTL", json!({"Name": "c", "TTL": "ten seconds"})),
        (
            "bad Interval",
            json!({"Name": "c", "HTTP": "http://127.0.0.1:1/", "Interval": "5 parsecs"}),
        ),
        (
            "bad Timeout",
            json!({"Name": "c", "TCP": "127.0.0.1:1", "Interval": "10s", "Timeout": "-"}),
        ),
        (
            "HTTP without Interval",
            json!({"Name": "c", "HTTP": "http://127.0.0.1:1/"}),
        ),
        (
            "script check while scripts are disabled",
            json!({"Name": "c", "Args": ["true"], "Interval": "10s"}),
        ),
        (
            "legacy Script while scripts are disabled",
            json!({"Name": "c", "Script": "true", "Interval": "10s"}),
        ),
    ];
    for (what, body) in check_cases {
        let response = c.put("/v1/agent/check/register", body.to_string());
        assert_eq!(response.status, 400, "check {what}: {:?}", response.text());
    }
    let response = c.put("/v1/agent/service/register", "{not json");
    assert_eq!(
        response.status,
        400,
        "a body that is not JSON: {:?}",
        response.text()
    );

    assert_eq!(get_json(&mut c, "/v1/agent/services"), json!({}));
    assert_eq!(get_json(&mut c, "/v1/agent/checks"), json!({}));
}

#[test]
fn node_maintenance_adds_and_removes_a_critical_check() {
    let server = Server::dev();
    let mut c = server.client();
    register_service(
        &mut c,
        json!({"Name": "web", "Check": {"TTL": "30s", "Status": "passing"}}),
    );
    wait_for(SYNC_DEADLINE, "web passing in the catalog", || {
        let passing = get_json(&mut c, "/v1/health/service/web?passing");
        (passing.as_array().map(Vec::len) == Some(1)).then_some(())
    });

    put_ok(
        &mut c,
        "/v1/agent/maintenance?enable=true&reason=patching",
        "",
    );
    let check = agent_check(&mut c, "_node_maintenance").expect("_node_maintenance");
    assert_eq!(check["Status"], "critical");
    assert_eq!(check["Notes"], "patching");
    assert_eq!(check["ServiceID"], "");
    wait_for(SYNC_DEADLINE, "the maintenance check to hide web", || {
        let passing = get_json(&mut c, "/v1/health/service/web?passing");
        (passing == json!([])).then_some(())
    });

    put_ok(&mut c, "/v1/agent/maintenance?enable=false", "");
    assert!(agent_check(&mut c, "_node_maintenance").is_none());
    wait_for(
        SYNC_DEADLINE,
        "the maintenance check to leave the catalog",
        || {
            catalog_check(&mut c, server.node(), "_node_maintenance")
                .is_none()
                .then_some(())
        },
    );

    put_ok(&mut c, "/v1/agent/maintenance?enable=true", "");
    let check = agent_check(&mut c, "_node_maintenance").expect("_node_maintenance");
    assert_eq!(
        check["Notes"],
        "Maintenance mode is enabled for this node, but no reason was provided. This is a default message."
    );
    let response = c.put("/v1/agent/maintenance", "");
    assert_eq!(
        response.status,
        400,
        "missing enable: {:?}",
        response.text()
    );
    let response = c.put("/v1/agent/maintenance?enable=maybe", "");
    assert_eq!(response.status, 400, "bad enable: {:?}", response.text());
}

#[test]
fn service_maintenance_adds_and_removes_a_critical_service_check() {
    let server = Server::dev();
    let mut c = server.client();
    register_service(&mut c, json!({"ID": "web-1", "Name": "web"}));

    put_ok(
        &mut c,
        "/v1/agent/service/maintenance/web-1?enable=true&reason=deploy",
        "",
    );
    let check_id = "_service_maintenance:web-1";
    let check = agent_check(&mut c, check_id).expect(check_id);
    assert_eq!(check["Status"], "critical");
    assert_eq!(check["Notes"], "deploy");
    assert_eq!(check["ServiceID"], "web-1");
    assert_eq!(check["ServiceName"], "web");
    wait_for(
        SYNC_DEADLINE,
        "the maintenance check in the catalog",
        || {
            let checks = get_json(&mut c, "/v1/health/checks/web");
            checks
                .as_array()
                .expect("a JSON array")
                .iter()
                .any(|check| check["CheckID"] == check_id && check["Status"] == "critical")
                .then_some(())
        },
    );

    put_ok(
        &mut c,
        "/v1/agent/service/maintenance/web-1?enable=false",
        "",
    );
    assert!(agent_check(&mut c, check_id).is_none());
    wait_for(
        SYNC_DEADLINE,
        "the maintenance check to leave the catalog",
        || (get_json(&mut c, "/v1/health/checks/web") == json!([])).then_some(()),
    );

    put_ok(
        &mut c,
        "/v1/agent/service/maintenance/web-1?enable=true",
        "",
    );
    let check = agent_check(&mut c, check_id).expect(check_id);
    assert_eq!(
        check["Notes"],
        "Maintenance mode is enabled for this service, but no reason was provided. This is a default message."
    );
    let response = c.put("/v1/agent/service/maintenance/nope?enable=true", "");
    assert_eq!(
        response.status,
        404,
        "unknown service: {:?}",
        response.text()
    );
    let response = c.put("/v1/agent/service/maintenance/web-1", "");
    assert_eq!(
        response.status,
        400,
        "missing enable: {:?}",
        response.text()
    );
}

#[test]
fn sighup_reloads_the_configuration_and_the_agent_keeps_running() {
    let config_dir = TempDir::new("config");
    let config = config_dir.path().join("services.json");
    let write_config = |name: &str| {
        let body = json!({"services": [{"name": name, "port": 9000}]});
        std::fs::write(&config, body.to_string()).expect("writing the config file");
    };
    write_config("before-hup");
    let config_flag = format!("-config-file={}", config.display());
    let mut server = Server::dev_with(&[&config_flag]);
    let mut c = server.client();
    write_config("after-hup");
    server.signal("HUP");
    wait_for(Duration::from_secs(30), "the reloaded service", || {
        let services = get_json(&mut c, "/v1/agent/services");
        let names: Vec<&String> = services.as_object()?.keys().collect();
        (names == ["after-hup"]).then_some(())
    });
    assert!(server.is_running(), "SIGHUP must not stop the agent");
}

#[test]
fn reload_reapplies_config_services_and_keeps_api_ones() {
    let config_dir = TempDir::new("config");
    let config = config_dir.path().join("services.json");
    let write_config = |name: &str| {
        let body = json!({"services": [{"name": name, "port": 9000}]});
        std::fs::write(&config, body.to_string()).expect("writing the config file");
    };
    write_config("from-file");
    let config_flag = format!("-config-file={}", config.display());
    let server = Server::dev_with(&[&config_flag]);
    let mut c = server.client();
    register_service(&mut c, json!({"Name": "from-api", "Check": {"TTL": "30s"}}));
    let names = |c: &mut Client| -> BTreeSet<String> {
        let services = get_json(c, "/v1/agent/services");
        services
            .as_object()
            .expect("a JSON object")
            .keys()
            .cloned()
            .collect()
    };
    assert_eq!(names(&mut c), set(&["from-api", "from-file"]));

    write_config("renamed");
    put_ok(&mut c, "/v1/agent/reload", "");
    assert_eq!(names(&mut c), set(&["from-api", "renamed"]));
    assert!(
        agent_check(&mut c, "service:from-api").is_some(),
        "API checks survive a reload"
    );
    wait_for_catalog(
        &mut c,
        "from-file",
        "the old config service to leave",
        <[Value]>::is_empty,
    );
    wait_for_catalog(&mut c, "renamed", "the new config service to arrive", |i| {
        i.len() == 1
    });
}

/// Streams `path` from `server`, sending SIGHUP (each logs a reload) until the stream shows
/// a reload; returns what was read.
fn monitor_until_a_reload(server: &Server, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(server.addr()).expect("connecting");
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("a read timeout");
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .expect("sending the request");
    let mut seen = Vec::new();
    wait_for(
        Duration::from_secs(30),
        "the reload logged to the monitor",
        || {
            server.signal("HUP");
            let mut chunk = [0u8; 4096];
            if let Ok(read) = stream.read(&mut chunk) {
                seen.extend_from_slice(&chunk[..read]);
            }
            let text = String::from_utf8_lossy(&seen);
            (text.starts_with("HTTP/1.1 200") && text.contains("configuration reloaded"))
                .then(|| text.into_owned())
        },
    )
}

#[test]
fn monitor_streams_log_lines_at_the_level_asked_for() {
    let server = Server::dev();
    let text = monitor_until_a_reload(&server, "/v1/agent/monitor?loglevel=debug");
    assert!(text.contains("[INFO]"), "{text}");
    let mut c = server.client();
    let response = c.get("/v1/agent/monitor?loglevel=loud");
    assert_eq!(response.status, 400, "{}", response.text());
    assert!(response.text().contains("Unknown log level: loud"));
}

#[test]
fn monitor_with_logjson_streams_one_json_object_per_line() {
    let server = Server::dev();
    let text = monitor_until_a_reload(&server, "/v1/agent/monitor?loglevel=info&logjson");
    let reload = text
        .lines()
        .filter(|line| line.starts_with('{'))
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|entry| {
            entry["@message"]
                .as_str()
                .is_some_and(|message| message.contains("configuration reloaded"))
        })
        .unwrap_or_else(|| panic!("no JSON reload line in {text}"));
    assert_eq!(reload["@level"], "info");
    assert!(reload["@timestamp"].as_str().is_some(), "{reload}");
    assert!(reload["@module"].as_str().is_some(), "{reload}");
}
