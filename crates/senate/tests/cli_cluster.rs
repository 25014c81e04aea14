//! End-to-end tests of the cluster-management commands (`join`, `leave`, `force-leave`, `info`,
//! `members`, `operator raft ...`, `operator autopilot ...`): their help, their flag checks, and
//! their requests against a real `senate agent -dev` on free loopback ports.
//!
//! The agent refuses what a lone dev server cannot do (joining a closed port, removing or
//! transferring to a peer it lacks, force-leaving an unknown node); those tests check that the
//! CLI reports the agent's answer as Consul does: exit 1, `Error ...: Unexpected response code:
//! NNN (reason)`. Answers a lone server never gives (a lost check-and-set, a successful leadership
//! transfer) come from a [`FakeAgent`] that also records exactly what each command sent.

mod cli_support;

use cli_support::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How a [`FakeAgent`] answers a request, given its method and target (path and query).
type Answer = fn(&str, &str) -> (u16, &'static str);

/// A stand-in agent on a loopback port: answers every request from an [`Answer`] and records
/// each as `METHOD target body`, for checking exactly what a command sent.
struct FakeAgent {
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
}

impl FakeAgent {
    fn start(answer: Answer) -> FakeAgent {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&requests);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                serve_one(stream, answer, &log);
            }
        });
        FakeAgent { port, requests }
    }

    /// Runs a command against this agent through `-http-addr`.
    fn cli(&self, args: &[&str]) -> Output {
        let address = format!("-http-addr=127.0.0.1:{}", self.port);
        let args: Vec<&str> = args.iter().copied().chain([address.as_str()]).collect();
        run(&args)
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// Reads one HTTP/1.1 request, records it, and writes the answer with `Connection: close`.
fn serve_one(stream: TcpStream, answer: Answer, log: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(&stream);
    let mut request_line = String::new();
    let _ = reader.read_line(&mut request_line);
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let body = String::from_utf8_lossy(&body);
    log.lock()
        .unwrap()
        .push(format!("{method} {target} {body}"));
    let (status, reply) = answer(method, target);
    let response = format!(
        "HTTP/1.1 {status} Fake\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
        reply.len()
    );
    let _ = (&stream).write_all(response.as_bytes());
}

/// Asserts that a command the agent refused exited 1 with
/// `{prefix}Unexpected response code: NNN (...)` on stderr and nothing on stdout.
fn assert_refused(args: &[&str], output: &Output, prefix: &str) {
    let message = stderr(output);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{args:?}: {}",
        stdout(output)
    );
    assert_eq!(stdout(output), "", "{args:?}");
    let code = message
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix("Unexpected response code: "))
        .map(|rest| rest.chars().take_while(char::is_ascii_digit).count());
    assert_eq!(
        code,
        Some(3),
        "{args:?} should report the agent's status code after {prefix:?}: {message}"
    );
}

/// A table line split at runs of two or more spaces (header cells such as `Commit Index` hold one).
fn cells(line: &str) -> Vec<&str> {
    line.split("  ")
        .map(str::trim)
        .filter(|cell| !cell.is_empty())
        .collect()
}

#[test]
fn new_commands_have_help_naming_their_flags() {
    let commands: &[(&[&str], &[&str])] = &[
        (&["join"], &["--wan", "--http-addr", "--token"]),
        (&["leave"], &["--http-addr"]),
        (&["force-leave"], &["--prune", "--wan", "--http-addr"]),
        (&["info"], &["--http-addr", "--token-file"]),
        (
            &["members"],
            &["--detailed", "--status", "--wan", "--filter"],
        ),
        (&["operator", "raft", "list-peers"], &["--stale"]),
        (&["operator", "raft", "remove-peer"], &["--address", "--id"]),
        (&["operator", "raft", "transfer-leader"], &["--id"]),
        (
            &["operator", "autopilot"],
            &["get-config", "set-config", "state"],
        ),
        (&["operator", "autopilot", "get-config"], &["--stale"]),
        (
            &["operator", "autopilot", "set-config"],
            &[
                "--cleanup-dead-servers",
                "--last-contact-threshold",
                "--max-trailing-logs",
                "--min-quorum",
                "--server-stabilization-time",
                "--redundancy-zone-tag",
                "--disable-upgrade-migration",
                "--upgrade-version-tag",
            ],
        ),
        (
            &["operator", "autopilot", "state"],
            &["--format", "--stale"],
        ),
    ];
    for (command, flags) in commands {
        for help in ["-help", "--help"] {
            let args: Vec<&str> = command.iter().copied().chain([help]).collect();
            let output = run(&args);
            assert!(output.status.success(), "{args:?}: {}", stderr(&output));
            let text = stdout(&output);
            assert!(text.contains("Usage: senate"), "{args:?}: {text}");
            for flag in *flags {
                assert!(text.contains(flag), "{args:?} help lacks {flag}: {text}");
            }
        }
    }
    let top = stdout(&run(&["-help"]));
    for command in ["join", "leave", "force-leave", "info"] {
        assert!(top.contains(command), "top-level help lacks {command}");
    }
}

