//! Health checks really run on the agent: TTL checks (updates and lapsing), script checks (exit
//! codes, and only when enabled), HTTP checks against a local test server, TCP checks, and
//! `DeregisterCriticalServiceAfter`; every status change reaches the catalog.

use crate::harness::{wait_for, Server};
use crate::http::Client;
use crate::ops::{agent_check, catalog_check, get_json, put_ok};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// How long a probed check may take to reach a status and for it to be synced to the catalog.
const CHECK_DEADLINE: Duration = Duration::from_secs(15);

#[track_caller]
fn register_check(client: &mut Client, definition: Value) {
    put_ok(client, "/v1/agent/check/register", definition.to_string());
}

/// Waits until the catalog shows `check_id` of the server's node with `status`; returns it.
#[track_caller]
fn wait_for_catalog_status(server: &Server, check_id: &str, status: &str) -> Value {
    let mut c = server.client();
    wait_for(
        CHECK_DEADLINE,
        &format!("{check_id} to be {status} in the catalog"),
        || catalog_check(&mut c, server.node(), check_id).filter(|check| check["Status"] == status),
    )
}

/// Asserts the agent's own view of a check has `status` and returns it.
#[track_caller]
fn agent_status(client: &mut Client, check_id: &str, status: &str) -> Value {
    let check = agent_check(client, check_id).unwrap_or_else(|| panic!("agent has no {check_id}"));
    assert_eq!(check["Status"], status, "{check}");
    check
}

#[test]
fn a_ttl_check_lapses_to_critical_when_not_updated() {
    let server = Server::dev();
    let mut c = server.client();
    register_check(
        &mut c,
        json!({"ID": "heartbeat", "Name": "Heartbeat", "TTL": "1s"}),
    );
    agent_status(&mut c, "heartbeat", "critical");
    put_ok(&mut c, "/v1/agent/check/pass/heartbeat?note=fine", "");
    let check = agent_status(&mut c, "heartbeat", "passing");
    assert_eq!(check["Output"], "fine");
    assert_eq!(check["Type"], "ttl");
    wait_for_catalog_status(&server, "heartbeat", "passing");

    let lapsed = wait_for(Duration::from_secs(6), "the TTL to lapse", || {
        agent_check(&mut c, "heartbeat").filter(|check| check["Status"] == "critical")
    });
    let output = lapsed["Output"].as_str().expect("Output");
    assert!(
        output.starts_with("TTL expired"),
        "output after the TTL lapsed: {output:?}"
    );
    let in_catalog = wait_for_catalog_status(&server, "heartbeat", "critical");
    assert!(
        in_catalog["Output"]
            .as_str()
            .is_some_and(|o| o.contains("TTL expired")),
        "catalog output: {in_catalog}"
    );
}

#[test]
fn ttl_updates_set_status_and_output() {
    let server = Server::dev();
    let mut c = server.client();
    register_check(&mut c, json!({"Name": "manual", "TTL": "60s"}));
    for (path, status, output) in [
        ("/v1/agent/check/warn/manual?note=slow", "warning", "slow"),
        ("/v1/agent/check/fail/manual?note=down", "critical", "down"),
        ("/v1/agent/check/pass/manual", "passing", ""),
    ] {
        put_ok(&mut c, path, "");
        let check = agent_status(&mut c, "manual", status);
        assert_eq!(check["Output"], output, "after {path}");
        // Each status reaches the catalog before the next (an output-only change that follows
        // a synced status waits for check_update_interval, as in Consul).
        wait_for_catalog_status(&server, "manual", status);
    }
    put_ok(
        &mut c,
        "/v1/agent/check/update/manual",
        json!({"Status": "warning", "Output": "disk 91% full"}).to_string(),
    );
    let check = agent_status(&mut c, "manual", "warning");
    assert_eq!(check["Output"], "disk 91% full");
    let in_catalog = wait_for_catalog_status(&server, "manual", "warning");
    assert_eq!(in_catalog["Output"], "disk 91% full");

    let response = c.put(
        "/v1/agent/check/update/manual",
        json!({"Status": "sleepy"}).to_string(),
    );
    assert_eq!(
        response.status,
        400,
        "unknown status: {:?}",
        response.text()
    );
    for path in [
        "/v1/agent/check/pass/nope",
        "/v1/agent/check/warn/nope",
        "/v1/agent/check/fail/nope",
    ] {
        assert_eq!(c.put(path, "").status, 404, "{path}");
    }
    let response = c.put(
        "/v1/agent/check/update/nope",
        json!({"Status": "passing"}).to_string(),
    );
    assert_eq!(
        response.status,
        404,
        "update of an unknown check: {:?}",
        response.text()
    );
    agent_status(&mut c, "manual", "warning");
}

