//! What the CLI test binaries share: running `senate` with a clean environment, scratch
//! directories, and a real `senate agent -dev` on free loopback ports.
#![allow(dead_code)] // each test binary uses its own part of it

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

pub const SENATE: &str = env!("CARGO_BIN_EXE_senate");
const ADDRESS_VARS: [&str; 4] = [
    "CONSUL_HTTP_ADDR",
    "SENATE_HTTP_ADDR",
    "CONSUL_HTTP_TOKEN",
    "CONSUL_HTTP_TOKEN_FILE",
];

/// `senate` with the given arguments and no address or token from the caller's environment.
pub fn senate(args: &[&str]) -> Command {
    let mut command = Command::new(SENATE);
    command.args(args);
    for var in ADDRESS_VARS {
        command.env_remove(var);
    }
    command.env_remove("RUST_LOG");
    command
}

pub fn run(args: &[&str]) -> Output {
    senate(args).stdin(Stdio::null()).output().unwrap()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A scratch directory, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(label: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let unique = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "senate-cli-{label}-{}-{unique}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    pub fn file(&self, name: &str, text: &str) -> String {
        let path = self.0.join(name);
        fs::write(&path, text).unwrap();
        path.display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `senate agent -dev` on free ports, logging to a file; killed when dropped.
pub struct Agent {
    pub child: Child,
    pub http_port: u16,
    serf_lan_port: u16,
    log: PathBuf,
    dir: TempDir,
}

impl Agent {
    /// Starts the agent with `extra` flags after the port flags, and waits until it leads.
    pub fn start(extra: &[&str]) -> Agent {
        let dir = TempDir::new("agent");
        let log = dir.0.join("agent.log");
        let (http_port, serf_lan_port) = (free_port(), free_port());
        let ports = [
            ("-http-port", http_port.to_string()),
            ("-server-port", free_port().to_string()),
            ("-serf-lan-port", serf_lan_port.to_string()),
            ("-serf-wan-port", "-1".to_string()),
            ("-dns-port", "-1".to_string()),
            ("-grpc-port", "-1".to_string()),
        ];
        let mut args = vec!["agent".to_string(), "-dev".to_string()];
        for (flag, value) in ports {
            args.push(format!("{flag}={value}"));
        }
        args.extend(extra.iter().map(|arg| arg.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let child = senate(&args)
            .stdin(Stdio::null())
            .stdout(fs::File::create(&log).unwrap())
            .stderr(fs::File::create(dir.0.join("agent.err")).unwrap())
            .spawn()
            .unwrap();
        let mut agent = Agent {
            child,
            http_port,
            serf_lan_port,
            log,
            dir,
        };
        agent.wait_for_leader();
        agent
    }

    /// This agent's LAN gossip address, for `join`.
    pub fn serf_address(&self) -> String {
        format!("127.0.0.1:{}", self.serf_lan_port)
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.http_port)
    }

    pub fn output(&self) -> String {
        let log = fs::read_to_string(&self.log).unwrap_or_default();
        let err = fs::read_to_string(self.dir.0.join("agent.err")).unwrap_or_default();
        format!("{log}\n--- stderr ---\n{err}")
    }

    /// Polls `/v1/status/leader` until it names a leader; fails if the agent exits first.
    pub fn wait_for_leader(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("agent exited with {status}:\n{}", self.output());
            }
            if let Some(body) = http_get(self.http_port, "/v1/status/leader") {
                if !matches!(body.trim(), "" | "\"\"") {
                    return;
                }
            }
            thread::sleep(Duration::from_millis(100));
        }
        panic!("agent elected no leader in time:\n{}", self.output());
    }

    /// Runs a client command against this agent via `CONSUL_HTTP_ADDR`.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.cli_with_stdin(args, "")
    }

    pub fn cli_with_stdin(&self, args: &[&str], input: &str) -> Output {
        let mut child = senate(args)
            .env("CONSUL_HTTP_ADDR", self.address())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// Runs a client command that must succeed, returning its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let output = self.cli(args);
        assert!(
            output.status.success(),
            "{args:?} failed: {}{}",
            stdout(&output),
            stderr(&output)
        );
        stdout(&output)
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The body of a plain HTTP/1.1 GET, or `None` if the agent is not answering yet.
pub fn http_get(port: u16, path: &str) -> Option<String> {
    http_request(port, "GET", path, "")
}

/// The body of a plain HTTP/1.1 PUT of `body`, or `None` unless it answered 200.
pub fn http_put(port: u16, path: &str, body: &str) -> Option<String> {
    http_request(port, "PUT", path, body)
}

fn http_request(port: u16, method: &str, path: &str, body: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_string())
}