#[test]
fn remove_peer_needs_exactly_one_of_address_and_id() {
    // No agent listens on the address: the flags are checked before any request.
    let nowhere = format!("-http-addr=127.0.0.1:{}", free_port());
    let neither = run(&["operator", "raft", "remove-peer", &nowhere]);
    assert_eq!(neither.status.code(), Some(1));
    assert_eq!(
        stderr(&neither),
        "Error removing peer: an -address or -id is required for the peer to remove\n"
    );
    let both = run(&[
        "operator",
        "raft",
        "remove-peer",
        "-address=127.0.0.1:8300",
        "-id",
        "abc",
        &nowhere,
    ]);
    assert_eq!(both.status.code(), Some(1));
    assert_eq!(
        stderr(&both),
        "Error removing peer: cannot give both an -address and -id\n"
    );
    let empty = run(&["operator", "raft", "remove-peer", "-address=", &nowhere]);
    assert_eq!(empty.status.code(), Some(1));
    assert!(
        stderr(&empty).contains("-address or -id"),
        "{}",
        stderr(&empty)
    );
}

#[test]
fn set_config_refuses_bad_values_naming_the_flag() {
    let nowhere = format!("-http-addr=127.0.0.1:{}", free_port());
    let output = run(&[
        "operator",
        "autopilot",
        "set-config",
        "-last-contact-threshold=abc",
        &nowhere,
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        "Failed to parse args: invalid value \"abc\" for flag -last-contact-threshold: \
         time: invalid duration \"abc\"\n"
    );
    for (flag, value) in [
        ("-server-stabilization-time", "10"),
        ("-last-contact-threshold", "-5s"),
        ("-max-trailing-logs", "many"),
        ("-min-quorum", "-1"),
        ("-cleanup-dead-servers", "maybe"),
        ("-disable-upgrade-migration", "perhaps"),
    ] {
        let output = run(&["operator", "autopilot", "set-config", flag, value, &nowhere]);
        assert_eq!(output.status.code(), Some(1), "{flag} {value}");
        let message = stderr(&output);
        assert!(
            message.starts_with("Failed to parse args: invalid "),
            "{flag} {value}: {message}"
        );
        assert!(
            message.contains(&format!(" {flag}: ")),
            "{flag} {value}: {message}"
        );
        assert!(message.contains(&format!("{value:?}")), "{message}");
    }
    let format = run(&["operator", "autopilot", "state", "-format=yaml", &nowhere]);
    assert_eq!(format.status.code(), Some(1));
    assert_eq!(stderr(&format), "Unknown format: yaml\n");
}

#[test]
fn join_leave_and_force_leave_refuse_bad_arguments() {
    let nowhere = format!("-http-addr=127.0.0.1:{}", free_port());
    let join = run(&["join", &nowhere]);
    assert_eq!(join.status.code(), Some(1));
    assert!(
        stderr(&join)
            .starts_with("At least one address to join must be specified.\n\nUsage: senate join"),
        "{}",
        stderr(&join)
    );
    for args in [&["force-leave"][..], &["force-leave", "a", "b"][..]] {
        let args: Vec<&str> = args.iter().copied().chain([nowhere.as_str()]).collect();
        let output = run(&args);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&output).starts_with(
                "A single node name must be specified to force leave.\n\nUsage: senate force-leave"
            ),
            "{args:?}: {}",
            stderr(&output)
        );
    }
    let leave = run(&["leave", "now", "please", &nowhere]);
    assert_eq!(leave.status.code(), Some(1));
    assert!(
        stderr(&leave)
            .starts_with("Error found unexpected args: [now please]\n\nUsage: senate leave"),
        "{}",
        stderr(&leave)
    );
}

