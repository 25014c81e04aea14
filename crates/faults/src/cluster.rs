//! The cluster under test: N `senate agent -server` processes, each in its own network
//! namespace (so the nemesis can partition them) or, without root, side by side on loopback,
//! and optionally client agents, each beside a server (in its namespace: partitioning a host
//! cuts both off). Servers can be killed, restarted, paused and resumed, and asked who leads.
//! Dropping the cluster kills every process; the scratch directory is removed unless kept.

use crate::http::{self, Response};
use crate::netns::{Layout, NetError, Network};
use std::fs::{self, File};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The namespaces and addresses fault runs use (the partition test uses 10.213).
pub const LAYOUT: Layout = Layout {
    prefix: "senate-ft-",
    link: "sft",
    subnet: 214,
};

const HTTP_PORT: u16 = 8500;
const SERVER_PORT: u16 = 8300;
const SERF_PORT: u16 = 8301;
/// On loopback, server `i` uses ports `LOOPBACK_BASE + 10 i + {0: http, 1: server, 2: serf}`.
const LOOPBACK_BASE: u16 = 28_500;
/// A client agent's HTTP and serf ports are its host server's plus this (8505 and 8306 in a
/// namespace), inside the server's stride of 10 on loopback.
const CLIENT_PORT_OFFSET: u16 = 5;
const STATUS_TIMEOUT: Duration = Duration::from_secs(2);

/// Why the cluster could not be started or driven.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("building the test network: {0}")]
    Network(#[from] NetError),
    #[error("{0}")]
    Io(String),
    #[error("the cluster did not form within {within:?}: {why}\n{logs}")]
    DidNotForm {
        within: Duration,
        why: String,
        logs: String,
    },
}

/// Where the servers run.
pub enum Placement {
    Namespaces(Network),
    Loopback,
}

/// Whether an agent is a server or a client agent.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Server,
    Client,
}

/// One agent: its addresses, data directory, log file and (while running) its process.
pub struct Agent {
    pub index: usize,
    role: Role,
    pub ip: IpAddr,
    pub http: SocketAddr,
    pub rpc: SocketAddr,
    serf: SocketAddr,
    data_dir: PathBuf,
    log_path: PathBuf,
    namespace: Option<String>,
    child: Option<Child>,
    paused: bool,
}

pub struct Cluster {
    pub servers: Vec<Agent>,
    /// Client agents, `clients[i]` beside server `i + 1`.
    pub clients: Vec<Agent>,
    pub placement: Placement,
    senate: PathBuf,
    scratch: PathBuf,
    keep_scratch: bool,
}

impl Cluster {
    /// Starts `size` servers (in namespaces unless `loopback`) and waits until they agree on
    /// a leader with `size` voters.
    pub fn start(
        senate: &Path,
        size: usize,
        client_agents: usize,
        loopback: bool,
        scratch: PathBuf,
        form_within: Duration,
    ) -> Result<Cluster, ClusterError> {
        let placement = if loopback {
            Placement::Loopback
        } else {
            Placement::Namespaces(Network::build(LAYOUT, size)?)
        };
        let _ = fs::remove_dir_all(&scratch);
        fs::create_dir_all(&scratch).map_err(|e| io_error(&scratch, e))?;
        let servers = (1..=size)
            .map(|index| Agent::new(index, Role::Server, &placement, &scratch))
            .collect();
        let clients = (1..=client_agents)
            .map(|index| Agent::new(1 + (index - 1) % size, Role::Client, &placement, &scratch))
            .enumerate()
            .map(|(n, client)| client.numbered(n + 1, &scratch))
            .collect();
        let mut cluster = Cluster {
            servers,
            clients,
            placement,
            senate: senate.to_path_buf(),
            scratch,
            keep_scratch: false,
        };
        for index in 1..=size {
            cluster.start_server(index)?;
        }
        cluster.wait_formed(form_within)?;
        for client in 0..cluster.clients.len() {
            cluster.start_client(client)?;
        }
        cluster.wait_clients_ready(form_within)?;
        Ok(cluster)
    }

