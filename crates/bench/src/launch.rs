//! Starts a throwaway cluster of local `senate agent` processes — servers, then client agents
//! joined to them — on free loopback ports, each with a temporary data directory and a log file;
//! dropping the cluster kills them (SIGKILL), reaps them and removes the directory.

use std::fs::{self, File};
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{BenchError, Result};

/// Raft at Consul's fastest timing, and room for the fan-out's watcher connections (Consul's
/// default of 200 connections per client address would refuse them with 429).
const SERVER_HCL: &str =
    "performance { raft_multiplier = 1 }\nlimits { http_max_conns_per_client = 20000 }";
/// A client agent at the servers' timing.
const CLIENT_HCL: &str = "performance { raft_multiplier = 1 }";
/// Bound on the attempts to find each free port.
const PORT_ATTEMPTS_PER_PORT: usize = 20;

/// How to start the cluster.
#[derive(Debug, Clone)]
pub struct LaunchSpec {
    /// The `senate` binary.
    pub binary: PathBuf,
    pub servers: usize,
    /// Client agents started after the servers (0 for none).
    pub clients: usize,
    /// Leave the data and log directory behind (its path is printed in the report).
    pub keep_dir: bool,
}

/// The loopback ports one server listens on.
#[derive(Debug, Clone, Copy)]
struct Ports {
    http: u16,
    server: u16,
    serf_lan: u16,
}

/// What a started agent is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentKind {
    Server,
    /// `senate agent` without `-server`: holds no data, forwards every request to a server.
    Client,
}

impl AgentKind {
    /// The first letter of the node names.
    fn letter(self) -> char {
        match self {
            AgentKind::Server => 's',
            AgentKind::Client => 'c',
        }
    }

    fn hcl(self) -> &'static str {
        match self {
            AgentKind::Server => SERVER_HCL,
            AgentKind::Client => CLIENT_HCL,
        }
    }
}

/// One started agent.
struct LocalAgent {
    kind: AgentKind,
    node: String,
    ports: Ports,
    child: Child,
    log: PathBuf,
}

/// A running local cluster; dropping it stops every agent.
pub struct LocalCluster {
    dir: PathBuf,
    agents: Mutex<Vec<LocalAgent>>,
    keep_dir: bool,
}

impl LocalCluster {
    /// Starts `spec.servers` servers that join the first one's Serf LAN port, then
    /// `spec.clients` client agents, each joining one server's (in turn).
    pub fn start(spec: &LaunchSpec) -> Result<Self> {
        if !spec.binary.is_file() {
            return Err(BenchError::Setup(format!(
                "senate binary {} not found (build it with `cargo build --release -p senate`)",
                spec.binary.display()
            )));
        }
        if spec.servers == 0 {
            return Err(BenchError::Setup(
                "a cluster needs at least one server".into(),
            ));
        }
        let dir = scratch_dir()?;
        let cluster = Self {
            dir,
            agents: Mutex::new(Vec::new()),
            keep_dir: spec.keep_dir,
        };
        let ports = allocate_ports(spec.servers + spec.clients)?;
        let (server_ports, client_ports) = ports.split_at(spec.servers);
        let serf = |i: usize| format!("127.0.0.1:{}", server_ports[i % spec.servers].serf_lan);
        let launch = |kind, i: usize, ports: &Ports, join| Launch {
            kind,
            number: i + 1,
            servers: spec.servers,
            ports: *ports,
            join,
        };
        let servers = (server_ports.iter().enumerate())
            .map(|(i, ports)| launch(AgentKind::Server, i, ports, serf(0)));
        let clients = (client_ports.iter().enumerate())
            .map(|(i, ports)| launch(AgentKind::Client, i, ports, serf(i)));
        for launch in servers.chain(clients) {
            let agent = cluster.spawn(&spec.binary, &launch)?;
            cluster.lock().push(agent);
        }
        Ok(cluster)
    }

    /// `http://127.0.0.1:<port>` of each agent of `kind`, in start order.
    pub fn http_urls(&self, kind: AgentKind) -> Vec<String> {
        self.of_kind(kind, |a| format!("http://127.0.0.1:{}", a.ports.http))
    }

    /// Process ids of the agents of `kind`, in start order.
    pub fn pids(&self, kind: AgentKind) -> Vec<u32> {
        self.of_kind(kind, |a| a.child.id())
    }

    fn of_kind<T>(&self, kind: AgentKind, field: impl Fn(&LocalAgent) -> T) -> Vec<T> {
        self.lock()
            .iter()
            .filter(|a| a.kind == kind)
            .map(field)
            .collect()
    }

    /// The directory holding the data directories and logs.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Fails if an agent has exited.
    pub fn check_running(&self) -> Result<()> {
        let mut agents = self.lock();
        for agent in agents.iter_mut() {
            if let Ok(Some(status)) = agent.child.try_wait() {
                return Err(BenchError::Setup(format!(
                    "agent {} exited with {status}; log {}:\n{}",
                    agent.node,
                    agent.log.display(),
                    log_tail(&agent.log, 30)
                )));
            }
        }
        Ok(())
    }

    /// The last `lines` lines of every agent's log.
    pub fn log_tails(&self, lines: usize) -> String {
        self.lock()
            .iter()
            .map(|s| {
                format!(
                    "--- {} ({}) ---\n{}\n",
                    s.node,
                    s.log.display(),
                    log_tail(&s.log, lines)
                )
            })
            .collect()
    }

