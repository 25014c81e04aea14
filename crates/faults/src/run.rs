//! One fault run: start a cluster, run the workloads while the nemesis injects faults, heal,
//! take the final reads, check every history, and report (saving the history when it failed).

use crate::cluster::{Cluster, ClusterError};
use crate::history::{Clock, Context};
use crate::http;
use crate::nemesis::{self, FaultWindow, Nemesis, Schedule};
use crate::workload::{lock, register, set, watch};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use senate_linearize::{
    check_kv, check_set, Budget, CheckOptions, CheckResult, FinalRead, KvOp, KvOutput, SetAdd,
};
use serde::Serialize;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A workload to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
pub enum Workload {
    Register,
    Set,
    Lock,
    Watch,
}

/// Everything one run needs.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub senate: PathBuf,
    pub servers: usize,
    /// Client agents beside the servers; workloads send to them too.
    pub client_agents: usize,
    pub loopback: bool,
    pub duration: Duration,
    pub nemeses: Vec<Nemesis>,
    pub workloads: Vec<Workload>,
    pub clients: usize,
    pub keys: usize,
    pub seed: u64,
    pub out: PathBuf,
    pub hold: Duration,
    pub quiet: Duration,
    pub request_timeout: Duration,
    pub check_time_limit: Duration,
    /// The negative control: `?stale` reads checked as linearizable.
    pub stale_as_linearizable: bool,
}

/// What one run found.
#[derive(Debug, Default)]
pub struct RunReport {
    pub operations: usize,
    pub faults: Vec<FaultWindow>,
    pub anomalies: Vec<String>,
    pub lost_writes: usize,
    /// Per fault: recovery and the longest write outage.
    pub faults_figures: Vec<FaultFigures>,
    pub lock_holds: usize,
    pub lock_overlaps: Vec<lock::Overlap>,
    /// Where the history was saved, for a failing run.
    pub saved: Option<PathBuf>,
}

impl RunReport {
    pub fn passed(&self) -> bool {
        self.anomalies.is_empty()
    }
}

/// How the cluster's writes fared around one fault.
#[derive(Debug, Clone, Copy)]
pub struct FaultFigures {
    pub nemesis: Nemesis,
    /// From the fault's end to the first acknowledged write after it (none: no write was).
    pub recovery: Option<Duration>,
    /// The longest time without an acknowledged write, from the fault's start to recovery.
    pub outage: Duration,
}

/// Everything recorded, saved as JSON when the run fails.
#[derive(Default, Serialize)]
struct Recorded {
    register: register::RegisterHistory,
    set_adds: Vec<SetAdd<String>>,
    set_final: Option<FinalRead<String>>,
    lock_holds: Vec<lock::Hold>,
    watches: Vec<Vec<watch::Observation>>,
    watch_final: Option<(u64, Option<String>)>,
    faults: Vec<FaultWindow>,
}

/// How long the cluster may take to form, and to recover after the last fault.
const FORM_WITHIN: Duration = Duration::from_secs(60);
/// How long watchers may take to catch up with the final value.
const WATCH_SETTLE: Duration = Duration::from_secs(20);