    /// Keeps the scratch directory (data and logs) after the cluster is dropped.
    pub fn keep_scratch(&mut self) {
        self.keep_scratch = true;
    }

    pub fn scratch(&self) -> &Path {
        &self.scratch
    }

    pub fn size(&self) -> usize {
        self.servers.len()
    }

    pub fn server(&self, index: usize) -> &Agent {
        &self.servers[index - 1]
    }

    pub fn network(&mut self) -> Option<&mut Network> {
        match &mut self.placement {
            Placement::Namespaces(network) => Some(network),
            Placement::Loopback => None,
        }
    }

    /// Starts server `index` (again), on its existing data directory.
    pub fn start_server(&mut self, index: usize) -> Result<(), ClusterError> {
        let (join, size, senate) = (self.server(1).serf, self.size(), self.senate.clone());
        self.servers[index - 1].spawn(&senate, size, join)
    }

    /// Starts client agent `client` (0-based) if it is not running.
    pub fn start_client(&mut self, client: usize) -> Result<(), ClusterError> {
        let (join, size, senate) = (self.server(1).serf, self.size(), self.senate.clone());
        let agent = &mut self.clients[client];
        if agent
            .child
            .as_mut()
            .is_some_and(|child| matches!(child.try_wait(), Ok(None)))
        {
            return Ok(());
        }
        agent.child = None;
        agent.spawn(&senate, size, join)
    }

    /// Every HTTP address a workload may send to: servers and client agents.
    pub fn http_addresses(&self) -> Vec<SocketAddr> {
        self.servers
            .iter()
            .chain(&self.clients)
            .map(|agent| agent.http)
            .collect()
    }

    /// `kill -9` of server `index` (resuming it first if paused, so it really dies).
    pub fn kill(&mut self, index: usize) {
        let server = &mut self.servers[index - 1];
        if let Some(mut child) = server.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        server.paused = false;
    }