#[test]
fn an_unreachable_agent_is_reported_per_command() {
    let port = free_port();
    let nowhere = format!("-http-addr=127.0.0.1:{port}");
    let info = run(&["info", &nowhere]);
    assert_eq!(info.status.code(), Some(1));
    assert!(
        stderr(&info).starts_with(&format!(
            "Error querying agent: Get \"http://127.0.0.1:{port}/v1/agent/self\": dial tcp"
        )),
        "{}",
        stderr(&info)
    );
    let join = run(&["join", "10.0.0.1", &nowhere]);
    assert_eq!(join.status.code(), Some(1));
    let message = stderr(&join);
    assert!(
        message.starts_with("Error joining address '10.0.0.1': Put \"http://127.0.0.1:"),
        "{message}"
    );
    assert!(
        message.ends_with("\nFailed to join any nodes.\n"),
        "{message}"
    );
    for (args, prefix) in [
        (
            &["operator", "raft", "list-peers"][..],
            "Error getting peers: Failed to retrieve raft configuration: Get ",
        ),
        (
            &["operator", "autopilot", "get-config"][..],
            "Error querying Autopilot configuration: Get ",
        ),
        (
            &["operator", "autopilot", "state"][..],
            "Error querying Autopilot state: Get ",
        ),
        (&["leave"][..], "Error leaving: Put "),
        (&["force-leave", "n1"][..], "Error force leaving: Put "),
        (
            &["operator", "raft", "transfer-leader"][..],
            "Error transfering leadership: Failed to transfer leadership Post ",
        ),
    ] {
        let args: Vec<&str> = args.iter().copied().chain([nowhere.as_str()]).collect();
        let output = run(&args);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&output).starts_with(prefix),
            "{args:?}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn cluster_commands_against_a_dev_agent() {
    let agent = Agent::start(&["-node", "cluster-cli-node"]);

    // join: nothing listens on the target port, so every address fails.
    let closed = format!("127.0.0.1:{}", free_port());
    let args = ["join", closed.as_str(), "127.0.0.1:1"];
    let join = agent.cli(&args);
    assert_eq!(join.status.code(), Some(1), "{}", stdout(&join));
    let message = stderr(&join);
    // The agent's reason may span lines (Consul's names every address it tried), so only the
    // start of each report is fixed.
    assert!(
        message.starts_with(&format!(
            "Error joining address '{closed}': Unexpected response code: "
        )),
        "{message}"
    );
    assert!(
        message.contains("\nError joining address '127.0.0.1:1': Unexpected response code: "),
        "{message}"
    );
    assert!(
        message.ends_with("\nFailed to join any nodes.\n"),
        "{message}"
    );
    assert_eq!(stdout(&join), "");
    let wan = agent.cli(&["join", "-wan", &closed]);
    assert_eq!(wan.status.code(), Some(1));
    assert!(stderr(&wan).ends_with("Failed to join any nodes.\n"));

    check_info(&agent);
    check_members(&agent);
    let server_id = check_list_peers(&agent);
    check_raft_changes(&agent);
    check_autopilot(&agent, &server_id);
}

/// `info`: the agent's `Stats`, one sorted section per subsystem, keys sorted within.
fn check_info(agent: &Agent) {
    let info = agent.ok(&["info"]);
    for section in ["agent", "build", "consul", "raft", "runtime", "serf_lan"] {
        assert!(
            info.starts_with(&format!("{section}:\n")) || info.contains(&format!("\n{section}:\n")),
            "info lacks {section:?}: {info}"
        );
    }
    for entry in ["leader = true", "server = true", "state = Leader"] {
        assert!(info.contains(&format!("\n\t{entry}\n")), "{info}");
    }
    let mut section: Vec<&str> = Vec::new();
    let mut sections: Vec<&str> = Vec::new();
    for line in info.lines() {
        if let Some(entry) = line.strip_prefix('\t') {
            assert!(entry.contains(" = "), "unexpected line {line:?} in {info}");
            section.push(entry.split(" = ").next().unwrap_or_default());
        } else {
            assert!(line.ends_with(':'), "unexpected line {line:?} in {info}");
            assert_sorted(&section, &info);
            section.clear();
            sections.push(line);
        }
    }
    assert_sorted(&section, &info);
    assert_sorted(&sections, &info);
    let by_flag = run(&["info", &format!("-http-addr=http://{}", agent.address())]);
    assert_eq!(stdout(&by_flag), info);
}