/// Runs run number `index`.
pub fn run_once(config: &RunConfig, index: usize) -> Result<RunReport, ClusterError> {
    let scratch = config.out.join(format!("run-{index}"));
    let mut cluster = Cluster::start(
        &config.senate,
        config.servers,
        config.client_agents,
        config.loopback,
        scratch,
        FORM_WITHIN,
    )?;
    let servers: Vec<SocketAddr> = cluster.http_addresses();
    let clock = Clock::start();
    let stop = AtomicBool::new(false);
    let finals = OnceLock::new();
    let context = Context {
        clock,
        servers: &servers,
        stop: &stop,
        timeout: config.request_timeout,
    };
    let seed = config.seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut recorded = Recorded::default();
    let mut report = RunReport::default();
    std::thread::scope(|scope| -> Result<(), ClusterError> {
        let rng = |n: u64| SmallRng::seed_from_u64(seed ^ n);
        let has = |w| config.workloads.contains(&w);
        let registers: Vec<_> = (0..if has(Workload::Register) {
            config.clients
        } else {
            0
        })
            .map(|c| {
                let context = &context;
                scope.spawn(move || {
                    let stale = config.stale_as_linearizable;
                    register::run(context, c as u64, config.keys, stale, rng(c as u64))
                })
            })
            .collect();
        let sets: Vec<_> = (0..if has(Workload::Set) { 2 } else { 0 })
            .map(|c| {
                let context = &context;
                scope.spawn(move || set::run(context, 100 + c, rng(100 + c)))
            })
            .collect();
        let locks: Vec<_> = (0..if has(Workload::Lock) { 3 } else { 0 })
            .map(|c| {
                let context = &context;
                scope.spawn(move || lock::run(context, 200 + c, rng(200 + c)))
            })
            .collect();
        let watch_key = register::key_name(0);
        let watchers: Vec<_> = (0..if has(Workload::Watch) { 2 } else { 0 })
            .map(|c| {
                let (context, key, finals) = (&context, watch_key.clone(), &finals);
                scope.spawn(move || watch::run(context, &key, finals, WATCH_SETTLE, rng(300 + c)))
            })
            .collect();

        let mut nemesis_rng = rng(999);
        let schedule = Schedule {
            hold: config.hold,
            quiet: config.quiet,
        };
        let until = Instant::now() + config.duration;
        let order = nemesis::shuffled(&config.nemeses, &mut nemesis_rng);
        let faults = nemesis::run(
            &mut cluster,
            &order,
            &schedule,
            clock,
            until,
            &mut nemesis_rng,
        );
        let healed = nemesis::heal(&mut cluster);
        std::thread::sleep(until.saturating_duration_since(Instant::now()));
        stop.store(true, Ordering::Relaxed);
        recorded.faults = faults?;
        healed?;

        for handle in registers {
            recorded
                .register
                .merge(handle.join().expect("a register client panicked"));
        }
        for handle in sets {
            recorded
                .set_adds
                .extend(handle.join().expect("a set client panicked"));
        }
        for handle in locks {
            recorded
                .lock_holds
                .extend(handle.join().expect("a lock client panicked"));
        }
        // Writers have stopped: what the cluster holds now is final.
        match cluster.wait_formed(FORM_WITHIN) {
            Ok(leader) => {
                let leader_http = cluster.server(leader).http;
                if has(Workload::Set) {
                    recorded.set_final = retry(|| set::final_read(leader_http, clock.now()))
                        .map_err(|why| report.anomalies.push(format!("set: no final read: {why}")))
                        .ok();
                }
                if has(Workload::Watch) {
                    match retry(|| final_value(leader_http, &watch_key)) {
                        Ok(state) => {
                            recorded.watch_final = Some(state.clone());
                            let _ = finals.set(state);
                        }
                        Err(why) => report
                            .anomalies
                            .push(format!("watch: no final read: {why}")),
                    }
                }
            }
            Err(error) => report.anomalies.push(format!(
                "the cluster did not recover after the faults: {error}"
            )),
        }
        for handle in watchers {
            recorded
                .watches
                .push(handle.join().expect("a watcher panicked"));
        }
        Ok(())
    })?;
    check(config, &recorded, &mut report);
    for server in cluster.panicked() {
        report
            .anomalies
            .push(format!("server {server} panicked (see its log)"));
    }
    report.faults = recorded.faults.clone();
    if !report.passed() {
        cluster.keep_scratch();
        let path = cluster.scratch().join("history.json");
        if let Ok(json) = serde_json::to_vec_pretty(&recorded) {
            if std::fs::write(&path, json).is_ok() {
                report.saved = Some(path);
            }
        }
    }
    Ok(report)
}

