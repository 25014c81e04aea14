//! End-to-end tests of the `senate` command line: help, version, config errors, and the client
//! commands against a real `senate agent -dev` on free loopback ports.

mod cli_support;

use cli_support::*;
use std::fs;
use std::thread;
use std::time::{Duration, Instant};

#[test]
fn every_command_has_help_in_both_forms() {
    let commands: &[&[&str]] = &[
        &[],
        &["agent"],
        &["kv"],
        &["kv", "get"],
        &["kv", "put"],
        &["kv", "delete"],
        &["members"],
        &["operator"],
        &["operator", "raft"],
        &["operator", "raft", "list-peers"],
        &["version"],
        &["event"],
        &["rtt"],
        &["keygen"],
        &["keyring"],
        &["monitor"],
    ];
    for command in commands {
        for help in ["--help", "-help"] {
            let args: Vec<&str> = command.iter().copied().chain([help]).collect();
            let output = run(&args);
            assert!(output.status.success(), "{args:?}: {}", stderr(&output));
            assert!(stdout(&output).contains("Usage: senate"), "{args:?}");
        }
    }
    let agent_help = stdout(&run(&["agent", "-help"]));
    for flag in [
        "--dev",
        "--data-dir",
        "--config-file",
        "--config-dir",
        "--hcl",
        "--retry-join",
    ] {
        assert!(agent_help.contains(flag), "agent help lacks {flag}");
    }
}

