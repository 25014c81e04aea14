//! Failover: stream sequential writes to a follower, `kill -9` the leader, and time (a) until a
//! surviving server names a new leader and (b) until the first write issued after the kill is
//! acknowledged. Every write has a short timeout; a failed write is retried against the next
//! surviving server. Afterwards every acknowledged write is read back to check none was lost.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio::task::JoinSet;

use crate::error::{BenchError, Result};
use crate::http1::Connection;
use crate::kv::{self, KEY_PREFIX};
use crate::procfs::AgentProcess;
use crate::servers;
use crate::target::Target;

/// Keys written by the failover stream live under `senate-bench/failover/`.
const FAILOVER_DIR: &str = "failover/";
/// Pause after a failed write before the retry, so "no leader" answers don't spin.
const RETRY_BACKOFF: Duration = Duration::from_millis(5);
/// Pause between two `/v1/status/leader` polls of one survivor.
const LEADER_POLL: Duration = Duration::from_millis(10);
/// How long the driver sleeps between checks that both events were seen.
const DRIVER_POLL: Duration = Duration::from_millis(2);
/// Bound on reading the acknowledged writes back after the failover.
const VERIFY_LIMIT: Duration = Duration::from_secs(10);
/// Longest error text kept per distinct error.
const ERROR_TEXT: usize = 120;

/// Parameters of the failover benchmark.
#[derive(Debug, Clone)]
pub struct FailoverSpec {
    /// Writes streamed before the kill.
    pub warmup: Duration,
    /// Bound on waiting for the new leader and the first acknowledged write after the kill.
    pub timeout: Duration,
    /// Timeout of each write and each leader poll.
    pub request_timeout: Duration,
    pub value_size: usize,
}

/// A server that will survive the kill.
#[derive(Debug, Clone)]
pub struct Survivor {
    pub node: String,
    pub target: Target,
}

/// The server to kill.
#[derive(Debug, Clone)]
pub struct Victim {
    pub node: String,
    /// Its RPC address as `/v1/status/leader` names it.
    pub rpc_address: String,
    pub process: AgentProcess,
}

/// What the failover benchmark measured (times in milliseconds after `kill -9` returned).
#[derive(Debug, Clone, Serialize)]
pub struct FailoverReport {
    pub killed_node: String,
    pub killed_pid: u32,
    /// Wall-clock time of the kill (UTC `HH:MM:SS.mmm`), to line up with the servers' logs.
    pub killed_at_utc: String,
    pub old_leader: String,
    /// The follower the writes were streamed to first.
    pub streamed_to: String,
    pub write_timeout_ms: f64,
    pub writes_before_kill: u64,
    /// Time from the last acknowledgement before the kill to the kill.
    pub last_ack_before_kill_ms: Option<f64>,
    /// The write in flight when the leader was killed, if any.
    pub in_flight_at_kill: Option<String>,
    pub new_leader: Option<String>,
    pub new_leader_ms: Option<f64>,
    /// The first acknowledged write whose request started after the kill.
    pub first_ack_ms: Option<f64>,
    pub first_ack_server: Option<String>,
    /// Writes started after the kill that failed before the first acknowledgement.
    pub failed_before_first_ack: u64,
    /// Every failed write, keyed by server and error.
    pub errors: BTreeMap<String, u64>,
    pub acknowledged: u64,
    /// Acknowledged writes missing when read back (None when the read-back failed).
    pub acknowledged_missing: Option<u64>,
    pub verify_error: Option<String>,
    /// True when the new leader or the first acknowledgement was not seen within the timeout.
    pub timed_out: bool,
}

/// Events the writer, the leader pollers and the driver share.
#[derive(Default)]
struct Shared {
    killed_at: OnceLock<Instant>,
    new_leader: OnceLock<(Instant, String)>,
    acked_after_kill: AtomicBool,
    stop: AtomicBool,
}

/// One write of the stream.
struct Attempt {
    seq: u64,
    server: usize,
    started: Instant,
    finished: Instant,
    outcome: std::result::Result<(), String>,
}