fn assert_sorted(items: &[&str], context: &str) {
    let mut sorted = items.to_vec();
    sorted.sort_unstable();
    assert_eq!(items, sorted, "out of order in {context}");
}

/// `members -detailed`, `-status` and `-wan`.
fn check_members(agent: &Agent) {
    let detailed = agent.ok(&["members", "-detailed"]);
    let lines: Vec<&str> = detailed.lines().collect();
    assert_eq!(lines.len(), 2, "{detailed}");
    assert_eq!(cells(lines[0]), ["Node", "Address", "Status", "Tags"]);
    let row = cells(lines[1]);
    assert_eq!(row[0], "cluster-cli-node");
    assert_eq!(row[2], "alive");
    let keys: Vec<&str> = row[3]
        .split(',')
        .map(|pair| pair.split_once('=').map_or(pair, |(key, _)| key))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(keys, sorted, "tags not sorted: {detailed}");
    assert!(row[3].contains("role=consul"), "{detailed}");
    assert!(row[3].contains("segment=<all>"), "{detailed}");
    assert_eq!(agent.ok(&["members", "-status=alive"]).lines().count(), 2);
    assert_eq!(agent.ok(&["members", "-status", "^al"]).lines().count(), 2);
    assert_eq!(
        agent.cli(&["members", "-status=left|failed"]).status.code(),
        Some(2)
    );
    let bad = agent.cli(&["members", "-status=("]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).starts_with("Failed to compile status regexp: "));
    let wan = agent.ok(&["members", "-wan"]);
    assert!(wan.contains("cluster-cli-node.dc1 "), "{wan}");
}

/// `operator raft list-peers`: Consul's eight columns and this server as the leader; returns
/// the server's ID.
fn check_list_peers(agent: &Agent) -> String {
    let mut server_id = String::new();
    for args in [
        &["operator", "raft", "list-peers"][..],
        &["operator", "raft", "list-peers", "-stale"][..],
    ] {
        let peers = agent.ok(args);
        let lines: Vec<&str> = peers.lines().collect();
        assert_eq!(lines.len(), 2, "{peers}");
        assert_eq!(
            cells(lines[0]),
            [
                "Node",
                "ID",
                "Address",
                "State",
                "Voter",
                "RaftProtocol",
                "Commit Index",
                "Trails Leader By"
            ]
        );
        let row = cells(lines[1]);
        assert_eq!(row.len(), 8, "{peers}");
        assert_eq!(row[0], "cluster-cli-node");
        assert_eq!(row[3], "leader");
        assert_eq!(row[4], "true");
        assert_eq!(row[5], "3");
        assert!(row[6].parse::<u64>().is_ok(), "Commit Index: {peers}");
        assert_eq!(row[7], "-", "the leader trails nobody: {peers}");
        server_id = row[1].to_string();
    }
    server_id
}

/// `remove-peer`, `force-leave` and `transfer-leader` on a single server: each is refused by the
/// agent, and the CLI reports the agent's answer.
fn check_raft_changes(agent: &Agent) {
    let refusals: [(&[&str], &str); 4] = [
        (
            &["operator", "raft", "remove-peer", "-address=127.0.0.9:8300"],
            "Error removing peer: ",
        ),
        (
            &["operator", "raft", "remove-peer", "-id", "no-such-id"],
            "Error removing peer: ",
        ),
        (
            &["force-leave", "-prune", "no-such-node"],
            "Error force leaving: ",
        ),
        // A lone server has nobody to hand leadership to.
        (
            &["operator", "raft", "transfer-leader"],
            "Error transfering leadership: Failed to transfer leadership ",
        ),
    ];
    for (args, prefix) in refusals {
        assert_refused(args, &agent.cli(args), prefix);
    }
}

