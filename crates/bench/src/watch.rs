//! Blocking-query fan-out: park many watchers on one key, write it once, time their release.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::task::JoinSet;

use crate::error::Result;
use crate::http1::{connect_many, Connection};
use crate::kv::{self, ReadMode, KEY_PREFIX};
use crate::procfs::{self, AgentProcess, MemoryUse};
use crate::stats::{Latencies, LatencySummary};
use crate::target::Target;

/// The key (under the bench prefix) every watcher blocks on.
pub const WATCH_KEY: &str = "watch";
const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// Parameters of the fan-out benchmark.
#[derive(Debug, Clone)]
pub struct WatchSpec {
    pub watchers: usize,
    /// Consistency mode of the blocking reads (`default` or `stale` in practice).
    pub mode: ReadMode,
    /// Connects in flight at once while opening watcher connections.
    pub connect_parallelism: usize,
    /// Pause between the two "nobody returned early" checks after parking.
    pub settle: Duration,
    /// Bound on parking all watchers, and separately on releasing them.
    pub timeout: Duration,
}

/// What the fan-out benchmark measured.
#[derive(Debug, Clone, Serialize)]
pub struct WatchReport {
    pub watchers: usize,
    pub mode: ReadMode,
    pub connect_failures: usize,
    /// Watchers whose blocking request was written.
    pub parked: usize,
    pub park_secs: f64,
    /// True when two checks one settle period apart both saw every watcher still pending.
    pub parked_verified: bool,
    /// Watchers that returned before the releasing PUT was sent.
    pub early_returns: usize,
    /// Watchers that returned 200 after the PUT.
    pub released: usize,
    /// Watchers that failed or got a non-200 answer after the PUT.
    pub failed: usize,
    /// Watchers still blocked when the release timeout expired.
    pub not_released: usize,
    /// Time from the PUT's response to each released watcher's response.
    pub release: LatencySummary,
    pub memory_before: Option<MemoryUse>,
    pub memory_parked: Option<MemoryUse>,
    pub memory_after: Option<MemoryUse>,
    /// Server RSS growth from parking, divided by the parked watchers.
    pub rss_per_watcher_bytes: Option<f64>,
}

/// Counters the watcher tasks update while the driver polls them.
#[derive(Default)]
struct Progress {
    parked: AtomicUsize,
    send_failed: AtomicUsize,
    returned: AtomicUsize,
}

/// When one watcher's request finished, and whether it got a 200.
struct Return {
    at: Instant,
    ok: bool,
    /// The watcher's connection, kept open as a real watcher keeps it to poll again; closed
    /// only after every watcher has returned, so hang-ups do not crowd the measured window.
    connection: Option<Connection>,
}

/// How the watchers ended after the releasing PUT.
#[derive(Default)]
struct Tallies {
    early_returns: usize,
    released: usize,
    failed: usize,
    not_released: usize,
}