/// Runs the failover benchmark; `survivors[0]` is the follower written to first.
pub async fn run_failover(
    victim: &Victim,
    survivors: &[Survivor],
    spec: &FailoverSpec,
) -> Result<FailoverReport> {
    let shared = Arc::new(Shared::default());
    let writer_connections = connect_all(survivors).await?;
    let poller_connections = connect_all(survivors).await?;
    let value: Arc<[u8]> = vec![b'f'; spec.value_size].into();
    let writer = tokio::spawn(stream_writes(
        writer_connections,
        Arc::clone(&shared),
        spec.request_timeout,
        value,
    ));
    tokio::time::sleep(spec.warmup).await;

    victim.process.kill()?;
    let killed = Instant::now();
    let killed_at_utc = utc_time_of_day(SystemTime::now());
    let _first_and_only = shared.killed_at.set(killed);
    let mut pollers = JoinSet::new();
    for connection in poller_connections {
        pollers.spawn(poll_leader(
            connection,
            victim.rpc_address.clone(),
            Arc::clone(&shared),
            spec.request_timeout,
        ));
    }
    let timed_out = !wait_for_both(&shared, killed + spec.timeout).await;
    shared.stop.store(true, Ordering::Relaxed);
    let attempts = writer.await?;
    pollers.shutdown().await;

    let mut report = analyse(&attempts, killed, survivors);
    report.killed_node = victim.node.clone();
    report.killed_pid = victim.process.pid();
    report.killed_at_utc = killed_at_utc;
    report.old_leader = victim.rpc_address.clone();
    report.write_timeout_ms = millis(spec.request_timeout);
    report.timed_out = timed_out;
    if let Some((at, name)) = shared.new_leader.get() {
        report.new_leader = Some(name.clone());
        report.new_leader_ms = Some(millis(at.saturating_duration_since(killed)));
    }
    verify(&attempts, survivors, &mut report).await;
    Ok(report)
}

async fn connect_all(survivors: &[Survivor]) -> Result<Vec<Connection>> {
    let mut connections = Vec::with_capacity(survivors.len());
    for survivor in survivors {
        connections.push(Connection::connect(&survivor.target).await?);
    }
    Ok(connections)
}