/// Runs every checker over the recorded histories.
fn check(config: &RunConfig, recorded: &Recorded, report: &mut RunReport) {
    let register_ops = &recorded.register.operations;
    report.operations = register_ops.len()
        + recorded.register.stale_reads.len()
        + recorded.set_adds.len()
        + recorded.lock_holds.len()
        + recorded.watches.iter().map(Vec::len).sum::<usize>();
    let options = CheckOptions {
        search: Budget::UNLIMITED.with_time_limit(config.check_time_limit),
        ..CheckOptions::default()
    };
    match check_kv(register_ops, &options) {
        Ok(CheckResult::Ok) => {}
        Ok(CheckResult::Illegal(counterexample)) => report
            .anomalies
            .push(format!("register: not linearizable\n{counterexample}")),
        Ok(CheckResult::Unknown { timed_out }) => report.anomalies.push(format!(
            "register: the check ran out of time for keys {timed_out:?} (inconclusive)"
        )),
        Err(error) => report
            .anomalies
            .push(format!("register: malformed history: {error}")),
    }
    check_stale_reads(&recorded.register, report);
    if let Some(final_read) = &recorded.set_final {
        let set_report = check_set(&recorded.set_adds, std::slice::from_ref(final_read));
        report.lost_writes += set_report.lost.len();
        if !set_report.is_valid() {
            report.anomalies.push(format!(
                "set: lost {:?}, unexpected {:?}",
                set_report.lost, set_report.unexpected
            ));
        }
    }
    if let Some(final_state) = &recorded.watch_final {
        for (watcher, seen) in recorded.watches.iter().enumerate() {
            for problem in watch::problems(seen, final_state) {
                report
                    .anomalies
                    .push(format!("watcher {watcher}: {problem}"));
            }
        }
    }
    report.lock_holds = recorded.lock_holds.len();
    report.lock_overlaps = lock::overlaps(&recorded.lock_holds);
    report.faults_figures = fault_figures(recorded);
}

/// A stale read may be old, but it must show a value some client wrote (or no value).
fn check_stale_reads(history: &register::RegisterHistory, report: &mut RunReport) {
    let written: BTreeSet<&str> = history
        .operations
        .iter()
        .filter_map(|op| match &op.input.op {
            KvOp::Write(value) | KvOp::Cas { new: value, .. } => Some(value.as_str()),
            _ => None,
        })
        .collect();
    for read in &history.stale_reads {
        if let Some(value) = &read.value {
            if !written.contains(value.as_str()) {
                report.anomalies.push(format!(
                    "stale read of {} returned {value:?}, which no client wrote",
                    read.key
                ));
            }
        }
    }
}

/// For each fault: the time from its end to the first write acknowledged after it, and the
/// longest stretch without an acknowledged write from its start to that first write.
fn fault_figures(recorded: &Recorded) -> Vec<FaultFigures> {
    let acknowledged_sets = recorded
        .set_adds
        .iter()
        .filter_map(|add| match add.outcome {
            senate_linearize::AddOutcome::Acknowledged { return_time } => Some(return_time),
            _ => None,
        });
    let mut acks: Vec<u64> = recorded
        .register
        .operations
        .iter()
        .filter(|op| matches!(op.output, KvOutput::Ok | KvOutput::CasResult(_)))
        .filter_map(|op| op.return_time)
        .chain(acknowledged_sets)
        .collect();
    acks.sort_unstable();
    recorded
        .faults
        .iter()
        .map(|fault| {
            let after_end = acks.partition_point(|&ack| ack <= fault.end);
            let recovered_at = acks.get(after_end).copied();
            let from = acks.partition_point(|&ack| ack <= fault.start);
            let until = recovered_at.unwrap_or(fault.end);
            let outage = std::iter::once(fault.start)
                .chain(acks[from..after_end].iter().copied())
                .chain(std::iter::once(until))
                .collect::<Vec<u64>>()
                .windows(2)
                .map(|pair| pair[1].saturating_sub(pair[0]))
                .max()
                .unwrap_or(0);
            FaultFigures {
                nemesis: fault.nemesis,
                recovery: recovered_at.map(|ack| Duration::from_nanos(ack - fault.end)),
                outage: Duration::from_nanos(outage),
            }
        })
        .collect()
}

/// The key's X-Consul-Index and value, read with `?consistent`.
fn final_value(server: SocketAddr, key: &str) -> Result<(u64, Option<String>), String> {
    let path = format!("/v1/kv/{key}?consistent");
    let response = http::request(server, "GET", &path, b"", Duration::from_secs(10))
        .map_err(|e| e.to_string())?;
    let index = response.index().ok_or("no X-Consul-Index")?;
    let entry = response
        .kv_entry()
        .ok_or_else(|| format!("{}: {}", response.status, response.text()))?;
    Ok((index, entry.map(|entry| entry.value)))
}

/// Retries `read` for up to 30 s (the cluster may still be settling).
fn retry<T>(mut read: impl FnMut() -> Result<T, String>) -> Result<T, String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match read() {
            Ok(value) => return Ok(value),
            Err(why) if Instant::now() > deadline => return Err(why),
            Err(_) => std::thread::sleep(Duration::from_millis(250)),
        }
    }
}
