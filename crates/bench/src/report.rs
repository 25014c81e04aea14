//! Collects every phase's results into one report, printable as markdown or JSON.

use std::fmt::Write;

use serde::Serialize;

use crate::catalog::CatalogReport;
use crate::clients::{ClientGet, ClientReport, MemorySummary};
use crate::cluster::ClusterReport;
use crate::failover::FailoverReport;
use crate::kv::ReadMode;
use crate::load::LevelResult;
use crate::procfs::MemoryUse;
use crate::stats::LatencySummary;
use crate::watch::WatchReport;

/// Everything one `senate-bench` invocation measured.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BenchReport {
    pub target: String,
    pub workload: Option<Workload>,
    pub kv_put: Vec<LevelResult>,
    pub kv_get: Vec<ModeLevel>,
    pub watch: Option<WatchReport>,
    pub catalog: Option<CatalogReport>,
    pub cluster: Option<ClusterReport>,
    /// Server memory at the start and after each phase (only with `--pid`).
    pub memory: Vec<PhaseMemory>,
}

/// The KV load's shape, for the report header.
#[derive(Debug, Clone, Serialize)]
pub struct Workload {
    pub value_size: usize,
    pub keys: u64,
    pub per_level: String,
}

/// One KV GET level in one consistency mode.
#[derive(Debug, Clone, Serialize)]
pub struct ModeLevel {
    pub mode: ReadMode,
    #[serde(flatten)]
    pub level: LevelResult,
}

/// Server memory sampled after a named phase.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseMemory {
    pub phase: String,
    #[serde(flatten)]
    pub memory: MemoryUse,
}

const LEVEL_HEADER: &str = "| Concurrency | OK | Errors | Req/s | p50 (ms) | p99 (ms) | Max (ms) |";
const LEVEL_RULE: &str = "|---:|---:|---:|---:|---:|---:|---:|";
const WATCH_HEADER: &str =
    "| Watchers | Parked | Connect failures | Early returns | Released | Failed | \
     Still blocked | Release min (ms) | p50 (ms) | p99 (ms) | Max (ms) |";
const WATCH_RULE: &str = "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|";

impl BenchReport {
    pub fn new(target: String) -> Self {
        Self {
            target,
            ..Self::default()
        }
    }

    /// Renders the report as markdown tables (readable in a terminal, pasteable into BENCHMARKS.md).
    pub fn to_markdown(&self) -> String {
        let mut out = format!("## senate-bench results\n\nTarget: `{}`", self.target);
        if let Some(w) = &self.workload {
            let _ = write!(
                out,
                " · {} B values · {} keys · {}",
                w.value_size, w.keys, w.per_level
            );
        }
        out.push('\n');
        self.write_kv_put(&mut out);
        self.write_kv_get(&mut out);
        self.write_watch(&mut out);
        self.write_catalog(&mut out);
        if let Some(cluster) = &self.cluster {
            write_cluster(cluster, &mut out);
        }
        self.write_memory(&mut out);
        out
    }

    fn write_kv_put(&self, out: &mut String) {
        if self.kv_put.is_empty() {
            return;
        }
        let _ = writeln!(out, "\n### KV PUT\n\n{LEVEL_HEADER}\n{LEVEL_RULE}");
        for level in &self.kv_put {
            let _ = writeln!(out, "|{}", level_cells(level));
        }
    }

    fn write_kv_get(&self, out: &mut String) {
        if self.kv_get.is_empty() {
            return;
        }
        let _ = writeln!(
            out,
            "\n### KV GET\n\n| Mode {LEVEL_HEADER}\n|---{LEVEL_RULE}"
        );
        for row in &self.kv_get {
            let _ = writeln!(out, "| {} |{}", row.mode, level_cells(&row.level));
        }
    }