#[test]
fn version_names_senate_and_the_consul_api() {
    let output = run(&["version"]);
    assert!(output.status.success());
    let text = stdout(&output);
    assert!(
        text.starts_with(&format!("Senate v{}\n", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    assert!(text.contains("Consul API v1."), "{text}");
    assert_eq!(stdout(&run(&["-version"])), text);
}

#[test]
fn bad_config_file_value_stops_the_agent() {
    let dir = TempDir::new("bad-port");
    let file = dir.file("bad.hcl", "ports {\n  http = \"abc\"\n}\n");
    let output = run(&["agent", "-dev", "-config-file", &file]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.contains("ports.http"), "{message}");
    assert!(message.contains("bad.hcl"), "{message}");
}

#[test]
fn bad_flag_values_stop_the_agent() {
    for (args, key) in [
        (&["agent", "-dev", "-log-level", "nope"][..], "-log-level"),
        (&["agent", "-dev", "-http-port=70000"][..], "-http-port"),
        (&["agent", "-dev", "-bind", "not-an-ip"][..], "-bind"),
        (&["agent", "-server"][..], "data_dir"),
        (
            &["agent", "-dev", "-datacenter", "bad dc"][..],
            "datacenter",
        ),
        (
            &["agent", "-dev", "-encrypt=c2hvcnQ="][..],
            "invalid encrypt key",
        ),
        (
            &["agent", "-dev", "-hcl", "reconnect_timeout = \"1h\""][..],
            "reconnect_timeout must be >= 8h",
        ),
    ] {
        let output = run(args);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&output).contains(key),
            "{args:?}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn syntax_errors_and_unknown_flags_exit_one() {
    let dir = TempDir::new("syntax");
    let file = dir.file("broken.json", "{\"server\": ");
    let output = run(&["agent", "-dev", "-config-dir", &dir.0.display().to_string()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains(&file), "{}", stderr(&output));
    let output = run(&["agent", "-no-such-flag"]);
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn unknown_config_key_is_logged_and_the_agent_still_starts() {
    let dir = TempDir::new("unknown-key");
    let file = dir.file("extra.json", r#"{"not_a_consul_key": true}"#);
    let pid_file = dir.0.join("agent.pid").display().to_string();
    let agent = Agent::start(&[
        "-config-file",
        &file,
        "-pid-file",
        &pid_file,
        "-hcl",
        "another_unknown = 1",
    ]);
    let log = agent.output();
    assert!(log.contains("not_a_consul_key"), "{log}");
    assert!(log.contains("another_unknown"), "{log}");
    let pid = fs::read_to_string(&pid_file).unwrap();
    assert_eq!(pid.trim(), agent.child.id().to_string());
}

#[test]
fn kv_put_get_delete_through_the_cli() {
    let agent = Agent::start(&[]);
    assert_eq!(
        agent.ok(&["kv", "put", "greeting", "hello world"]),
        "Success! Data written to: greeting\n"
    );
    assert_eq!(agent.ok(&["kv", "get", "greeting"]), "hello world\n");
    assert_eq!(agent.ok(&["kv", "get", "/greeting"]), "hello world\n");
    assert_eq!(
        agent.ok(&["kv", "get", "-base64", "greeting"]),
        "aGVsbG8gd29ybGQ=\n"
    );
    agent.ok(&["kv", "put", "-base64", "decoded", "aGk="]);
    assert_eq!(agent.ok(&["kv", "get", "decoded"]), "hi\n");

    let output = agent.cli_with_stdin(&["kv", "put", "app/from-stdin", "-"], "piped\n");
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(agent.ok(&["kv", "get", "app/from-stdin"]), "piped\n\n");
    let dir = TempDir::new("kv-file");
    let file = dir.file("value.txt", "from a file");
    agent.ok(&[
        "kv",
        "put",
        "-flags=7",
        "app/nested/file",
        &format!("@{file}"),
    ]);
    assert_eq!(
        agent.ok(&["kv", "get", "-recurse", "app"]),
        "app/from-stdin:piped\n\napp/nested/file:from a file\n"
    );
    assert_eq!(
        agent.ok(&["kv", "get", "-keys", "app/"]),
        "app/from-stdin\napp/nested/\n"
    );
    let detailed = agent.ok(&["kv", "get", "-detailed", "app/nested/file"]);
    assert!(detailed.contains("Flags            7\n"), "{detailed}");
    assert!(
        detailed.contains("Key              app/nested/file\n"),
        "{detailed}"
    );
    assert!(
        detailed.ends_with("Value            from a file\n"),
        "{detailed}"
    );

    let missing = agent.cli(&["kv", "get", "no/such/key"]);
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(stderr(&missing), "Error! No key exists at: no/such/key\n");

    let cas = agent.cli(&["kv", "put", "-cas", "-modify-index=1", "greeting", "x"]);
    assert_eq!(cas.status.code(), Some(1));
    assert_eq!(
        stderr(&cas),
        "Error! Did not write to greeting: CAS failed\n"
    );

    assert_eq!(
        agent.ok(&["kv", "delete", "greeting"]),
        "Success! Deleted key: greeting\n"
    );
    assert_eq!(agent.cli(&["kv", "get", "greeting"]).status.code(), Some(1));
    assert_eq!(
        agent.ok(&["kv", "delete", "-recurse", "app/"]),
        "Success! Deleted keys with prefix: app/\n"
    );
    assert_eq!(agent.ok(&["kv", "get", "-recurse", "app/"]), "");
}

#[test]
fn address_comes_from_flag_then_consul_then_senate_variable() {
    let agent = Agent::start(&[]);
    agent.ok(&["kv", "put", "where", "here"]);
    let flag = run(&[
        "kv",
        "get",
        &format!("-http-addr=http://{}", agent.address()),
        "where",
    ]);
    assert_eq!(stdout(&flag), "here\n");
    let senate_var = senate(&["kv", "get", "where"])
        .env("SENATE_HTTP_ADDR", agent.address())
        .output()
        .unwrap();
    assert_eq!(stdout(&senate_var), "here\n");
    let consul_first = senate(&["kv", "get", "where"])
        .env("CONSUL_HTTP_ADDR", agent.address())
        .env("SENATE_HTTP_ADDR", "127.0.0.1:1")
        .output()
        .unwrap();
    assert_eq!(stdout(&consul_first), "here\n");
    let refused = run(&["kv", "get", "-http-addr", "127.0.0.1:1", "where"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).starts_with("Error querying Consul agent: "),
        "{}",
        stderr(&refused)
    );
}

#[test]
fn members_and_raft_peers_tables() {
    let agent = Agent::start(&["-node", "cli-test-node"]);
    let members = agent.ok(&["members"]);
    let lines: Vec<&str> = members.lines().collect();
    assert_eq!(lines.len(), 2, "{members}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        [
            "Node",
            "Address",
            "Status",
            "Type",
            "Build",
            "Protocol",
            "DC",
            "Partition",
            "Segment"
        ]
    );
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(row[0], "cli-test-node");
    assert_eq!(row[2], "alive");
    assert_eq!(row[3], "server");
    assert_eq!(row[6], "dc1");
    assert!(agent.ok(&["members", "-detailed"]).contains("role=consul"));
    assert_eq!(
        agent.cli(&["members", "-status=failed"]).status.code(),
        Some(2)
    );

    let peers = agent.ok(&["operator", "raft", "list-peers"]);
    let lines: Vec<&str> = peers.lines().collect();
    assert_eq!(lines.len(), 2, "{peers}");
    assert!(lines[0].starts_with("Node"), "{peers}");
    assert!(
        lines[0].contains("ID") && lines[0].contains("RaftProtocol"),
        "{peers}"
    );
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(row[0], "cli-test-node");
    assert_eq!(row[3], "leader");
    assert_eq!(row[4], "true");
}

/// Reruns a client command until its stdout satisfies `ready`, for state the agent syncs to the
/// catalog in the background; returns the last stdout.
fn poll_cli(agent: &Agent, args: &[&str], ready: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = agent.ok(args);
        if ready(&text) || Instant::now() > deadline {
            return text;
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// The IDs `/v1/agent/services` lists, in order.
fn agent_service_ids(agent: &Agent) -> Vec<String> {
    let body = http_get(agent.http_port, "/v1/agent/services").unwrap_or_default();
    let services: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&body).unwrap_or_default();
    services.keys().cloned().collect()
}

#[test]
fn catalog_services_and_maint_commands_have_help() {
    let commands: &[&[&str]] = &[
        &["catalog"],
        &["catalog", "datacenters"],
        &["catalog", "nodes"],
        &["catalog", "services"],
        &["services"],
        &["services", "register"],
        &["services", "deregister"],
        &["maint"],
    ];
    for command in commands {
        for help in ["--help", "-help"] {
            let args: Vec<&str> = command.iter().copied().chain([help]).collect();
            let output = run(&args);
            assert!(output.status.success(), "{args:?}: {}", stderr(&output));
            assert!(stdout(&output).contains("Usage: senate"), "{args:?}");
        }
    }
    let register_help = stdout(&run(&["services", "register", "-help"]));
    for flag in ["--name", "--id", "--address", "--port", "--tag", "--meta"] {
        assert!(register_help.contains(flag), "register help lacks {flag}");
    }
}

#[test]
fn services_and_maint_refuse_bad_flag_combinations() {
    for (args, message) in [
        (
            &["services", "register"][..],
            "Service registration requires at least one argument or flags.\n",
        ),
        (
            &["services", "register", "-name=web", "web.json"][..],
            "Service registration requires arguments or -id, not both.\n",
        ),
        (
            &["services", "deregister"][..],
            "Service deregistration requires at least one argument or -id.\n",
        ),
        (
            &["maint", "-enable", "-disable"][..],
            "Only one of -enable or -disable may be provided\n",
        ),
        (
            &["maint", "-reason", "x"][..],
            "Reason may only be provided with -enable\n",
        ),
        (
            &["maint", "-service", "web"][..],
            "Service requires either -enable or -disable\n",
        ),
    ] {
        let output = run(args);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert_eq!(stderr(&output), message, "{args:?}");
    }
    let bad_meta = run(&["services", "register", "-name=web", "-meta", "novalue"]);
    assert_eq!(bad_meta.status.code(), Some(1));
    let bad_file = run(&["services", "register", "web.yaml"]);
    assert_eq!(bad_file.status.code(), Some(1));
    assert!(
        stderr(&bad_file).starts_with("Error: "),
        "{}",
        stderr(&bad_file)
    );
}

#[test]
fn services_register_list_and_deregister_through_the_cli() {
    let agent = Agent::start(&[
        "-node",
        "cli-catalog-node",
        "-hcl",
        "node_meta { rack = \"r1\" }",
    ]);
    assert_eq!(agent.ok(&["catalog", "datacenters"]), "dc1\n");

    assert_eq!(
        agent.ok(&[
            "services",
            "register",
            "-name=web",
            "-id",
            "web-1",
            "-port=8080",
            "-address",
            "127.0.0.1",
            "-tag",
            "v2",
            "-tag=blue",
            "-meta",
            "version=2",
        ]),
        "Registered service: web\n"
    );
    let dir = TempDir::new("services");
    let json = dir.file(
        "api.json",
        r#"{"services": [
            {"name": "api", "id": "api-1", "port": 9000, "tags": ["v1"],
             "meta": {"team": "core"},
             "check": {"id": "api-ttl", "name": "API TTL", "ttl": "30s", "status": "passing"}},
            {"Name": "db", "Port": 5432}
        ]}"#,
    );
    assert_eq!(
        agent.ok(&["services", "register", &json]),
        "Registered service: api\nRegistered service: db\n"
    );
    let hcl = dir.file(
        "cache.hcl",
        "service {\n  name = \"cache\"\n  port = 6379\n  tags = [\"redis\"]\n  \
         enable_tag_override = true\n  meta {\n    tier = \"hot\"\n  }\n  \
         check {\n    id = \"cache-ttl\"\n    ttl = \"10s\"\n  }\n}\n",
    );
    assert_eq!(
        agent.ok(&["services", "register", "-tag=extra", &hcl]),
        "Registered service: cache\n"
    );
    assert_eq!(agent_service_ids(&agent), ["api-1", "cache", "db", "web-1"]);
    let checks = http_get(agent.http_port, "/v1/agent/checks").unwrap();
    let checks: serde_json::Value = serde_json::from_str(&checks).unwrap();
    assert_eq!(checks["api-ttl"]["Status"], "passing", "{checks}");
    assert_eq!(checks["api-ttl"]["ServiceID"], "api-1", "{checks}");
    assert_eq!(checks["cache-ttl"]["ServiceID"], "cache", "{checks}");

    let services = poll_cli(&agent, &["catalog", "services"], |text| {
        text.lines().count() == 5
    });
    assert_eq!(services, "api\ncache\nconsul\ndb\nweb\n");
    let tags = agent.ok(&["catalog", "services", "-tags"]);
    let rows: Vec<Vec<&str>> = tags
        .lines()
        .map(|line| line.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        [
            vec!["api", "v1"],
            vec!["cache", "extra,redis"],
            vec!["consul"],
            vec!["db"],
            vec!["web", "blue,v2"],
        ],
        "{tags}"
    );
    assert!(tags.starts_with("api         v1\n"), "{tags:?}");
    assert_eq!(
        agent.ok(&["catalog", "services", "-node", "cli-catalog-node"]),
        services
    );
    assert_eq!(
        agent.ok(&["catalog", "services", "-node-meta", "rack=r1"]),
        services
    );
    let nowhere = agent.cli(&["catalog", "services", "-node", "no-such-node"]);
    assert!(nowhere.status.success());
    assert_eq!(stdout(&nowhere), "");
    assert_eq!(
        stderr(&nowhere),
        "No services match the given query - try expanding your search.\n"
    );

    let nodes = agent.ok(&["catalog", "nodes"]);
    let lines: Vec<Vec<&str>> = nodes
        .lines()
        .map(|line| line.split_whitespace().collect())
        .collect();
    assert_eq!(lines.len(), 2, "{nodes}");
    assert_eq!(lines[0], ["Node", "ID", "Address", "DC"]);
    assert_eq!(lines[1][0], "cli-catalog-node");
    assert!(!lines[1][1].contains('-'), "short ID expected: {nodes}");
    assert_eq!(lines[1][3], "dc1");
    let detailed = agent.ok(&["catalog", "nodes", "-detailed"]);
    assert!(
        detailed.starts_with("Node ")
            && detailed.contains("TaggedAddresses")
            && detailed.contains("Meta"),
        "{detailed}"
    );
    assert!(detailed.contains("rack=r1"), "{detailed}");
    assert!(detailed.contains("lan=127.0.0.1"), "{detailed}");
    let providing = agent.ok(&["catalog", "nodes", "-service", "web"]);
    assert_eq!(providing, nodes);
    let unmatched = agent.cli(&["catalog", "nodes", "-node-meta", "rack=r2"]);
    assert!(unmatched.status.success());
    assert_eq!(
        stderr(&unmatched),
        "No nodes match the given query - try expanding your search.\n"
    );

    assert_eq!(
        agent.ok(&["services", "deregister", "-id", "web-1"]),
        "Deregistered service: web-1\n"
    );
    assert_eq!(
        agent.ok(&["services", "deregister", &json, &hcl]),
        "Deregistered service: api-1\nDeregistered service: db\nDeregistered service: cache\n"
    );
    assert!(agent_service_ids(&agent).is_empty());
    let listed = poll_cli(&agent, &["catalog", "services"], |text| text == "consul\n");
    assert_eq!(listed, "consul\n");
    let again = agent.cli(&["services", "deregister", "-id", "web-1"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again)
            .starts_with("Error deregistering service \"web-1\": Unexpected response code: 404"),
        "{}",
        stderr(&again)
    );
}

#[test]
fn maint_enable_disable_and_list_through_the_cli() {
    let agent = Agent::start(&["-node", "cli-maint-node"]);
    agent.ok(&["services", "register", "-name", "web"]);
    assert_eq!(agent.ok(&["maint"]), "");

    assert_eq!(
        agent.ok(&["maint", "-enable", "-reason", "kernel patch"]),
        "Node maintenance is now enabled\n"
    );
    assert_eq!(
        agent.ok(&["maint", "-enable", "-service=web", "-reason=deploy"]),
        "Service maintenance is now enabled for \"web\"\n"
    );
    assert_eq!(
        agent.ok(&["maint"]),
        "Node:\n  Name:   cli-maint-node\n  Reason: kernel patch\n\n\
         Service:\n  ID:     web\n  Reason: deploy\n\n"
    );
    let checks = http_get(agent.http_port, "/v1/agent/checks").unwrap();
    assert!(checks.contains("_node_maintenance"), "{checks}");
    assert!(checks.contains("_service_maintenance:web"), "{checks}");

    assert_eq!(
        agent.ok(&["maint", "-disable"]),
        "Node maintenance is now disabled\n"
    );
    assert_eq!(
        agent.ok(&["maint"]),
        "Service:\n  ID:     web\n  Reason: deploy\n\n"
    );
    assert_eq!(
        agent.ok(&["maint", "-disable", "-service", "web"]),
        "Service maintenance is now disabled for \"web\"\n"
    );
    assert_eq!(agent.ok(&["maint"]), "");

    let unknown = agent.cli(&["maint", "-enable", "-service", "nope"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        stderr(&unknown).starts_with("Error enabling service maintenance: "),
        "{}",
        stderr(&unknown)
    );
}

#[test]
fn event_fires_and_rtt_estimates_from_coordinates() {
    let mut agent = Agent::start(&[]);
    agent.wait_for_leader();
    let fired = agent.ok(&["event", "-name=deploy", "-node=.*", "v1.2"]);
    let id = fired
        .strip_prefix("Event ID: ")
        .map(str::trim)
        .unwrap_or_else(|| panic!("{fired}"));
    let events = http_get(agent.http_port, "/v1/event/list?name=deploy").expect("events");
    assert!(events.contains(id), "{events}");
    assert!(
        events.contains("\"Payload\":\"djEuMg==\""),
        "base64 of v1.2: {events}"
    );
    let refused = agent.cli(&["event", "-tag=web"]);
    assert_eq!(refused.status.code(), Some(1));

    for (node, x) in [("rtt-a", 0.0), ("rtt-b", 0.012)] {
        let register = format!(r#"{{"Node": "{node}", "Address": "10.0.0.9"}}"#);
        http_put(agent.http_port, "/v1/catalog/register", &register).expect("registered");
        let coord = format!(
            r#"{{"Node": "{node}", "Coord": {{"Vec": [{x}, 0, 0, 0, 0, 0, 0, 0], "Error": 0.1, "Adjustment": 0, "Height": 0}}}}"#
        );
        http_put(agent.http_port, "/v1/coordinate/update", &coord).expect("updated");
    }
    let estimate = agent.ok(&["rtt", "rtt-a", "rtt-b"]);
    assert_eq!(
        estimate,
        "Estimated rtt-a <-> rtt-b rtt: 12.000 ms (using LAN coordinates)\n"
    );
    let unknown = agent.cli(&["rtt", "rtt-a", "nowhere"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(stderr(&unknown).contains("Could not find a coordinate for node \"nowhere\""));
}

#[test]
fn watch_type_event_hands_new_events_to_its_handler() {
    let mut agent = Agent::start(&[]);
    agent.wait_for_leader();
    let dir = TempDir::new("watch");
    let seen = dir.0.join("seen.json");
    let handler = format!("cat >> {}", seen.display());
    let mut watch = senate(&["watch", "-type=event", "-name=deploy", &handler])
        .env("CONSUL_HTTP_ADDR", agent.address())
        .spawn()
        .expect("starting senate watch");
    let fired = agent.ok(&["event", "-name=deploy", "v2"]);
    let id = fired
        .trim()
        .strip_prefix("Event ID: ")
        .unwrap_or_default()
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !fs::read_to_string(&seen).unwrap_or_default().contains(&id) {
        assert!(
            Instant::now() < deadline,
            "the handler never saw event {id}"
        );
        agent.ok(&["event", "-name=deploy", "again"]);
        thread::sleep(Duration::from_millis(200));
    }
    let _ = watch.kill();
    let _ = watch.wait();
    let refused = agent.cli(&["watch", "-type=key"]);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("Unsupported watch type"),
        "{}",
        stderr(&refused)
    );
}