/// `operator autopilot get-config|set-config|state` against the leader's real configuration.
fn check_autopilot(agent: &Agent, server_id: &str) {
    assert_eq!(
        agent.ok(&["operator", "autopilot", "get-config"]),
        "CleanupDeadServers = true\n\
         LastContactThreshold = 200ms\n\
         MaxTrailingLogs = 250\n\
         MinQuorum = 0\n\
         ServerStabilizationTime = 10s\n\
         RedundancyZoneTag = \"\"\n\
         DisableUpgradeMigration = false\n\
         UpgradeVersionTag = \"\"\n"
    );
    assert_eq!(
        agent.ok(&[
            "operator",
            "autopilot",
            "set-config",
            "-max-trailing-logs=300",
            "-last-contact-threshold",
            "1m",
            "-cleanup-dead-servers",
            "false",
            "-upgrade-version-tag=build",
        ]),
        "Configuration updated!\n"
    );
    assert_eq!(
        agent.ok(&["operator", "autopilot", "get-config", "-stale"]),
        "CleanupDeadServers = false\n\
         LastContactThreshold = 1m0s\n\
         MaxTrailingLogs = 300\n\
         MinQuorum = 0\n\
         ServerStabilizationTime = 10s\n\
         RedundancyZoneTag = \"\"\n\
         DisableUpgradeMigration = false\n\
         UpgradeVersionTag = \"build\"\n"
    );

    let state = agent.ok(&["operator", "autopilot", "state"]);
    assert!(
        state.starts_with(&format!(
            "Healthy:                      true\n\
             Failure Tolerance:            0\n\
             Optimistic Failure Tolerance: 0\n\
             Leader:                       {server_id}\n\
             Voters:\n   {server_id}\n\
             Servers:\n   {server_id}\n\
             \x20     Name:            cluster-cli-node\n"
        )),
        "{state}"
    );
    for line in [
        "      Status:          leader\n",
        "      Healthy:         true\n",
    ] {
        assert!(state.contains(line), "state lacks {line:?}: {state}");
    }
    let json = agent.ok(&["operator", "autopilot", "state", "-format=json"]);
    assert!(
        json.starts_with("{\n    \""),
        "four-space JSON expected: {json}"
    );
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["Leader"], server_id, "{json}");
}

#[test]
fn join_brings_two_agents_into_one_member_list() {
    let first = Agent::start(&["-node", "join-first-node"]);
    let second = Agent::start(&["-node", "join-second-node"]);
    assert_eq!(
        second.ok(&["join", &first.serf_address()]),
        "Successfully joined cluster by contacting 1 nodes.\n"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let members = first.ok(&["members"]);
        let names: Vec<&str> = members
            .lines()
            .skip(1)
            .filter_map(|line| line.split_whitespace().next())
            .collect();
        if names == ["join-first-node", "join-second-node"] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "members never listed both: {members}"
        );
        thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn leave_shuts_the_agent_down_gracefully() {
    let mut agent = Agent::start(&["-node", "leaving-cli-node"]);
    assert_eq!(agent.ok(&["leave"]), "Graceful leave complete\n");
    let deadline = Instant::now() + Duration::from_secs(30);
    while agent.child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "agent still running after leave:\n{}",
            agent.output()
        );
        thread::sleep(Duration::from_millis(100));
    }
}

/// The autopilot configuration a [`FakeAgent`] serves.
const FAKE_AUTOPILOT: &str = r#"{"CleanupDeadServers": true, "LastContactThreshold": "200ms",
    "MaxTrailingLogs": 250, "MinQuorum": 0, "ServerStabilizationTime": "10s",
    "RedundancyZoneTag": "", "DisableUpgradeMigration": false, "UpgradeVersionTag": "",
    "CreateIndex": 5, "ModifyIndex": 7}"#;