    fn write_watch(&self, out: &mut String) {
        let Some(w) = &self.watch else {
            return;
        };
        let _ = writeln!(
            out,
            "\n### Blocking-query fan-out\n\n{WATCH_HEADER}\n{WATCH_RULE}\n|{}",
            watch_cells(w)
        );
        let _ = writeln!(
            out,
            "\nParked {} watchers in {:.2}s (still pending after settle: {}).",
            w.parked,
            w.park_secs,
            if w.parked_verified { "yes" } else { "NO" }
        );
        if let (Some(before), Some(parked), Some(per)) =
            (w.memory_before, w.memory_parked, w.rss_per_watcher_bytes)
        {
            let _ = writeln!(
                out,
                "Server RSS {} MiB idle → {} MiB with watchers parked ({per:.0} bytes per watcher).",
                mib(before.rss_kb),
                mib(parked.rss_kb)
            );
        }
    }

    fn write_catalog(&self, out: &mut String) {
        let Some(c) = &self.catalog else {
            return;
        };
        let _ = writeln!(
            out,
            "\n### Catalog\n\n{} nodes × {} services = {} registrations (one `PUT /v1/catalog/register` each).\n\n\
             | Phase {LEVEL_HEADER}\n|---{LEVEL_RULE}",
            c.nodes,
            c.services_per_node,
            c.nodes.saturating_mul(c.services_per_node)
        );
        let _ = writeln!(out, "| register |{}", level_cells(&c.register));
        if let Some(level) = &c.deregister {
            let _ = writeln!(out, "| deregister |{}", level_cells(level));
        }
        if let (Some(before), Some(registered), Some(per)) = (
            c.memory_before,
            c.memory_registered,
            c.rss_per_instance_bytes,
        ) {
            let _ = writeln!(
                out,
                "\nServer RSS {} MiB before → {} MiB after registering ({per:.0} bytes per service instance).",
                mib(before.rss_kb),
                mib(registered.rss_kb)
            );
        }
        if c.reads.is_empty() {
            return;
        }
        let _ = writeln!(
            out,
            "\n| Endpoint | Readers | OK | Errors | Req/s | p50 (ms) | p99 (ms) | Max (ms) | Body size | MiB/s |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for read in &c.reads {
            let level = &read.level;
            let throughput = if level.elapsed_secs > 0.0 {
                level.body_bytes as f64 / level.elapsed_secs / MIB
            } else {
                0.0
            };
            let _ = writeln!(
                out,
                "| `GET {}` |{} {} | {throughput:.1} |",
                read.endpoint,
                level_cells(level),
                byte_size(level.mean_body_bytes())
            );
        }
    }

    fn write_memory(&self, out: &mut String) {
        if self.memory.is_empty() {
            return;
        }
        let _ = writeln!(
            out,
            "\n### Server memory\n\n| After phase | VmRSS (MiB) | VmHWM (MiB) |\n|---|---:|---:|"
        );
        for sample in &self.memory {
            let m = sample.memory;
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                sample.phase,
                mib(m.rss_kb),
                mib(m.hwm_kb)
            );
        }
    }
}

/// The cells of a fan-out row (everything after the leading `|`).
fn watch_cells(w: &WatchReport) -> String {
    let r = &w.release;
    format!(
        " {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
        w.watchers,
        w.parked,
        w.connect_failures,
        w.early_returns,
        w.released,
        w.failed,
        w.not_released,
        ms(r.min_us),
        ms(r.p50_us),
        ms(r.p99_us),
        ms(r.max_us),
    )
}

/// Cluster mode's servers, KV levels per role, fan-out, failover and notes.
fn write_cluster(c: &ClusterReport, out: &mut String) {
    let _ = writeln!(
        out,
        "\n### Cluster\n\n| Server | HTTP | RPC | Role | PID |\n|---|---|---|---|---:|"
    );
    for s in &c.servers {
        let pid = s.pid.map(|p| p.to_string()).unwrap_or_default();
        let rpc = s.rpc_address.as_deref().unwrap_or("?");
        let _ = writeln!(
            out,
            "| {} | {} | {rpc} | {} | {pid} |",
            s.node, s.url, s.role
        );
    }
    let _ = writeln!(
        out,
        "\nOne leader with every server a voter after {:.1} s.",
        c.settle_secs
    );
    write_cluster_kv(c, out);
    if let Some(clients) = &c.clients {
        write_clients(clients, out);
    }
    write_cluster_fanout(c, out);
    if let Some(f) = &c.failover {
        write_failover(f, out);
    }
    if !c.notes.is_empty() {
        let _ = writeln!(out, "\nNotes:\n");
        for note in &c.notes {
            let _ = writeln!(out, "- {note}");
        }
    }
}