#[test]
fn script_checks_follow_exit_codes() {
    let server = Server::dev_with(&["-hcl", "enable_script_checks = true"]);
    let mut c = server.client();
    put_ok(
        &mut c,
        "/v1/agent/service/register",
        json!({"Name": "scripted", "Checks": [
            {"CheckID": "exit-0", "Args": ["sh", "-c", "echo all good; exit 0"], "Interval": "1s"},
            {"CheckID": "exit-1", "Args": ["sh", "-c", "echo degraded; exit 1"], "Interval": "1s"},
            {"CheckID": "exit-2", "Script": "echo broken; exit 2", "Interval": "1s",
             "Status": "passing"}
        ]})
        .to_string(),
    );
    let passing = wait_for_catalog_status(&server, "exit-0", "passing");
    assert!(
        passing["Output"]
            .as_str()
            .is_some_and(|o| o.contains("all good")),
        "the script's output is kept: {passing}"
    );
    wait_for_catalog_status(&server, "exit-1", "warning");
    let critical = wait_for_catalog_status(&server, "exit-2", "critical");
    assert!(
        critical["Output"]
            .as_str()
            .is_some_and(|o| o.contains("broken")),
        "the failing script's output: {critical}"
    );
    let checks = get_json(&mut c, "/v1/health/checks/scripted");
    assert_eq!(checks.as_array().map(Vec::len), Some(3), "{checks}");
    assert_eq!(agent_status(&mut c, "exit-1", "warning")["Type"], "script");
}

#[test]
fn local_script_checks_run_from_config_but_not_from_the_api() {
    let config = "enable_local_script_checks = true\n\
                  check {\n  id = \"local-script\"\n  name = \"local\"\n  \
                  args = [\"sh\", \"-c\", \"exit 0\"]\n  interval = \"1s\"\n}";
    let server = Server::dev_with(&["-hcl", config]);
    let mut c = server.client();
    wait_for_catalog_status(&server, "local-script", "passing");
    let response = c.put(
        "/v1/agent/check/register",
        json!({"Name": "remote", "Args": ["true"], "Interval": "1s"}).to_string(),
    );
    assert_eq!(
        response.status,
        400,
        "enable_local_script_checks allows scripts from config files only: {:?}",
        response.text()
    );
    assert!(agent_check(&mut c, "remote").is_none());
}

/// A tiny HTTP server that answers `GET /<code>` with that status code and the body
/// `status <code>`, for HTTP checks to probe; stopped when dropped.
struct StatusServer {
    addr: SocketAddr,
    stopping: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl StatusServer {
    fn start() -> StatusServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the test HTTP server");
        let addr = listener.local_addr().expect("local address");
        let stopping = Arc::new(AtomicBool::new(false));
        let stop = stopping.clone();
        let thread = thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                if let Ok(stream) = stream {
                    answer(stream);
                }
            }
        });
        StatusServer {
            addr,
            stopping,
            thread: Some(thread),
        }
    }

    fn url(&self, code: u16) -> String {
        format!("http://{}/{code}", self.addr)
    }
}

