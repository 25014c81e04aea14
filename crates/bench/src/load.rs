//! Closed-loop load at a fixed concurrency: N workers, each on its own keep-alive connection,
//! drawing numbered requests from a [`RequestSource`] (KV operations, catalog writes, reads).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::task::JoinSet;

use crate::error::{BenchError, Result};
use crate::http1::{connect_many, Connection};
use crate::kv::Operation;
use crate::stats::{Latencies, LatencySummary};
use crate::target::Target;
use crate::units::format_duration;

/// Safety cap on a request-count level, so a stalled target cannot hold the bench forever.
const REQUEST_MODE_TIME_CAP: Duration = Duration::from_secs(600);
/// Pause after a transport error before the worker reconnects.
const ERROR_BACKOFF: Duration = Duration::from_millis(20);

/// How long each concurrency level runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunLimit {
    /// Keep issuing requests until this much time has passed.
    Time(Duration),
    /// Issue exactly this many requests in total (across all workers).
    Requests(u64),
}

impl fmt::Display for RunLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunLimit::Time(duration) => write!(f, "{} per level", format_duration(*duration)),
            RunLimit::Requests(n) => write!(f, "{n} requests per level"),
        }
    }
}

/// What a level's workers send: request number `ticket` for tickets 0, 1, 2, …
pub trait RequestSource: Send + Sync {
    /// HTTP method of every request.
    fn method(&self) -> &'static str;
    /// Writes request `ticket`'s path into `path` and returns its body, built in `body` if needed.
    fn request<'a>(&'a self, ticket: u64, path: &mut String, body: &'a mut Vec<u8>) -> &'a [u8];
}

/// How one level is driven, whatever it requests.
#[derive(Debug, Clone, Copy)]
pub struct LevelSpec {
    pub limit: RunLimit,
    pub concurrency: usize,
    pub request_timeout: Duration,
    pub connect_parallelism: usize,
}

/// Parameters shared by every level of one KV benchmark.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    pub limit: RunLimit,
    /// Keys `k0..k{keys}` under the bench prefix are spread over.
    pub keys: u64,
    pub request_timeout: Duration,
    pub connect_parallelism: usize,
}

/// Outcome of one concurrency level.
#[derive(Debug, Clone, Serialize)]
pub struct LevelResult {
    pub concurrency: usize,
    pub ok: u64,
    pub errors: u64,
    pub elapsed_secs: f64,
    pub requests_per_sec: f64,
    pub latency: LatencySummary,
    /// Response body bytes received with the 200 answers.
    pub body_bytes: u64,
}

impl LevelResult {
    /// Average body size of a 200 answer (0 when there were none).
    pub fn mean_body_bytes(&self) -> f64 {
        if self.ok == 0 {
            0.0
        } else {
            self.body_bytes as f64 / self.ok as f64
        }
    }
}

/// KV operations spread round-robin over the bench keyspace.
struct KvRequests {
    operation: Operation,
    keys: u64,
}

impl RequestSource for KvRequests {
    fn method(&self) -> &'static str {
        self.operation.method()
    }

    fn request<'a>(&'a self, ticket: u64, path: &mut String, _body: &'a mut Vec<u8>) -> &'a [u8] {
        self.operation.path_into(ticket % self.keys, path);
        self.operation.body()
    }
}

/// State every worker of a level shares.
struct Plan {
    source: Arc<dyn RequestSource>,
    max_tickets: u64,
    tickets: AtomicU64,
    deadline: Instant,
    request_timeout: Duration,
}

/// What one worker measured.
struct Tally {
    ok: u64,
    errors: u64,
    body_bytes: u64,
    latencies: Latencies,
}

/// Runs `operation` with `concurrency` workers under `spec`'s limit and reports the result.
pub async fn run_level(
    target: &Target,
    operation: &Operation,
    spec: &LoadSpec,
    concurrency: usize,
) -> Result<LevelResult> {
    let source = KvRequests {
        operation: operation.clone(),
        keys: spec.keys.max(1),
    };
    let level = LevelSpec {
        limit: spec.limit,
        concurrency,
        request_timeout: spec.request_timeout,
        connect_parallelism: spec.connect_parallelism,
    };
    run_requests(target, Arc::new(source), &level).await
}

