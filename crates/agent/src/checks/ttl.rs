//! TTL checks: clients push the status, and the check turns critical when it is not refreshed in time.

use super::output::truncate_head;
use super::report::Reporter;
use senate_types::catalog::CheckStatus;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::{sleep_until, Instant};

pub(crate) struct TtlTimer {
    check_id: String,
    ttl: Duration,
    output_max_size: usize,
    reporter: Arc<Reporter>,
    state: Mutex<TtlState>,
    renewed: Notify,
}

struct TtlState {
    /// When the check expires; `None` once it has, until the next update.
    deadline: Option<Instant>,
    last_output: String,
}

impl TtlTimer {
    pub(crate) fn new(
        check_id: &str,
        ttl: Duration,
        output_max_size: usize,
        reporter: Arc<Reporter>,
    ) -> Self {
        TtlTimer {
            check_id: check_id.to_string(),
            ttl,
            output_max_size,
            reporter,
            state: Mutex::new(TtlState {
                deadline: Some(Instant::now() + ttl),
                last_output: String::new(),
            }),
            renewed: Notify::new(),
        }
    }

    /// Sets the status and output (cut to the check's maximum) and restarts the TTL.
    pub(crate) fn update(&self, status: CheckStatus, output: &str) {
        let output = truncate_head(output, self.output_max_size);
        {
            let mut state = self.lock();
            state.deadline = Some(Instant::now() + self.ttl);
            state.last_output.clone_from(&output);
            self.reporter.set(status, output);
        }
        self.renewed.notify_one();
    }

    /// Waits for deadlines to pass, turning the check critical each time one does; runs until aborted.
    pub(crate) async fn run(self: Arc<Self>) {
        loop {
            let deadline = self.lock().deadline;
            match deadline {
                Some(deadline) => tokio::select! {
                    _ = sleep_until(deadline) => self.expire_if_due(),
                    _ = self.renewed.notified() => {}
                },
                None => self.renewed.notified().await,
            }
        }
    }

    fn expire_if_due(&self) {
        let mut state = self.lock();
        if state
            .deadline
            .is_none_or(|deadline| deadline > Instant::now())
        {
            return;
        }
        state.deadline = None;
        tracing::warn!(check = %self.check_id, "check missed TTL, is now critical");
        let output = expired_output(&state.last_output);
        self.reporter.set(CheckStatus::Critical, output);
    }

    fn lock(&self) -> MutexGuard<'_, TtlState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Consul's output for a lapsed TTL, keeping the last output the client gave.
fn expired_output(last_output: &str) -> String {
    if last_output.is_empty() {
        return "TTL expired".to_string();
    }
    format!("TTL expired (last output before timeout follows): {last_output}")
}