/// Waits until a new leader was named and a post-kill write acknowledged, or `deadline`.
async fn wait_for_both(shared: &Shared, deadline: Instant) -> bool {
    loop {
        let done =
            shared.new_leader.get().is_some() && shared.acked_after_kill.load(Ordering::Relaxed);
        if done {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(DRIVER_POLL).await;
    }
}

/// The write stream: one PUT at a time, moving to the next server after a failure.
async fn stream_writes(
    mut connections: Vec<Connection>,
    shared: Arc<Shared>,
    timeout: Duration,
    value: Arc<[u8]>,
) -> Vec<Attempt> {
    let mut attempts = Vec::new();
    let mut server = 0;
    let mut path = String::new();
    for seq in 0.. {
        if shared.stop.load(Ordering::Relaxed) || connections.is_empty() {
            break;
        }
        path.clear();
        path.push_str(&format!("/v1/kv/{KEY_PREFIX}{FAILOVER_DIR}{seq}"));
        let started = Instant::now();
        let outcome = put_once(&mut connections[server], &path, &value, timeout).await;
        let finished = Instant::now();
        let after_kill = shared.killed_at.get().is_some_and(|k| started >= *k);
        if outcome.is_ok() && after_kill {
            shared.acked_after_kill.store(true, Ordering::Relaxed);
        }
        let failed = outcome.is_err();
        attempts.push(Attempt {
            seq,
            server,
            started,
            finished,
            outcome,
        });
        if failed {
            server = (server + 1) % connections.len();
            tokio::time::sleep(RETRY_BACKOFF).await;
        }
    }
    attempts
}

/// One bounded PUT; the error says what went wrong.
async fn put_once(
    connection: &mut Connection,
    path: &str,
    value: &[u8],
    timeout: Duration,
) -> std::result::Result<(), String> {
    match tokio::time::timeout(timeout, connection.request("PUT", path, value)).await {
        Ok(Ok(response)) if response.status == 200 => Ok(()),
        Ok(Ok(response)) => Err(format!(
            "HTTP {}: {}",
            response.status,
            response.body_text().trim()
        )),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => {
            connection.reset();
            Err(format!("no answer within {timeout:?}"))
        }
    }
}

/// Polls one survivor's `/v1/status/leader` until it names someone other than `old`.
async fn poll_leader(
    mut connection: Connection,
    old: String,
    shared: Arc<Shared>,
    timeout: Duration,
) {
    while !shared.stop.load(Ordering::Relaxed) && shared.new_leader.get().is_none() {
        let answer = tokio::time::timeout(timeout, servers::leader_named_by(&mut connection)).await;
        match answer {
            Ok(Ok(name)) if !name.is_empty() && name != old => {
                let _first_wins = shared.new_leader.set((Instant::now(), name));
                return;
            }
            Ok(_) => {}
            Err(_) => connection.reset(),
        }
        tokio::time::sleep(LEADER_POLL).await;
    }
}

/// Turns the attempts into the report's timeline (identity fields are filled by the caller).
fn analyse(attempts: &[Attempt], killed: Instant, survivors: &[Survivor]) -> FailoverReport {
    let node = |i: usize| survivors.get(i).map(|s| s.node.clone()).unwrap_or_default();
    let acked = |a: &&Attempt| a.outcome.is_ok();
    let last_before = attempts
        .iter()
        .filter(acked)
        .filter(|a| a.finished < killed)
        .map(|a| a.finished)
        .max();
    let first_after = attempts
        .iter()
        .filter(|a| a.started >= killed)
        .find(|a| a.outcome.is_ok());
    let failed_before_first_ack = attempts
        .iter()
        .filter(|a| a.started >= killed && a.outcome.is_err())
        .filter(|a| first_after.is_none_or(|first| a.seq < first.seq))
        .count() as u64;
    let in_flight = attempts
        .iter()
        .find(|a| a.started < killed && a.finished >= killed)
        .map(|a| describe_in_flight(a, killed));
    FailoverReport {
        killed_node: String::new(),
        killed_pid: 0,
        killed_at_utc: String::new(),
        old_leader: String::new(),
        streamed_to: node(0),
        write_timeout_ms: 0.0,
        writes_before_kill: attempts
            .iter()
            .filter(acked)
            .filter(|a| a.finished < killed)
            .count() as u64,
        last_ack_before_kill_ms: last_before.map(|at| millis(killed.duration_since(at))),
        in_flight_at_kill: in_flight,
        new_leader: None,
        new_leader_ms: None,
        first_ack_ms: first_after.map(|a| millis(a.finished.duration_since(killed))),
        first_ack_server: first_after.map(|a| node(a.server)),
        failed_before_first_ack,
        errors: tally_errors(attempts, &node),
        acknowledged: attempts.iter().filter(acked).count() as u64,
        acknowledged_missing: None,
        verify_error: None,
        timed_out: false,
    }
}

fn describe_in_flight(attempt: &Attempt, killed: Instant) -> String {
    let after = millis(attempt.finished.duration_since(killed));
    match &attempt.outcome {
        Ok(()) => format!("acknowledged {after:.1} ms after the kill"),
        Err(error) => format!("failed {after:.1} ms after the kill: {error}"),
    }
}

fn tally_errors(attempts: &[Attempt], node: &dyn Fn(usize) -> String) -> BTreeMap<String, u64> {
    let mut errors = BTreeMap::new();
    for attempt in attempts {
        if let Err(error) = &attempt.outcome {
            let text: String = error.chars().take(ERROR_TEXT).collect();
            *errors
                .entry(format!("{}: {text}", node(attempt.server)))
                .or_insert(0) += 1;
        }
    }
    errors
}

/// Reads the stream's keys back from a survivor and counts acknowledged writes missing.
async fn verify(attempts: &[Attempt], survivors: &[Survivor], report: &mut FailoverReport) {
    let acknowledged: BTreeSet<u64> = attempts
        .iter()
        .filter(|a| a.outcome.is_ok())
        .map(|a| a.seq)
        .collect();
    match stored_sequence_numbers(survivors).await {
        Ok(stored) => {
            report.acknowledged_missing = Some(acknowledged.difference(&stored).count() as u64);
        }
        Err(error) => report.verify_error = Some(error.to_string()),
    }
}

/// The sequence numbers under the failover directory, read (consistently) from the first
/// survivor that answers within [`VERIFY_LIMIT`].
async fn stored_sequence_numbers(survivors: &[Survivor]) -> Result<BTreeSet<u64>> {
    let path = format!("/v1/kv/{KEY_PREFIX}{FAILOVER_DIR}?keys&consistent");
    let deadline = Instant::now() + VERIFY_LIMIT;
    let mut last_error = BenchError::Setup("no surviving server to read from".into());
    for survivor in survivors.iter().cycle() {
        if Instant::now() >= deadline {
            break;
        }
        match read_keys(&survivor.target, &path).await {
            Ok(keys) => return Ok(keys),
            Err(error) => last_error = error,
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(last_error)
}

async fn read_keys(target: &Target, path: &str) -> Result<BTreeSet<u64>> {
    let mut connection = Connection::connect(target).await?;
    let keys = kv::get_json(&mut connection, path).await?;
    Ok(parse_sequence_numbers(&keys))
}

fn parse_sequence_numbers(keys: &serde_json::Value) -> BTreeSet<u64> {
    let prefix = format!("{KEY_PREFIX}{FAILOVER_DIR}");
    keys.as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|k| k.as_str()?.strip_prefix(&prefix)?.parse().ok())
        .collect()
}

/// `HH:MM:SS.mmm` (UTC) of `at`, as the servers' log timestamps show it.
fn utc_time_of_day(at: SystemTime) -> String {
    let since_epoch = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since_epoch.as_secs() % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{:03}Z",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60,
        since_epoch.subsec_millis()
    )
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(seq: u64, started_ms: u64, took_ms: u64, ok: bool, origin: Instant) -> Attempt {
        let started = origin + Duration::from_millis(started_ms);
        Attempt {
            seq,
            server: (seq % 2) as usize,
            started,
            finished: started + Duration::from_millis(took_ms),
            outcome: if ok {
                Ok(())
            } else {
                Err("HTTP 500: x".into())
            },
        }
    }

    #[test]
    fn timeline_counts_from_the_kill() {
        let origin = Instant::now();
        let killed = origin + Duration::from_millis(100);
        let attempts = [
            attempt(0, 0, 1, true, origin),
            attempt(1, 90, 1, true, origin),
            attempt(2, 95, 30, false, origin),
            attempt(3, 130, 250, false, origin),
            attempt(4, 400, 5, true, origin),
        ];
        let survivors = [
            Survivor {
                node: "s2".into(),
                target: Target::resolve("127.0.0.1:1", false).unwrap(),
            },
            Survivor {
                node: "s3".into(),
                target: Target::resolve("127.0.0.1:2", false).unwrap(),
            },
        ];
        let report = analyse(&attempts, killed, &survivors);
        assert_eq!(report.writes_before_kill, 2);
        assert_eq!(report.last_ack_before_kill_ms.map(f64::round), Some(9.0));
        assert_eq!(report.first_ack_ms.map(f64::round), Some(305.0));
        assert_eq!(report.first_ack_server.as_deref(), Some("s2"));
        assert_eq!(report.failed_before_first_ack, 1);
        assert!(report
            .in_flight_at_kill
            .unwrap()
            .starts_with("failed 25.0 ms"));
        assert_eq!(report.errors.values().sum::<u64>(), 2);
        assert_eq!(report.acknowledged, 3);
    }

    #[test]
    fn formats_time_of_day() {
        let at = UNIX_EPOCH + Duration::from_millis(86_400_000 * 3 + 3_723_045);
        assert_eq!(utc_time_of_day(at), "01:02:03.045Z");
    }

    #[test]
    fn reads_sequence_numbers_from_key_listing() {
        let keys = serde_json::json!([
            "senate-bench/failover/0",
            "senate-bench/failover/12",
            "senate-bench/other"
        ]);
        assert_eq!(parse_sequence_numbers(&keys), BTreeSet::from([0, 12]));
    }
}