    /// Deletes server `index`'s data directory (it must not be running).
    pub fn wipe(&mut self, index: usize) -> Result<(), ClusterError> {
        let dir = self.server(index).data_dir.clone();
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error(&dir, e)),
        }
    }

    /// SIGSTOP / SIGCONT of server `index`.
    pub fn pause(&mut self, index: usize, paused: bool) {
        let server = &mut self.servers[index - 1];
        if let Some(child) = &server.child {
            let signal = if paused { libc::SIGSTOP } else { libc::SIGCONT };
            // `ip netns exec` execs senate in place, so the child's pid is the server's.
            let pid = child.id() as libc::pid_t;
            // SAFETY: kill(2) with a pid we spawned and still own (not yet waited for).
            unsafe {
                libc::kill(pid, signal);
            }
            server.paused = paused;
        }
    }

    /// Whether server `index` has a live process (paused counts as live).
    pub fn is_running(&mut self, index: usize) -> bool {
        let server = &mut self.servers[index - 1];
        match &mut server.child {
            Some(child) => match child.try_wait() {
                Ok(None) => true,
                _ => {
                    server.child = None;
                    false
                }
            },
            None => false,
        }
    }

    pub fn is_paused(&self, index: usize) -> bool {
        self.server(index).paused
    }

    /// The leader as server `asked` names it.
    pub fn leader_seen_by(&self, asked: usize) -> Option<usize> {
        let response = get(self.server(asked).http, "/v1/status/leader?stale")?;
        let address: String = serde_json::from_slice(&response.body).ok()?;
        self.servers
            .iter()
            .find(|server| server.rpc.to_string() == address)
            .map(|server| server.index)
    }

    /// The leader every running, unpaused server agrees on, if they do.
    pub fn agreed_leader(&mut self) -> Option<usize> {
        let live: Vec<usize> = (1..=self.size())
            .filter(|&i| self.is_running(i) && !self.is_paused(i))
            .collect();
        let mut leaders = live.iter().map(|&i| self.leader_seen_by(i));
        let first = leaders.next()??;
        leaders.all(|l| l == Some(first)).then_some(first)
    }

    /// How many voters the Raft configuration (as `asked` sees it) has.
    pub fn voters(&self, asked: usize) -> Option<usize> {
        let response = get(
            self.server(asked).http,
            "/v1/operator/raft/configuration?stale",
        )?;
        let config: serde_json::Value = serde_json::from_slice(&response.body).ok()?;
        let servers = config["Servers"].as_array()?;
        Some(servers.iter().filter(|s| s["Voter"] == true).count())
    }

    /// Waits until the running servers agree on a leader counting every server as a voter.
    pub fn wait_formed(&mut self, within: Duration) -> Result<usize, ClusterError> {
        let deadline = Instant::now() + within;
        let mut why = String::from("no leader yet");
        while Instant::now() < deadline {
            let stopped: Vec<usize> = (1..=self.size()).filter(|&i| !self.is_running(i)).collect();
            if !stopped.is_empty() {
                why = format!("server(s) {stopped:?} exited");
                break;
            }
            if let Some(leader) = self.agreed_leader() {
                match self.voters(leader) {
                    Some(voters) if voters == self.size() => return Ok(leader),
                    voters => why = format!("leader {leader} counts {voters:?} voters"),
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Err(ClusterError::DidNotForm {
            within,
            why,
            logs: self.log_tails(20),
        })
    }

    /// Waits until every client agent names a leader (it has found a server).
    fn wait_clients_ready(&mut self, within: Duration) -> Result<(), ClusterError> {
        let deadline = Instant::now() + within;
        let ready = |agent: &Agent| {
            get(agent.http, "/v1/status/leader")
                .and_then(|response| serde_json::from_slice::<String>(&response.body).ok())
                .is_some_and(|leader| !leader.is_empty())
        };
        while !self.clients.iter().all(ready) {
            if Instant::now() > deadline {
                return Err(ClusterError::DidNotForm {
                    within,
                    why: "a client agent found no server".to_string(),
                    logs: self.log_tails(20),
                });
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(())
    }

    /// The last `lines` lines of every server's log.
    pub fn log_tails(&self, lines: usize) -> String {
        self.servers
            .iter()
            .chain(&self.clients)
            .map(|server| server.log_tail(lines))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Servers whose logs show a panic.
    pub fn panicked(&self) -> Vec<String> {
        self.servers
            .iter()
            .chain(&self.clients)
            .filter(|agent| {
                fs::read_to_string(&agent.log_path)
                    .map(|log| log.contains("panicked at"))
                    .unwrap_or(false)
            })
            .map(|agent| agent.name())
            .collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for index in 1..=self.size() {
            self.kill(index);
        }
        for client in &mut self.clients {
            if let Some(mut child) = client.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        if !self.keep_scratch {
            let _ = fs::remove_dir_all(&self.scratch);
        }
    }
}

impl Agent {
    fn new(index: usize, role: Role, placement: &Placement, scratch: &Path) -> Agent {
        let (ip, namespace, ports) = match placement {
            Placement::Namespaces(network) => (
                IpAddr::V4(network.host_ip(index)),
                Some(network.namespace(index).to_string()),
                (HTTP_PORT, SERVER_PORT, SERF_PORT),
            ),
            Placement::Loopback => {
                let base = LOOPBACK_BASE + 10 * index as u16;
                (
                    IpAddr::V4(Ipv4Addr::LOCALHOST),
                    None,
                    (base, base + 1, base + 2),
                )
            }
        };
        let (http_offset, serf_offset) = match role {
            Role::Server => (0, 0),
            Role::Client => (CLIENT_PORT_OFFSET, CLIENT_PORT_OFFSET),
        };
        Agent {
            index,
            role,
            ip,
            http: SocketAddr::new(ip, ports.0 + http_offset),
            rpc: SocketAddr::new(ip, ports.1),
            serf: SocketAddr::new(ip, ports.2 + serf_offset),
            data_dir: scratch.join(format!("data-{index}")),
            log_path: scratch.join(format!("senate-{index}.log")),
            namespace,
            child: None,
            paused: false,
        }
    }

    /// A client agent's own number (its host server stays `index`), for its name and files.
    fn numbered(self, number: usize, scratch: &Path) -> Agent {
        Agent {
            data_dir: scratch.join(format!("client-data-{number}")),
            log_path: scratch.join(format!("client-{number}.log")),
            ..self
        }
    }

    fn name(&self) -> String {
        match self.role {
            Role::Server => format!("ft-{}", self.index),
            Role::Client => self
                .log_path
                .file_stem()
                .map_or_else(String::new, |stem| stem.to_string_lossy().into_owned()),
        }
    }

    /// Spawns the agent's process (appending to its log).
    fn spawn(&mut self, senate: &Path, size: usize, join: SocketAddr) -> Result<(), ClusterError> {
        if self.child.is_some() {
            return Ok(());
        }
        fs::create_dir_all(&self.data_dir).map_err(|e| io_error(&self.data_dir, e))?;
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .map_err(|e| io_error(&self.log_path, e))?;
        let log_err = log.try_clone().map_err(|e| io_error(&self.log_path, e))?;
        let mut command = match &self.namespace {
            Some(namespace) => {
                let mut command = Command::new("ip");
                command.args(["netns", "exec", namespace]).arg(senate);
                command
            }
            None => Command::new(senate),
        };
        die_with_the_runner(&mut command);
        command
            .args(self.agent_args(size, join))
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        let child = command
            .spawn()
            .map_err(|e| ClusterError::Io(format!("starting {}: {e}", senate.display())))?;
        self.child = Some(child);
        self.paused = false;
        Ok(())
    }

    fn agent_args(&self, size: usize, join: SocketAddr) -> Vec<String> {
        let ip = self.ip;
        let role: Vec<String> = match self.role {
            Role::Server => vec![
                "-server".into(),
                format!("-bootstrap-expect={size}"),
                format!("-server-port={}", self.rpc.port()),
            ],
            Role::Client => Vec::new(),
        };
        let mut args: Vec<String> = vec!["agent".into()];
        args.extend(role);
        args.extend([
            format!("-data-dir={}", self.data_dir.display()),
            format!("-node={}", self.name()),
            format!("-bind={ip}"),
            format!("-client={ip}"),
            format!("-advertise={ip}"),
            format!("-http-port={}", self.http.port()),
            format!("-serf-lan-port={}", self.serf.port()),
            format!("-retry-join={join}"),
            "-retry-interval=1s".into(),
            "-dns-port=-1".into(),
            "-grpc-port=-1".into(),
            "-serf-wan-port=-1".into(),
            "-hcl".into(),
            "performance { raft_multiplier = 1 }".into(),
        ]);
        args
    }

    fn log_tail(&self, lines: usize) -> String {
        let text = fs::read_to_string(&self.log_path).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        let tail = &all[all.len().saturating_sub(lines)..];
        format!(
            "--- last {} lines of {} ---\n{}",
            tail.len(),
            self.log_path.display(),
            tail.join("\n")
        )
    }
}

/// Has the kernel kill the agent if the runner dies (interrupted, killed): no server outlives
/// a run. `ip netns exec` execs senate in place, and the setting survives the exec.
fn die_with_the_runner(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the forked child before exec and only calls prctl(2),
    // which is async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

fn get(addr: SocketAddr, path: &str) -> Option<Response> {
    http::request(addr, "GET", path, b"", STATUS_TIMEOUT)
        .ok()
        .filter(|response| response.status == 200)
}

fn io_error(path: &Path, error: std::io::Error) -> ClusterError {
    ClusterError::Io(format!("{}: {error}", path.display()))
}