/// Drives `source` with `level.concurrency` workers under `level.limit`; a request counts as
/// OK only when answered 200. All connections are opened before the clock starts.
pub async fn run_requests(
    target: &Target,
    source: Arc<dyn RequestSource>,
    level: &LevelSpec,
) -> Result<LevelResult> {
    let connections = connect_many(target, level.concurrency, level.connect_parallelism)
        .await
        .into_iter()
        .collect::<Result<Vec<_>>>()?;
    let started = Instant::now();
    let (max_tickets, deadline) = match level.limit {
        RunLimit::Time(duration) => (u64::MAX, started + duration),
        RunLimit::Requests(n) => (n, started + REQUEST_MODE_TIME_CAP),
    };
    let plan = Arc::new(Plan {
        source,
        max_tickets,
        tickets: AtomicU64::new(0),
        deadline,
        request_timeout: level.request_timeout,
    });
    let mut workers = JoinSet::new();
    for connection in connections {
        workers.spawn(work(connection, Arc::clone(&plan)));
    }
    let mut total = Tally::new()?;
    while let Some(joined) = workers.join_next().await {
        total.absorb(joined??)?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    Ok(LevelResult {
        concurrency: level.concurrency,
        ok: total.ok,
        errors: total.errors,
        elapsed_secs: elapsed,
        requests_per_sec: if elapsed > 0.0 {
            total.ok as f64 / elapsed
        } else {
            0.0
        },
        latency: total.latencies.summary(),
        body_bytes: total.body_bytes,
    })
}

/// Writes `value_size`-byte values to every key of the keyspace once; fails on any error.
pub async fn populate(target: &Target, value_size: usize, spec: &LoadSpec) -> Result<LevelResult> {
    let fill = LoadSpec {
        limit: RunLimit::Requests(spec.keys),
        ..spec.clone()
    };
    let concurrency = usize::try_from(spec.keys)
        .unwrap_or(usize::MAX)
        .clamp(1, 16);
    let result = run_level(
        target,
        &Operation::put_of_size(value_size),
        &fill,
        concurrency,
    )
    .await?;
    if result.errors > 0 {
        return Err(BenchError::Setup(format!(
            "pre-populating {} keys failed for {} of them",
            spec.keys, result.errors
        )));
    }
    Ok(result)
}

/// One worker's loop: claim a ticket, issue the request, record its latency and body size.
async fn work(mut connection: Connection, plan: Arc<Plan>) -> Result<Tally> {
    let mut tally = Tally::new()?;
    let mut path = String::with_capacity(64);
    let mut body_buffer = Vec::new();
    let method = plan.source.method();
    loop {
        let ticket = plan.tickets.fetch_add(1, Ordering::Relaxed);
        if ticket >= plan.max_tickets || Instant::now() >= plan.deadline {
            return Ok(tally);
        }
        let body = plan.source.request(ticket, &mut path, &mut body_buffer);
        let sent = Instant::now();
        let outcome = tokio::time::timeout(
            plan.request_timeout,
            connection.request_discarding_body(method, &path, body),
        )
        .await;
        match outcome {
            Ok(Ok(response)) if response.status == 200 => {
                tally.ok += 1;
                tally.body_bytes += response.body_len;
                tally.latencies.record(sent.elapsed());
            }
            Ok(Ok(_)) => tally.errors += 1,
            Ok(Err(_)) => {
                tally.errors += 1;
                tokio::time::sleep(ERROR_BACKOFF).await;
            }
            Err(_) => {
                tally.errors += 1;
                connection.reset();
            }
        }
    }
}

impl Tally {
    fn new() -> Result<Self> {
        Ok(Self {
            ok: 0,
            errors: 0,
            body_bytes: 0,
            latencies: Latencies::new()?,
        })
    }

    fn absorb(&mut self, other: Tally) -> Result<()> {
        self.ok += other.ok;
        self.errors += other.errors;
        self.body_bytes += other.body_bytes;
        self.latencies.merge(&other.latencies)
    }
}
