//! Runs `senate-bench cluster --start-cluster` against real `senate` servers and client agents:
//! a short smoke of every phase, cleanup after SIGINT, and a clear error for a missing binary.
//!
//! The senate binary is taken from the workspace's `target/debug/senate` (build it with
//! `cargo build -p senate`); when it is absent the tests print a note and pass.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const BENCH: &str = env!("CARGO_BIN_EXE_senate-bench");

/// `target/debug/senate` of this workspace, if it has been built.
fn senate_binary() -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/debug/senate");
    if path.is_file() {
        Some(path)
    } else {
        eprintln!(
            "skipping: {} not found (run `cargo build -p senate` first)",
            path.display()
        );
        None
    }
}

fn alive(pid: u64) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[tokio::test]
async fn cluster_mode_smoke_measures_every_phase_and_stops_the_agents() {
    let Some(senate) = senate_binary() else {
        return;
    };
    let started = Instant::now();
    let output = Command::new(BENCH)
        .args(["--json", "cluster", "--start-cluster", "--senate-bin"])
        .arg(&senate)
        .args([
            "--duration",
            "500ms",
            "--concurrency",
            "1,4",
            "--keys",
            "20",
        ])
        .args([
            "--watchers",
            "20",
            "--settle",
            "100ms",
            "--watch-timeout",
            "5s",
        ])
        .args(["--failover-warmup", "500ms", "--failover-timeout", "8s"])
        .args(["--clients", "2"])
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "stderr: {stderr}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let cluster = &report["cluster"];

    let servers = cluster["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 3, "{cluster}");
    let leaders: Vec<_> = servers.iter().filter(|s| s["role"] == "leader").collect();
    assert_eq!(leaders.len(), 1, "{cluster}");

    let kv = cluster["kv"].as_array().unwrap();
    assert_eq!(
        kv.len(),
        2 * 4 * 2,
        "roles × operations × levels: {cluster}"
    );
    for row in kv {
        assert!(row["ok"].as_u64() > Some(0), "{row}");
    }
    assert_eq!(kv[0]["role"], "leader");
    assert_eq!(kv[0]["operation"], "put");
    assert_eq!(kv[8]["role"], "follower");

    let clients = &cluster["clients"];
    let agents = clients["agents"].as_array().unwrap();
    assert_eq!(agents.len(), 2, "{clients}");
    assert_eq!(clients["memory_idle"]["agents"], 2, "{clients}");
    assert!(clients["memory_after_get"]["rss"]["max_kb"].as_u64() > Some(0));
    let gets = clients["gets"].as_array().unwrap();
    assert_eq!(gets.len(), 2 * 2, "modes × levels: {clients}");
    for get in gets {
        for route in ["client", "leader", "follower"] {
            assert!(get[route]["ok"].as_u64() > Some(0), "{route}: {get}");
        }
        assert!(get["client_to_leader"].as_f64() > Some(0.0), "{get}");
    }

    let fanout = cluster["fanout"].as_array().unwrap();
    assert_eq!(fanout.len(), 2, "{cluster}");
    for watch in fanout {
        assert_eq!(watch["released"], 20, "{watch}");
    }

    let failover = &cluster["failover"];
    assert_eq!(failover["timed_out"], false, "{failover}\n{stderr}");
    assert_eq!(failover["killed_node"], leaders[0]["node"], "{failover}");
    assert_ne!(failover["new_leader"], failover["old_leader"], "{failover}");
    assert!(failover["first_ack_ms"].as_f64() > Some(0.0), "{failover}");
    assert!(failover["acknowledged"].as_u64() > Some(0), "{failover}");
    assert_eq!(failover["acknowledged_missing"], 0, "{failover}");

    for agent in servers.iter().chain(agents) {
        let pid = agent["pid"].as_u64().unwrap();
        assert!(!alive(pid), "agent pid {pid} still running");
    }
    eprintln!("cluster smoke took {:?}", started.elapsed());
}

#[tokio::test]
async fn sigint_stops_the_started_servers_and_client_agents() {
    let Some(senate) = senate_binary() else {
        return;
    };
    let mut bench = Command::new(BENCH)
        .args(["cluster", "--start-cluster", "--senate-bin"])
        .arg(&senate)
        .args(["--duration", "30s", "--keys", "10", "--clients", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(bench.stderr.take().unwrap()).lines();
    let mut pids = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while let Ok(Some(line)) = tokio::time::timeout_at(deadline.into(), lines.next_line())
        .await
        .unwrap()
    {
        let listed = (line.strip_prefix("cluster: started pids ["))
            .or_else(|| line.strip_prefix("cluster: started client agent pids ["));
        if let Some(list) = listed {
            let list = list.split(']').next().unwrap();
            pids.extend(list.split(", ").map(|p| p.parse::<u64>().unwrap()));
        }
        if line.starts_with("cluster: settled") {
            break;
        }
    }
    assert_eq!(pids.len(), 5, "no pids lines for 3 servers and 2 clients");
    assert!(pids.iter().all(|&pid| alive(pid)));

    let bench_pid = libc::pid_t::try_from(bench.id().unwrap()).unwrap();
    // SAFETY: kill(2) with plain integers.
    assert_eq!(unsafe { libc::kill(bench_pid, libc::SIGINT) }, 0);
    let status = tokio::time::timeout(Duration::from_secs(20), bench.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(!status.success());
    for pid in pids {
        assert!(!alive(pid), "agent pid {pid} survived the SIGINT");
    }
}

#[tokio::test]
async fn missing_senate_binary_is_reported() {
    let output = Command::new(BENCH)
        .args([
            "cluster",
            "--start-cluster",
            "--senate-bin",
            "/nonexistent/senate",
        ])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not found"), "{stderr}");
}