fn write_cluster_kv(c: &ClusterReport, out: &mut String) {
    if c.kv.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\n### Cluster KV (through the leader and through a follower)\n\n\
         | Through | Operation {LEVEL_HEADER}\n|---|---{LEVEL_RULE}"
    );
    for row in &c.kv {
        let _ = writeln!(
            out,
            "| {} ({}) | {} |{}",
            row.role,
            row.node,
            row.operation,
            level_cells(&row.level)
        );
    }
}

/// The client agents' memory, then GETs through one of them against GETs straight to servers:
/// rates and ratios first, then every level in full.
fn write_clients(c: &ClientReport, out: &mut String) {
    let _ = writeln!(
        out,
        "\n### Client agents\n\n{} client agents, each listing itself and every server alive \
         and knowing the leader {:.1} s after the start.",
        c.agents.len(),
        c.ready_secs
    );
    write_client_memory(c, out);
    if c.gets.is_empty() {
        return;
    }
    let (client, leader, follower) = (&c.client_node, &c.leader_node, &c.follower_node);
    let _ = writeln!(
        out,
        "\n| GET mode | Concurrency | Through client {client} (req/s) | Leader {leader} (req/s) | \
         Follower {follower} (req/s) | Client / leader | Client / follower |\n\
         |---|---:|---:|---:|---:|---:|---:|"
    );
    for get in &c.gets {
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {:.0} | {:.0} | {} | {} |",
            get.mode,
            get.client.concurrency,
            get.client.requests_per_sec,
            get.leader.requests_per_sec,
            get.follower.requests_per_sec,
            percent(get.client_to_leader),
            percent(get.client_to_follower)
        );
    }
    let _ = writeln!(
        out,
        "\n| Through | GET mode {LEVEL_HEADER}\n|---|---{LEVEL_RULE}"
    );
    for get in &c.gets {
        write_client_levels(get, [client, leader, follower], out);
    }
}

fn write_client_memory(c: &ClientReport, out: &mut String) {
    let samples = [
        ("idle", c.memory_idle),
        ("after the GET levels", c.memory_after_get),
    ];
    if samples.iter().all(|(_, summary)| summary.is_none()) {
        let _ = writeln!(
            out,
            "\nMemory not sampled: the client agents' processes are unknown (pass --client-pids)."
        );
        return;
    }
    let _ = writeln!(
        out,
        "\n| Client agent memory | Agents | VmRSS min (MiB) | median | max | VmHWM min (MiB) | median | max |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|"
    );
    for (phase, summary) in samples {
        if let Some(MemorySummary { agents, rss, hwm }) = summary {
            let _ = writeln!(
                out,
                "| {phase} | {agents} | {} | {} | {} | {} | {} | {} |",
                mib(rss.min_kb),
                mib(rss.median_kb),
                mib(rss.max_kb),
                mib(hwm.min_kb),
                mib(hwm.median_kb),
                mib(hwm.max_kb)
            );
        }
    }
    if let Some(first) = c.agents.first() {
        if let (Some(idle), Some(after)) = (first.idle, first.after_get) {
            let _ = writeln!(
                out,
                "\nThe GETs went through {}: VmRSS {} MiB idle → {} MiB after (VmHWM {} MiB).",
                first.node,
                mib(idle.rss_kb),
                mib(after.rss_kb),
                mib(after.hwm_kb)
            );
        }
    }
}

/// One GET level's three rows: through the client agent, to the leader, to the follower.
fn write_client_levels(get: &ClientGet, [client, leader, follower]: [&str; 3], out: &mut String) {
    let rows = [
        (format!("client ({client})"), &get.client),
        (format!("leader ({leader})"), &get.leader),
        (format!("follower ({follower})"), &get.follower),
    ];
    for (through, level) in rows {
        let _ = writeln!(out, "| {through} | {} |{}", get.mode, level_cells(level));
    }
}

fn percent(ratio: Option<f64>) -> String {
    ratio.map_or_else(|| "—".to_string(), |r| format!("{:.0}%", r * 100.0))
}