#[test]
fn set_config_reports_a_lost_check_and_set() {
    let agent = FakeAgent::start(|method, _| match method {
        "GET" => (200, FAKE_AUTOPILOT),
        _ => (200, "false"),
    });
    let output = agent.cli(&[
        "operator",
        "autopilot",
        "set-config",
        "-max-trailing-logs=300",
        "-server-stabilization-time=1m30s",
        "-cleanup-dead-servers=false",
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stdout(&output),
        "Configuration could not be atomically updated, please try again\n"
    );
    let requests = agent.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert!(
        requests[0].starts_with("GET /v1/operator/autopilot/configuration "),
        "{requests:?}"
    );
    let (head, body) = requests[1]
        .split_once(' ')
        .unwrap()
        .1
        .split_once(' ')
        .unwrap();
    assert_eq!(head, "/v1/operator/autopilot/configuration?cas=7");
    assert!(requests[1].starts_with("PUT "), "{requests:?}");
    let sent: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(sent["MaxTrailingLogs"], 300);
    assert_eq!(sent["ServerStabilizationTime"], "1m30s");
    assert_eq!(sent["CleanupDeadServers"], false);
    assert_eq!(
        sent["LastContactThreshold"], "200ms",
        "unchanged settings are kept"
    );
    assert_eq!(sent["ModifyIndex"], 7);
}

#[test]
fn raft_changes_send_consul_requests() {
    let agent = FakeAgent::start(|method, _| match method {
        "POST" => (200, r#"{"Success": true}"#),
        _ => (200, ""),
    });
    let transfer = agent.cli(&["operator", "raft", "transfer-leader", "-id=server-2"]);
    assert!(transfer.status.success(), "{}", stderr(&transfer));
    assert_eq!(stdout(&transfer), "Success\n");
    let by_address = agent.cli(&["operator", "raft", "remove-peer", "-address=10.0.0.2:8300"]);
    assert_eq!(
        stdout(&by_address),
        "Removed peer with address \"10.0.0.2:8300\"\n"
    );
    let by_id = agent.cli(&["operator", "raft", "remove-peer", "-id", "server-3"]);
    assert_eq!(stdout(&by_id), "Removed peer with id \"server-3\"\n");
    assert_eq!(
        agent.requests(),
        [
            "POST /v1/operator/raft/transfer-leader?id=server-2 ",
            "DELETE /v1/operator/raft/peer?address=10.0.0.2%3A8300 ",
            "DELETE /v1/operator/raft/peer?id=server-3 ",
        ]
    );

    let refusing = FakeAgent::start(|_, _| (200, r#"{"Success": false}"#));
    let transfer = refusing.cli(&["operator", "raft", "transfer-leader"]);
    assert_eq!(transfer.status.code(), Some(1));
    assert_eq!(
        stderr(&transfer),
        "Error transfering leadership: Failed to transfer leadership\n"
    );
}

#[test]
fn membership_commands_send_consul_requests() {
    let agent = FakeAgent::start(|_, target| {
        if target.contains("10.0.0.9") {
            (500, "dial tcp 10.0.0.9:8301: i/o timeout\n")
        } else {
            (200, "")
        }
    });
    let join = agent.cli(&["join", "-wan", "10.0.0.1:8302", "10.0.0.9", "10.0.0.2"]);
    assert!(join.status.success(), "{}", stderr(&join));
    assert_eq!(
        stdout(&join),
        "Successfully joined cluster by contacting 2 nodes.\n"
    );
    assert_eq!(
        stderr(&join),
        "Error joining address '10.0.0.9': Unexpected response code: 500 \
         (dial tcp 10.0.0.9:8301: i/o timeout)\n"
    );
    let force = agent.cli(&["force-leave", "-prune", "-wan", "old node.dc1"]);
    assert!(force.status.success(), "{}", stderr(&force));
    assert_eq!(stdout(&force), "", "force-leave is silent on success");
    let plain = agent.cli(&["force-leave", "gone"]);
    assert!(plain.status.success(), "{}", stderr(&plain));
    assert_eq!(stdout(&agent.cli(&["leave"])), "Graceful leave complete\n");
    assert_eq!(
        agent.requests(),
        [
            "PUT /v1/agent/join/10.0.0.1:8302?wan=1 ",
            "PUT /v1/agent/join/10.0.0.9?wan=1 ",
            "PUT /v1/agent/join/10.0.0.2?wan=1 ",
            "PUT /v1/agent/force-leave/old%20node.dc1?prune=1&wan=1 ",
            "PUT /v1/agent/force-leave/gone ",
            "PUT /v1/agent/leave ",
        ]
    );
}

#[test]
fn info_refuses_a_reply_without_stats() {
    let agent = FakeAgent::start(|_, _| (200, r#"{"Config": {}}"#));
    let output = agent.cli(&["info"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).starts_with("Agent response did not contain 'Stats' key: "),
        "{}",
        stderr(&output)
    );
}
