//! Runs the agent's checks on the tokio runtime and reports their status changes through a sink.
//!
//! Probed checks (script, HTTP, TCP) first run after a random stagger within their interval, then
//! every interval plus a little jitter. TTL checks wait for [`CheckRunner::update_ttl`] and turn
//! critical when it does not come in time. The sink hears about every change of status or output,
//! and always about a check's first result.
//!
//! For `DeregisterCriticalServiceAfter`, the runner remembers since when each check has been
//! critical: [`CheckRunner::critical_since`] tells it for one check, and
//! [`CheckRunner::critical_too_long`] lists the checks critical for longer than their limit, for the
//! agent's reaper to deregister their services.

use super::http::run_http;
use super::report::Reporter;
use super::script::run_script;
use super::spec::{CheckKind, CheckSpec, HttpCheck, ScriptCheck, TcpCheck};
use super::tcp::run_tcp;
use super::ttl::TtlTimer;
use rand::Rng;
use senate_types::catalog::CheckStatus;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// Receives check results. Called from runtime worker threads, and from the thread calling
/// [`CheckRunner::update_ttl`]; updates for one check arrive one at a time and in order. It should
/// return quickly, and must not call `update_ttl` itself (it may call `stop`).
pub trait StatusSink: Send + Sync + 'static {
    fn check_updated(&self, check_id: &str, status: CheckStatus, output: &str);
}

/// Why a TTL update was refused. `Display` gives Consul's text for the HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunnerError {
    /// Answered with 404.
    #[error("Unknown check ID {0:?}. Ensure that the check ID is passed, not the check name.")]
    UnknownCheck(String),
    /// Answered with 500.
    #[error("CheckID {0:?} does not have associated TTL")]
    NotTtl(String),
}

/// The running checks, by check ID.
pub struct CheckRunner {
    sink: Arc<dyn StatusSink>,
    checks: Mutex<HashMap<String, RunningCheck>>,
}

struct RunningCheck {
    reporter: Arc<Reporter>,
    ttl: Option<Arc<TtlTimer>>,
    deregister_critical_after: Option<Duration>,
    task: JoinHandle<()>,
}

impl Drop for RunningCheck {
    fn drop(&mut self) {
        self.reporter.silence();
        self.task.abort();
    }
}

impl CheckRunner {
    pub fn new(sink: Arc<dyn StatusSink>) -> Self {
        CheckRunner {
            sink,
            checks: Mutex::new(HashMap::new()),
        }
    }

    /// Starts running `spec`, replacing (and stopping) a running check with the same ID.
    /// Must be called within a tokio runtime.
    pub fn start(&self, spec: &CheckSpec) {
        self.stop(&spec.id);
        let reporter = Arc::new(Reporter::new(spec, self.sink.clone()));
        let (ttl, task) = match &spec.kind {
            CheckKind::Ttl { ttl } => {
                let timer = Arc::new(TtlTimer::new(
                    &spec.id,
                    *ttl,
                    spec.output_max_size,
                    reporter.clone(),
                ));
                (Some(timer.clone()), tokio::spawn(timer.run()))
            }
            CheckKind::Script(script) => {
                let probe = Probe::Script(script.clone());
                (None, spawn_probes(probe, script.interval, spec, &reporter))
            }
            CheckKind::Http(http) => {
                let probe = Probe::Http(http.clone());
                (None, spawn_probes(probe, http.interval, spec, &reporter))
            }
            CheckKind::Tcp(tcp) => {
                let probe = Probe::Tcp(tcp.clone());
                (None, spawn_probes(probe, tcp.interval, spec, &reporter))
            }
        };
        let running = RunningCheck {
            reporter,
            ttl,
            deregister_critical_after: spec.deregister_critical_after,
            task,
        };
        let replaced = self.lock().insert(spec.id.clone(), running);
        drop(replaced);
    }

    /// Stops a check; the sink hears nothing more about it. Returns whether it was running.
    pub fn stop(&self, check_id: &str) -> bool {
        let removed = self.lock().remove(check_id);
        removed.is_some()
    }

    /// Stops every check.
    pub fn stop_all(&self) {
        let removed = std::mem::take(&mut *self.lock());
        drop(removed);
    }

    /// Sets a TTL check's status and output and restarts its TTL.
    pub fn update_ttl(
        &self,
        check_id: &str,
        status: CheckStatus,
        output: &str,
    ) -> Result<(), RunnerError> {
        let timer = {
            let checks = self.lock();
            let check = checks
                .get(check_id)
                .ok_or_else(|| RunnerError::UnknownCheck(check_id.to_string()))?;
            check
                .ttl
                .clone()
                .ok_or_else(|| RunnerError::NotTtl(check_id.to_string()))?
        };
        timer.update(status, output);
        Ok(())
    }

    /// When a running check last turned critical, if it is critical now.
    pub fn critical_since(&self, check_id: &str) -> Option<Instant> {
        let reporter = self.lock().get(check_id)?.reporter.clone();
        reporter.critical_since()
    }

    /// The IDs of checks that have been critical for longer than their `DeregisterCriticalServiceAfter`.
    pub fn critical_too_long(&self) -> Vec<String> {
        let limited: Vec<(String, Duration, Arc<Reporter>)> = self
            .lock()
            .iter()
            .filter_map(|(id, check)| {
                let limit = check.deregister_critical_after?;
                Some((id.clone(), limit, check.reporter.clone()))
            })
            .collect();
        limited
            .into_iter()
            .filter(|(_, limit, reporter)| {
                reporter
                    .critical_since()
                    .is_some_and(|since| since.elapsed() >= *limit)
            })
            .map(|(id, _, _)| id)
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, RunningCheck>> {
        self.checks.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A check that is probed every interval.
enum Probe {
    Script(ScriptCheck),
    Http(HttpCheck),
    Tcp(TcpCheck),
}

impl Probe {
    async fn run(&self, output_max_size: usize) -> (CheckStatus, String) {
        match self {
            Probe::Script(script) => run_script(script, output_max_size).await,
            Probe::Http(http) => run_http(http, output_max_size).await,
            Probe::Tcp(tcp) => run_tcp(tcp).await,
        }
    }
}

fn spawn_probes(
    probe: Probe,
    interval: Duration,
    spec: &CheckSpec,
    reporter: &Arc<Reporter>,
) -> JoinHandle<()> {
    let output_max_size = spec.output_max_size;
    let reporter = reporter.clone();
    tokio::spawn(async move {
        tokio::time::sleep(random_below(interval)).await;
        loop {
            let (status, output) = probe.run(output_max_size).await;
            reporter.probe_result(status, output);
            tokio::time::sleep(interval + random_below(interval / 16)).await;
        }
    })
}

/// A random duration in `[0, limit)`; zero when `limit` is.
fn random_below(limit: Duration) -> Duration {
    if limit.is_zero() {
        return Duration::ZERO;
    }
    rand::thread_rng().gen_range(Duration::ZERO..limit)
}