fn write_cluster_fanout(c: &ClusterReport, out: &mut String) {
    if c.fanout.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\n### Cluster fan-out (through follower {})\n\n| Mode {WATCH_HEADER}\n|---{WATCH_RULE}",
        c.fanout_node
    );
    for w in &c.fanout {
        let _ = writeln!(out, "| {} |{}", w.mode, watch_cells(w));
    }
}

fn write_failover(f: &FailoverReport, out: &mut String) {
    let lost = match (f.acknowledged_missing, &f.verify_error) {
        (Some(missing), _) => format!("{missing} of {}", f.acknowledged),
        (None, Some(error)) => format!("not verified ({error})"),
        (None, None) => "not verified".to_string(),
    };
    let _ = writeln!(
        out,
        "\n### Failover (kill -9 of the leader)\n\n\
         | Killed | Writes to | Write timeout (ms) | New leader | New leader named (ms) | \
         First ack after kill (ms) | Failed writes before it | Acked writes lost |\n\
         |---|---|---:|---|---:|---:|---:|---:|\n\
         | {} (pid {}) | {} | {:.0} | {} | {} | {} | {} | {lost} |",
        f.killed_node,
        f.killed_pid,
        f.streamed_to,
        f.write_timeout_ms,
        f.new_leader.as_deref().unwrap_or("none"),
        optional_ms(f.new_leader_ms),
        optional_ms(f.first_ack_ms),
        f.failed_before_first_ack,
    );
    let _ = writeln!(
        out,
        "\nKilled at {}. {} writes acknowledged before the kill (the last {} ms before it); \
         first post-kill acknowledgement from {}.",
        f.killed_at_utc,
        f.writes_before_kill,
        optional_ms(f.last_ack_before_kill_ms),
        f.first_ack_server.as_deref().unwrap_or("nobody")
    );
    if let Some(in_flight) = &f.in_flight_at_kill {
        let _ = writeln!(out, "The write in flight at the kill {in_flight}.");
    }
    if f.timed_out {
        let _ = writeln!(
            out,
            "**Timed out** before both a new leader and an acknowledged write were seen."
        );
    }
    for (error, count) in &f.errors {
        let _ = writeln!(out, "- {count} × {error}");
    }
}

fn optional_ms(value: Option<f64>) -> String {
    value.map_or_else(|| "—".to_string(), |v| format!("{v:.1}"))
}

/// One progress line for a finished level, as printed on stderr.
pub fn level_line(phase: &str, level: &LevelResult) -> String {
    format!(
        "{phase}: c={} ok={} errors={} {:.0} req/s p50={:.3}ms p99={:.3}ms",
        level.concurrency,
        level.ok,
        level.errors,
        level.requests_per_sec,
        level.latency.p50_us as f64 / 1000.0,
        level.latency.p99_us as f64 / 1000.0
    )
}

/// The shared cells of a load-level row (everything after the leading `|`).
fn level_cells(level: &LevelResult) -> String {
    let LatencySummary {
        p50_us,
        p99_us,
        max_us,
        ..
    } = level.latency;
    format!(
        " {} | {} | {} | {:.0} | {} | {} | {} |",
        level.concurrency,
        level.ok,
        level.errors,
        level.requests_per_sec,
        ms(p50_us),
        ms(p99_us),
        ms(max_us)
    )
}

fn ms(micros: u64) -> String {
    format!("{:.3}", micros as f64 / 1000.0)
}

const MIB: f64 = 1024.0 * 1024.0;

/// A byte count with a binary unit: `212 B`, `3.4 KiB`, `9.8 MiB`.
fn byte_size(bytes: f64) -> String {
    if bytes >= MIB {
        format!("{:.1} MiB", bytes / MIB)
    } else if bytes >= 1024.0 {
        format!("{:.1} KiB", bytes / 1024.0)
    } else {
        format!("{bytes:.0} B")
    }
}

fn mib(kb: u64) -> String {
    format!("{:.1}", kb as f64 / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_pick_a_readable_unit() {
        assert_eq!(byte_size(212.0), "212 B");
        assert_eq!(byte_size(3.5 * 1024.0), "3.5 KiB");
        assert_eq!(byte_size(9.75 * MIB), "9.8 MiB");
    }
}
