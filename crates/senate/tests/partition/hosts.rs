//! The `senate` servers of the partition test, one per network namespace, each with its own
//! data directory and log file under a scratch directory. Dropping a server kills it; when the
//! test is failing, its log tail is printed and the scratch directory is kept.

use crate::LAYOUT;
use std::fs::{self, File};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;

const SENATE: &str = env!("CARGO_BIN_EXE_senate");
const HTTP_PORT: u16 = 8500;
const SERVER_PORT: u16 = 8300;
const LOG_TAIL_LINES: usize = 60;

/// Raft at Consul's fastest timing.
const FAST_RAFT: &str = "performance { raft_multiplier = 1 }";

/// A directory for the servers' data and logs, removed on drop unless the test failed.
pub struct Scratch {
    path: PathBuf,
}

impl Scratch {
    pub fn new() -> Scratch {
        let path = std::env::temp_dir().join(format!("senate-partition-{}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap_or_else(|e| panic!("creating {}: {e}", path.display()));
        Scratch { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("keeping {} for inspection", self.path.display());
        } else {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// One running `senate agent -server` inside host `host`'s namespace.
pub struct Host {
    pub host: usize,
    child: Mutex<Option<Child>>,
    log_path: PathBuf,
}

impl Host {
    /// Starts the server of host `host` in `namespace`, keeping its state under `scratch`.
    pub fn start(host: usize, namespace: &str, scratch: &Path) -> Host {
        let data_dir = scratch.join(format!("data-{host}"));
        fs::create_dir_all(&data_dir).unwrap_or_else(|e| panic!("creating data dir: {e}"));
        let log_path = scratch.join(format!("senate-{host}.log"));
        let log = File::create(&log_path).unwrap_or_else(|e| panic!("creating log: {e}"));
        let log_err = log.try_clone().expect("cloning the log file handle");
        let child = Command::new("ip")
            .args(["netns", "exec", namespace, SENATE])
            .args(agent_args(host, &data_dir))
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .unwrap_or_else(|e| panic!("spawning senate in {namespace}: {e}"));
        Host {
            host,
            child: Mutex::new(Some(child)),
            log_path,
        }
    }

    /// The HTTP API address, reachable from the root namespace.
    pub fn http(&self) -> SocketAddr {
        SocketAddr::from((LAYOUT.host_ip(self.host), HTTP_PORT))
    }

    /// The server RPC address, as `/v1/status/leader` names a leader.
    pub fn rpc_address(&self) -> String {
        format!("{}:{SERVER_PORT}", LAYOUT.host_ip(self.host))
    }

    /// How the process ended, if it has.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        let mut child = self
            .child
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        child
            .as_mut()
            .and_then(|child| child.try_wait().ok().flatten())
    }

    /// Panics with the log tail if the process has exited.
    pub fn assert_running(&self) {
        if let Some(status) = self.exit_status() {
            panic!(
                "senate on pt-{} exited with {status}\n{}",
                self.host,
                self.log_tail()
            );
        }
    }

    /// The last lines of the server's log.
    pub fn log_tail(&self) -> String {
        let text = fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..];
        format!(
            "--- last {} lines of {} (pt-{}) ---\n{}",
            tail.len(),
            self.log_path.display(),
            self.host,
            tail.join("\n")
        )
    }
}

/// The command line the issue prescribes for every host.
fn agent_args(host: usize, data_dir: &Path) -> Vec<String> {
    let ip = LAYOUT.host_ip(host);
    vec![
        "agent".to_string(),
        "-server".to_string(),
        "-bootstrap-expect=3".to_string(),
        format!("-data-dir={}", data_dir.display()),
        format!("-node=pt-{host}"),
        format!("-bind={ip}"),
        format!("-client={ip}"),
        format!("-advertise={ip}"),
        format!("-retry-join={}", LAYOUT.host_ip(1)),
        "-retry-interval=1s".to_string(),
        "-dns-port=-1".to_string(),
        "-grpc-port=-1".to_string(),
        "-serf-wan-port=-1".to_string(),
        "-hcl".to_string(),
        FAST_RAFT.to_string(),
    ]
}

impl Drop for Host {
    fn drop(&mut self) {
        let child = self
            .child
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(mut child) = child.take() {
            // `ip netns exec` execs senate in place, so this is the server's own pid.
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("{}", self.log_tail());
        }
    }
}