    fn spawn(&self, binary: &Path, launch: &Launch) -> Result<LocalAgent> {
        let node = launch.node();
        let data = self.dir.join(format!("data-{node}"));
        fs::create_dir_all(&data)?;
        let log = self.dir.join(format!("{node}.log"));
        let out = File::create(&log)?;
        let err = out.try_clone()?;
        let child = Command::new(binary)
            .args(agent_args(launch, &data))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| BenchError::Setup(format!("starting {}: {e}", binary.display())))?;
        Ok(LocalAgent {
            kind: launch.kind,
            node,
            ports: launch.ports,
            child,
            log,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<LocalAgent>> {
        self.agents
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        for agent in self.lock().iter_mut() {
            let _already_dead = agent.child.kill();
            let _reaped = agent.child.wait();
        }
        if !self.keep_dir {
            let _best_effort = fs::remove_dir_all(&self.dir);
        }
    }
}

/// What to start one agent as.
#[derive(Debug, Clone)]
struct Launch {
    kind: AgentKind,
    /// 1 for the first agent of its kind.
    number: usize,
    /// Servers in the cluster (a server's `-bootstrap-expect`).
    servers: usize,
    ports: Ports,
    /// The Serf LAN address to `-retry-join`.
    join: String,
}

impl Launch {
    /// `s1`, `s2`, … for servers; `c1`, `c2`, … for client agents.
    fn node(&self) -> String {
        format!("{}{}", self.kind.letter(), self.number)
    }
}

/// The command line of one agent, keeping its data in `data`.
fn agent_args(launch: &Launch, data: &Path) -> Vec<String> {
    let mut args = vec!["agent".to_string()];
    if launch.kind == AgentKind::Server {
        args.push("-server".to_string());
        args.push(format!("-bootstrap-expect={}", launch.servers));
    }
    let ports = launch.ports;
    args.extend([
        format!("-data-dir={}", data.display()),
        format!("-node={}", launch.node()),
        "-bind=127.0.0.1".to_string(),
        format!("-http-port={}", ports.http),
        format!("-server-port={}", ports.server),
        format!("-serf-lan-port={}", ports.serf_lan),
        "-serf-wan-port=-1".to_string(),
        "-dns-port=-1".to_string(),
        "-grpc-port=-1".to_string(),
        format!("-retry-join={}", launch.join),
        "-retry-interval=1s".to_string(),
        "-hcl".to_string(),
        launch.kind.hcl().to_string(),
    ]);
    args
}

/// A fresh directory under the system temp dir.
fn scratch_dir() -> Result<PathBuf> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let dir = std::env::temp_dir().join(format!(
        "senate-bench-cluster-{}-{nanos}",
        std::process::id()
    ));
    fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Three distinct free ports per agent; Serf's port must be free for UDP as well.
fn allocate_ports(agents: usize) -> Result<Vec<Ports>> {
    let needed = agents * 3;
    let mut held = Vec::new();
    let mut ports = Vec::new();
    for _ in 0..needed * PORT_ATTEMPTS_PER_PORT {
        if ports.len() == needed {
            break;
        }
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let port = listener.local_addr()?.port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            ports.push(port);
        }
        held.push(listener);
    }
    if ports.len() < needed {
        return Err(BenchError::Setup(
            "could not find free loopback ports".into(),
        ));
    }
    Ok(ports
        .chunks_exact(3)
        .map(|p| Ports {
            http: p[0],
            server: p[1],
            serf_lan: p[2],
        })
        .collect())
}

fn log_tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct() {
        let ports = allocate_ports(23).unwrap();
        let mut all: Vec<u16> = ports
            .iter()
            .flat_map(|p| [p.http, p.server, p.serf_lan])
            .collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 69);
    }

    fn launch(kind: AgentKind, number: usize) -> Launch {
        Launch {
            kind,
            number,
            servers: 3,
            ports: Ports {
                http: 1,
                server: 2,
                serf_lan: 3,
            },
            join: "127.0.0.1:9".to_string(),
        }
    }

    fn assert_has(args: &[String], expected: &[&str]) {
        for wanted in expected {
            assert!(args.iter().any(|a| a == wanted), "{wanted}: {args:?}");
        }
    }

    #[test]
    fn server_command_line_follows_the_issue() {
        let args = agent_args(&launch(AgentKind::Server, 1), Path::new("/d"));
        assert_has(
            &args,
            &[
                "-server",
                "-bootstrap-expect=3",
                "-node=s1",
                "-data-dir=/d",
                "-http-port=1",
                "-server-port=2",
                "-serf-lan-port=3",
                "-retry-join=127.0.0.1:9",
            ],
        );
        assert!(args.last().unwrap().contains("raft_multiplier = 1"));
        assert!(args.last().unwrap().contains("http_max_conns_per_client"));
    }

    #[test]
    fn client_command_line_has_no_server_flags() {
        let args = agent_args(&launch(AgentKind::Client, 7), Path::new("/d/c7"));
        assert_eq!(args[0], "agent");
        assert_has(
            &args,
            &[
                "-node=c7",
                "-data-dir=/d/c7",
                "-bind=127.0.0.1",
                "-http-port=1",
                "-server-port=2",
                "-serf-lan-port=3",
                "-serf-wan-port=-1",
                "-dns-port=-1",
                "-grpc-port=-1",
                "-retry-join=127.0.0.1:9",
                "-retry-interval=1s",
            ],
        );
        assert!(!args
            .iter()
            .any(|a| a == "-server" || a.starts_with("-bootstrap")));
        assert_eq!(
            args[args.len() - 2..],
            ["-hcl", "performance { raft_multiplier = 1 }"]
        );
    }

    #[test]
    fn missing_binary_is_a_clear_error() {
        let spec = LaunchSpec {
            binary: PathBuf::from("/nonexistent/senate"),
            servers: 3,
            clients: 2,
            keep_dir: false,
        };
        let error = LocalCluster::start(&spec).err().unwrap().to_string();
        assert!(error.contains("not found"), "{error}");
    }
}