/// Runs the fan-out benchmark against `target`, sampling `server` memory if given.
pub async fn run_watch(
    target: &Target,
    spec: &WatchSpec,
    server: Option<&AgentProcess>,
) -> Result<WatchReport> {
    let mut control = Connection::connect(target).await?;
    kv::put(&mut control, WATCH_KEY, b"before").await?;
    let index = kv::index_of(&mut control, WATCH_KEY).await?;
    let memory_before = procfs::sample(server)?;

    let path: Arc<str> = format!(
        "/v1/kv/{KEY_PREFIX}{WATCH_KEY}?index={index}&wait=5m{}",
        spec.mode.extra_param()
    )
    .into();
    let progress = Arc::new(Progress::default());
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    let mut connect_failures = 0;
    for connection in connect_many(target, spec.watchers, spec.connect_parallelism).await {
        match connection {
            Ok(connection) => {
                tasks.spawn(watch_one(
                    connection,
                    Arc::clone(&path),
                    Arc::clone(&progress),
                ));
            }
            Err(_) => connect_failures += 1,
        }
    }
    let launched = tasks.len();
    wait_until(spec.timeout, || {
        progress.parked.load(Ordering::Relaxed) + progress.send_failed.load(Ordering::Relaxed)
            >= launched
    })
    .await;
    let park_secs = started.elapsed().as_secs_f64();
    let parked = progress.parked.load(Ordering::Relaxed);
    let parked_verified = verify_pending(&progress, spec.settle).await;
    let memory_parked = procfs::sample(server)?;

    let put_sent = Instant::now();
    kv::put(&mut control, WATCH_KEY, b"after").await?;
    let release_start = Instant::now();
    let mut release = Latencies::new()?;
    let tallies = collect(tasks, spec.timeout, |r| {
        if r.at < put_sent {
            Outcome::Early
        } else if r.ok {
            release.record(r.at.saturating_duration_since(release_start));
            Outcome::Released
        } else {
            Outcome::Failed
        }
    })
    .await?;
    let memory_after = procfs::sample(server)?;

    Ok(WatchReport {
        watchers: spec.watchers,
        mode: spec.mode,
        connect_failures,
        parked,
        park_secs,
        parked_verified,
        early_returns: tallies.early_returns,
        released: tallies.released,
        failed: tallies.failed,
        not_released: tallies.not_released,
        release: release.summary(),
        memory_before,
        memory_parked,
        memory_after,
        rss_per_watcher_bytes: rss_per_watcher(memory_before, memory_parked, parked),
    })
}

/// Writes the blocking GET, then waits for its answer.
async fn watch_one(mut connection: Connection, path: Arc<str>, progress: Arc<Progress>) -> Return {
    if connection.send("GET", &path, b"").await.is_err() {
        progress.send_failed.fetch_add(1, Ordering::Relaxed);
        return Return {
            at: Instant::now(),
            ok: false,
            connection: None,
        };
    }
    progress.parked.fetch_add(1, Ordering::Relaxed);
    let response = connection.receive().await;
    progress.returned.fetch_add(1, Ordering::Relaxed);
    Return {
        at: Instant::now(),
        ok: matches!(response, Ok(r) if r.status == 200),
        connection: Some(connection),
    }
}

/// Checks twice, one settle period apart, that no parked watcher has returned.
async fn verify_pending(progress: &Progress, settle: Duration) -> bool {
    let mut all_pending = true;
    for _ in 0..2 {
        tokio::time::sleep(settle).await;
        all_pending &= progress.returned.load(Ordering::Relaxed) == 0;
    }
    all_pending
}

/// Polls `done` until it holds or `limit` passes; returns whether it held.
async fn wait_until(limit: Duration, done: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while !done() {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    true
}

/// Classification of one returned watcher.
enum Outcome {
    Early,
    Released,
    Failed,
}

/// Joins every watcher (aborting those still blocked after `limit`) and tallies them.
async fn collect(
    mut tasks: JoinSet<Return>,
    limit: Duration,
    mut classify: impl FnMut(Return) -> Outcome,
) -> Result<Tallies> {
    let deadline = tokio::time::Instant::now() + limit;
    let mut tallies = Tallies::default();
    let mut still_open = Vec::with_capacity(tasks.len());
    loop {
        match tokio::time::timeout_at(deadline, tasks.join_next()).await {
            Ok(Some(joined)) => match classify({
                let mut returned = joined?;
                still_open.extend(returned.connection.take());
                returned
            }) {
                Outcome::Early => tallies.early_returns += 1,
                Outcome::Released => tallies.released += 1,
                Outcome::Failed => tallies.failed += 1,
            },
            Ok(None) => return Ok(tallies),
            Err(_) => {
                tallies.not_released = tasks.len();
                tasks.abort_all();
                return Ok(tallies);
            }
        }
    }
}

fn rss_per_watcher(
    before: Option<MemoryUse>,
    parked: Option<MemoryUse>,
    watchers: usize,
) -> Option<f64> {
    let (before, parked) = (before?, parked?);
    (watchers > 0).then(|| (parked.rss_kb as f64 - before.rss_kb as f64) * 1024.0 / watchers as f64)
}
