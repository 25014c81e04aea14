//! Starts a throwaway cluster of local `senate agent -server` processes on free loopback ports,
//! each with a temporary data directory and a log file; dropping the cluster kills them
//! (SIGKILL), reaps them and removes the directory.

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
/// Bound on the attempts to find free ports.
const PORT_ATTEMPTS: usize = 200;

/// How to start the cluster.
#[derive(Debug, Clone)]
pub struct LaunchSpec {
    /// The `senate` binary.
    pub binary: PathBuf,
    pub servers: usize,
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

/// One started server.
struct LocalServer {
    node: String,
    ports: Ports,
    child: Child,
    log: PathBuf,
}

/// A running local cluster; dropping it stops every server.
pub struct LocalCluster {
    dir: PathBuf,
    servers: Mutex<Vec<LocalServer>>,
    keep_dir: bool,
}

impl LocalCluster {
    /// Starts `spec.servers` servers that join the first one's Serf LAN port.
    pub fn start(spec: &LaunchSpec) -> Result<Self> {
        if !spec.binary.is_file() {
            return Err(BenchError::Setup(format!(
                "senate binary {} not found (build it with `cargo build --release -p senate`)",
                spec.binary.display()
            )));
        }
        let dir = scratch_dir()?;
        let cluster = Self {
            dir,
            servers: Mutex::new(Vec::new()),
            keep_dir: spec.keep_dir,
        };
        let ports = allocate_ports(spec.servers)?;
        let join = format!("127.0.0.1:{}", ports[0].serf_lan);
        for (i, ports) in ports.into_iter().enumerate() {
            let server = cluster.spawn(&spec.binary, i + 1, spec.servers, ports, &join)?;
            cluster.lock().push(server);
        }
        Ok(cluster)
    }

    /// `http://127.0.0.1:<port>` of each server, in start order.
    pub fn http_urls(&self) -> Vec<String> {
        self.lock()
            .iter()
            .map(|s| format!("http://127.0.0.1:{}", s.ports.http))
            .collect()
    }

    /// Process ids, in start order.
    pub fn pids(&self) -> Vec<u32> {
        self.lock().iter().map(|s| s.child.id()).collect()
    }

    /// The directory holding the data directories and logs.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Fails if a server has exited.
    pub fn check_running(&self) -> Result<()> {
        let mut servers = self.lock();
        for server in servers.iter_mut() {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(BenchError::Setup(format!(
                    "server {} exited with {status}; log {}:\n{}",
                    server.node,
                    server.log.display(),
                    log_tail(&server.log, 30)
                )));
            }
        }
        Ok(())
    }

    /// The last `lines` lines of every server's log.
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

    fn spawn(
        &self,
        binary: &Path,
        index: usize,
        expect: usize,
        ports: Ports,
        join: &str,
    ) -> Result<LocalServer> {
        let node = format!("s{index}");
        let data = self.dir.join(format!("data-{node}"));
        fs::create_dir_all(&data)?;
        let log = self.dir.join(format!("{node}.log"));
        let out = File::create(&log)?;
        let err = out.try_clone()?;
        let child = Command::new(binary)
            .args(agent_args(&node, &data, expect, ports, join))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| BenchError::Setup(format!("starting {}: {e}", binary.display())))?;
        Ok(LocalServer {
            node,
            ports,
            child,
            log,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<LocalServer>> {
        self.servers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        for server in self.lock().iter_mut() {
            let _already_dead = server.child.kill();
            let _reaped = server.child.wait();
        }
        if !self.keep_dir {
            let _best_effort = fs::remove_dir_all(&self.dir);
        }
    }
}

/// The command line of server `node`, one of `expect` servers.
fn agent_args(node: &str, data: &Path, expect: usize, ports: Ports, join: &str) -> Vec<String> {
    vec![
        "agent".to_string(),
        "-server".to_string(),
        format!("-bootstrap-expect={expect}"),
        format!("-data-dir={}", data.display()),
        format!("-node={node}"),
        "-bind=127.0.0.1".to_string(),
        format!("-http-port={}", ports.http),
        format!("-server-port={}", ports.server),
        format!("-serf-lan-port={}", ports.serf_lan),
        "-serf-wan-port=-1".to_string(),
        "-dns-port=-1".to_string(),
        "-grpc-port=-1".to_string(),
        format!("-retry-join={join}"),
        "-retry-interval=1s".to_string(),
        "-hcl".to_string(),
        SERVER_HCL.to_string(),
    ]
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

/// Three distinct free ports per server; Serf's port must be free for UDP as well.
fn allocate_ports(servers: usize) -> Result<Vec<Ports>> {
    let mut held = Vec::new();
    let mut ports = Vec::new();
    for _ in 0..PORT_ATTEMPTS {
        if ports.len() == servers * 3 {
            break;
        }
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let port = listener.local_addr()?.port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            ports.push(port);
        }
        held.push(listener);
    }
    if ports.len() < servers * 3 {
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
        let ports = allocate_ports(3).unwrap();
        let mut all: Vec<u16> = ports
            .iter()
            .flat_map(|p| [p.http, p.server, p.serf_lan])
            .collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 9);
    }

    #[test]
    fn command_line_follows_the_issue() {
        let ports = Ports {
            http: 1,
            server: 2,
            serf_lan: 3,
        };
        let args = agent_args("s1", Path::new("/d"), 3, ports, "127.0.0.1:3");
        for expected in [
            "-bootstrap-expect=3",
            "-node=s1",
            "-data-dir=/d",
            "-http-port=1",
            "-server-port=2",
            "-serf-lan-port=3",
            "-retry-join=127.0.0.1:3",
        ] {
            assert!(args.iter().any(|a| a == expected), "{expected}: {args:?}");
        }
        assert!(args.last().unwrap().contains("raft_multiplier = 1"));
    }

    #[test]
    fn missing_binary_is_a_clear_error() {
        let spec = LaunchSpec {
            binary: PathBuf::from("/nonexistent/senate"),
            servers: 3,
            keep_dir: false,
        };
        let error = LocalCluster::start(&spec).err().unwrap().to_string();
        assert!(error.contains("not found"), "{error}");
    }
}
