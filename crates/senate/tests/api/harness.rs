//! Starts the real `senate` binary on free loopback ports, waits until it leads, and kills it
//! when the test ends, printing the tail of its log if the test failed.

use crate::http::Client;
use std::collections::HashSet;
use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const READY_DEADLINE: Duration = Duration::from_secs(20);
const STOP_DEADLINE: Duration = Duration::from_secs(20);
const START_ATTEMPTS: usize = 3;
const LOG_TAIL_LINES: usize = 80;

/// Ports already handed out in this test process, so parallel tests never share one.
static USED_PORTS: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
static TEMP_COUNTER: AtomicU32 = AtomicU32::new(0);

/// A directory under the system temp dir, removed when dropped (kept if the test failed).
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(purpose: &str) -> TempDir {
        let unique = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("senate-api-{purpose}-{}-{unique}", std::process::id());
        let path = std::env::temp_dir().join(name);
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("creating {}: {e}", path.display()));
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("keeping {} for inspection", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// The ports one server listens on.
#[derive(Clone, Copy, Debug)]
struct Ports {
    http: u16,
    serf_lan: u16,
    serf_wan: u16,
    server: u16,
}

impl Ports {
    fn allocate() -> Ports {
        let mut used = USED_PORTS
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let used = used.get_or_insert_with(HashSet::new);
        // Hold every listener until all four are chosen so the kernel hands out distinct ports.
        let mut listeners = Vec::new();
        while listeners.len() < 4 {
            let listener = TcpListener::bind("127.0.0.1:0").expect("binding an ephemeral port");
            let port = listener.local_addr().expect("local address").port();
            if used.insert(port) {
                listeners.push(listener);
            }
        }
        let port = |i: usize| listeners[i].local_addr().expect("local address").port();
        Ports {
            http: port(0),
            serf_lan: port(1),
            serf_wan: port(2),
            server: port(3),
        }
    }
}

/// How the server keeps its state and finds its cluster.
enum Mode {
    Dev,
    Durable(PathBuf),
    /// One of several servers: `-bootstrap-expect`, joining others' gossip ports.
    Member {
        data_dir: PathBuf,
        expect: u32,
        join: Vec<u16>,
    },
    /// A client agent (no `-server`), joining servers' gossip ports.
    Client {
        data_dir: PathBuf,
        join: Vec<u16>,
    },
}

/// A running `senate agent`, killed on drop.
pub struct Server {
    child: Option<Child>,
    mode: Mode,
    extra_args: Vec<String>,
    ports: Ports,
    node: String,
    log_dir: TempDir,
    starts: u32,
}

impl Server {
    /// An in-memory `-dev` server.
    pub fn dev() -> Server {
        Server::dev_with(&[])
    }

    /// A durable single server keeping its state in `data_dir`.
    pub fn durable(data_dir: &Path) -> Server {
        Server::durable_with(data_dir, &[])
    }

    /// An in-memory `-dev` server given extra command-line arguments, e.g.
    /// `["-hcl", "enable_script_checks = true"]` or `["-config-file=/path/to/file.json"]`.
    pub fn dev_with(extra_args: &[&str]) -> Server {
        Server::launch(Mode::Dev, extra_args)
    }

    /// A durable single server keeping its state in `data_dir`, given extra arguments.
    pub fn durable_with(data_dir: &Path, extra_args: &[&str]) -> Server {
        Server::launch(Mode::Durable(data_dir.to_path_buf()), extra_args)
    }

    /// A server of a cluster that bootstraps once `expect` servers meet, retry-joining the
    /// gossip ports in `join`; returns once its HTTP API answers (a leader may come later).
    pub fn member(data_dir: &Path, expect: u32, join: &[u16], extra_args: &[&str]) -> Server {
        let mode = Mode::Member {
            data_dir: data_dir.to_path_buf(),
            expect,
            join: join.to_vec(),
        };
        Server::launch(mode, extra_args)
    }

    /// A client agent retry-joining the gossip ports in `join`; returns once its HTTP API
    /// answers.
    pub fn client_agent(data_dir: &Path, join: &[u16], extra_args: &[&str]) -> Server {
        let mode = Mode::Client {
            data_dir: data_dir.to_path_buf(),
            join: join.to_vec(),
        };
        Server::launch(mode, extra_args)
    }

    fn launch(mode: Mode, extra_args: &[&str]) -> Server {
        let unique = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut server = Server {
            child: None,
            mode,
            extra_args: extra_args.iter().map(|arg| arg.to_string()).collect(),
            ports: Ports::allocate(),
            node: format!("node-{}-{unique}", std::process::id()),
            log_dir: TempDir::new("log"),
            starts: 0,
        };
        for attempt in 1..=START_ATTEMPTS {
            match server.start() {
                Ok(()) => return server,
                Err(failure) if attempt == START_ATTEMPTS => {
                    panic!("the senate server did not start: {failure}")
                }
                // Most likely a port clash with another process: try again on fresh ports.
                Err(_) => {
                    stop(server.child.take());
                    server.ports = Ports::allocate();
                }
            }
        }
        unreachable!("the last attempt either returns or panics")
    }

    /// Spawns the binary and waits until it reports a leader; on failure returns the log tail.
    fn start(&mut self) -> Result<(), String> {
        self.starts += 1;
        let log_path = self.log_path();
        let log =
            File::create(&log_path).map_err(|e| format!("creating {}: {e}", log_path.display()))?;
        let log_err = log.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(env!("CARGO_BIN_EXE_senate"))
            .args(self.args())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| format!("spawning senate: {e}"))?;
        self.child = Some(child);
        match self.mode {
            Mode::Member { .. } | Mode::Client { .. } => self.wait_until_serving(),
            Mode::Dev | Mode::Durable(_) => self.wait_until_leader(),
        }
    }

    fn args(&self) -> Vec<String> {
        let mut args = vec!["agent".to_string()];
        match &self.mode {
            Mode::Dev => args.push("-dev".to_string()),
            Mode::Durable(dir) => {
                args.extend(["-server".to_string(), "-bootstrap-expect=1".to_string()]);
                args.extend(["-data-dir".to_string(), dir.display().to_string()]);
            }
            Mode::Member {
                data_dir,
                expect,
                join,
            } => {
                args.extend(["-server".to_string(), format!("-bootstrap-expect={expect}")]);
                args.extend(joining(data_dir, join));
            }
            Mode::Client { data_dir, join } => args.extend(joining(data_dir, join)),
        }
        let p = self.ports;
        args.extend([
            format!("-http-port={}", p.http),
            "-dns-port=-1".to_string(),
            "-grpc-port=-1".to_string(),
            format!("-serf-lan-port={}", p.serf_lan),
            format!("-serf-wan-port={}", p.serf_wan),
            format!("-server-port={}", p.server),
            format!("-node={}", self.node),
        ]);
        args.extend(self.extra_args.iter().cloned());
        args
    }

    fn log_path(&self) -> PathBuf {
        self.log_dir
            .path()
            .join(format!("senate-{}.log", self.starts))
    }

    /// Waits until the HTTP API answers at all.
    fn wait_until_serving(&mut self) -> Result<(), String> {
        self.wait_until(
            "the HTTP API answers",
            |response| response.status == 200,
            "/v1/agent/self",
        )
    }

    fn wait_until_leader(&mut self) -> Result<(), String> {
        self.wait_until(
            "a leader",
            |response| {
                let leader = serde_json::from_slice::<String>(&response.body).unwrap_or_default();
                response.status == 200 && !leader.is_empty()
            },
            "/v1/status/leader",
        )
    }

    fn wait_until(
        &mut self,
        what: &str,
        ready: impl Fn(&crate::http::Response) -> bool,
        path: &str,
    ) -> Result<(), String> {
        let deadline = Instant::now() + READY_DEADLINE;
        let mut client = self.client();
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(format!(
                        "senate exited early with {status}\n{}",
                        self.log_tail()
                    ));
                }
            }
            if let Ok(response) = client.try_request("GET", path, b"") {
                if ready(&response) {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "no sign of {what} within {READY_DEADLINE:?}\n{}",
                    self.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The HTTP API address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.ports.http))
    }

    /// The `-node` name this server was given.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The Raft server (RPC) port, which Consul servers advertise as the `consul` service's port.
    pub fn server_port(&self) -> u16 {
        self.ports.server
    }

    /// The server's RPC address as the Raft configuration names it.
    pub fn rpc_address(&self) -> String {
        format!("127.0.0.1:{}", self.ports.server)
    }

    /// The LAN gossip port others join.
    pub fn serf_lan_port(&self) -> u16 {
        self.ports.serf_lan
    }

    /// Kills the process with SIGKILL and leaves it stopped.
    pub fn kill(&mut self) {
        stop(self.child.take());
    }

    /// Starts a stopped server again with the same flags, data directory and ports.
    pub fn restart(&mut self) {
        if let Err(failure) = self.try_restart() {
            panic!("senate did not start again: {failure}");
        }
    }

    /// Starts a stopped server again; on failure, says why (with the log's tail).
    pub fn try_restart(&mut self) -> Result<(), String> {
        stop(self.child.take());
        self.start()
    }

    /// Everything the current run has logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    /// A new client connection to this server.
    pub fn client(&self) -> Client {
        Client::new(self.addr())
    }

    /// Kills the process with SIGKILL (no clean shutdown) and starts it again with the same
    /// flags, data directory and ports.
    pub fn kill_and_restart(&mut self) {
        stop(self.child.take());
        if let Err(failure) = self.start() {
            panic!("senate did not come back after kill -9: {failure}");
        }
    }

    /// Asks the process to shut down cleanly (SIGTERM), waits until it has exited, and starts
    /// it again with the same flags, data directory and ports.
    pub fn stop_and_restart(&mut self) {
        self.signal("TERM");
        let mut child = self.child.take().expect("the server is running");
        let deadline = Instant::now() + STOP_DEADLINE;
        while child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                stop(Some(child));
                panic!(
                    "senate did not exit within {STOP_DEADLINE:?} of SIGTERM\n{}",
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Err(failure) = self.start() {
            panic!("senate did not come back after a clean stop: {failure}");
        }
    }

    /// Sends the running process the signal `name` (`"TERM"`, `"HUP"`, ...).
    pub fn signal(&self, name: &str) {
        let pid = self.child.as_ref().expect("the server is running").id();
        let signalled = Command::new("kill")
            .args([format!("-{name}"), pid.to_string()])
            .status();
        assert!(
            signalled.is_ok_and(|status| status.success()),
            "could not send SIG{name} to senate (pid {pid})"
        );
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..];
        format!(
            "--- last lines of {} ---\n{}",
            self.log_path().display(),
            tail.join("\n")
        )
    }
}

/// SIGKILLs the child (if any) and reaps it.
fn stop(child: Option<Child>) {
    if let Some(mut child) = child {
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        stop(self.child.take());
        if std::thread::panicking() {
            eprintln!(
                "senate server on {} (node {}):\n{}",
                self.addr(),
                self.node,
                self.log_tail()
            );
        }
    }
}

/// Polls `probe` every 50 ms until it yields a value, panicking after `timeout`.
#[track_caller]
pub fn wait_for<T>(timeout: Duration, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The flags of an agent that keeps `data_dir` and retry-joins the gossip ports in `join`.
fn joining(data_dir: &Path, join: &[u16]) -> Vec<String> {
    let mut args = vec![
        "-data-dir".to_string(),
        data_dir.display().to_string(),
        "-bind=127.0.0.1".to_string(),
        "-retry-interval=1s".to_string(),
    ];
    args.extend(
        join.iter()
            .map(|port| format!("-retry-join=127.0.0.1:{port}")),
    );
    args
}