impl Drop for StatusServer {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Answers one request with the status code named by its path; errors just drop the connection.
fn answer(mut stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(&stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut header = String::new();
    while reader.read_line(&mut header).is_ok_and(|n| n > 0) && header.trim() != "" {
        header.clear();
    }
    let code: u16 = request_line
        .split(' ')
        .nth(1)
        .and_then(|path| path.trim_start_matches('/').parse().ok())
        .unwrap_or(404);
    let body = format!("status {code}");
    let _ = write!(
        stream,
        "HTTP/1.1 {code} Test\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

#[test]
fn http_checks_follow_response_codes() {
    let target = StatusServer::start();
    let server = Server::dev();
    let mut c = server.client();
    put_ok(
        &mut c,
        "/v1/agent/service/register",
        json!({"Name": "probed", "Checks": [
            {"CheckID": "http-200", "HTTP": target.url(200), "Interval": "1s"},
            {"CheckID": "http-429", "HTTP": target.url(429), "Interval": "1s"},
            {"CheckID": "http-500", "HTTP": target.url(500), "Interval": "1s", "Timeout": "2s",
             "Status": "passing"}
        ]})
        .to_string(),
    );
    let passing = wait_for_catalog_status(&server, "http-200", "passing");
    assert!(
        passing["Output"]
            .as_str()
            .is_some_and(|o| o.contains("status 200")),
        "the response body is in the output: {passing}"
    );
    wait_for_catalog_status(&server, "http-429", "warning");
    let critical = wait_for_catalog_status(&server, "http-500", "critical");
    assert!(
        critical["Output"]
            .as_str()
            .is_some_and(|o| o.contains("500")),
        "output names the status: {critical}"
    );
    assert_eq!(agent_status(&mut c, "http-200", "passing")["Type"], "http");
}

#[test]
fn tcp_checks_pass_on_an_open_port_and_fail_on_a_closed_one() {
    let open = TcpListener::bind("127.0.0.1:0").expect("binding an open port");
    let open_addr = open.local_addr().expect("local address");
    let closed_addr = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding a port to close");
        listener.local_addr().expect("local address")
    };
    let server = Server::dev();
    let mut c = server.client();
    register_check(
        &mut c,
        json!({"ID": "tcp-open", "Name": "open", "TCP": open_addr.to_string(), "Interval": "1s"}),
    );
    register_check(
        &mut c,
        json!({"ID": "tcp-closed", "Name": "closed", "TCP": closed_addr.to_string(),
               "Interval": "1s", "Timeout": "1s", "Status": "passing"}),
    );
    let passing = wait_for_catalog_status(&server, "tcp-open", "passing");
    assert!(
        passing["Output"]
            .as_str()
            .is_some_and(|o| o.contains("Success")),
        "{passing}"
    );
    wait_for_catalog_status(&server, "tcp-closed", "critical");
    assert_eq!(agent_status(&mut c, "tcp-open", "passing")["Type"], "tcp");
    drop(open);
}

#[test]
fn a_service_critical_too_long_is_deregistered() {
    let server = Server::dev();
    let mut c = server.client();
    put_ok(
        &mut c,
        "/v1/agent/service/register",
        json!({"Name": "doomed", "Check": {"TTL": "30s", "DeregisterCriticalServiceAfter": "2s"}})
            .to_string(),
    );
    put_ok(
        &mut c,
        "/v1/agent/service/register",
        json!({"Name": "healthy", "Check": {"TTL": "30s", "Status": "passing",
                                            "DeregisterCriticalServiceAfter": "2s"}})
        .to_string(),
    );
    wait_for(CHECK_DEADLINE, "doomed to be deregistered", || {
        let services = get_json(&mut c, "/v1/agent/services");
        services.get("doomed").is_none().then_some(())
    });
    assert!(agent_check(&mut c, "service:doomed").is_none());
    wait_for(CHECK_DEADLINE, "doomed to leave the catalog", || {
        (get_json(&mut c, "/v1/catalog/service/doomed") == json!([])).then_some(())
    });
    assert!(
        get_json(&mut c, "/v1/agent/services")
            .get("healthy")
            .is_some(),
        "a passing service stays"
    );
}
