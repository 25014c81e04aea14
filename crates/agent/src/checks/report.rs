//! Turns one check's results into sink updates: applies the success/failure thresholds, passes on only
//! changes (the first result always), and remembers since when the check has been critical.

use super::runner::StatusSink;
use super::spec::{CheckSpec, Thresholds};
use senate_types::catalog::CheckStatus;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

pub(crate) struct Reporter {
    check_id: String,
    sink: Arc<dyn StatusSink>,
    thresholds: Thresholds,
    state: Mutex<ReportState>,
    silenced: AtomicBool,
}

struct ReportState {
    last_reported: Option<(CheckStatus, String)>,
    critical_since: Option<Instant>,
    successes: u32,
    failures: u32,
}

impl Reporter {
    pub(crate) fn new(spec: &CheckSpec, sink: Arc<dyn StatusSink>) -> Self {
        let thresholds = spec.thresholds;
        Reporter {
            check_id: spec.id.clone(),
            sink,
            thresholds,
            state: Mutex::new(ReportState {
                last_reported: None,
                critical_since: (spec.initial_status == CheckStatus::Critical).then(Instant::now),
                // Starting at the thresholds lets the very first result through, as Consul does.
                successes: thresholds.success_before_passing,
                failures: thresholds.failures_before_critical,
            }),
            silenced: AtomicBool::new(false),
        }
    }

    /// Records a status set directly (a TTL update or expiry), bypassing the thresholds.
    pub(crate) fn set(&self, status: CheckStatus, output: String) {
        let mut state = self.lock();
        self.apply(&mut state, status, output);
    }

    /// Records a probe's result, which changes the status only once its threshold is reached.
    pub(crate) fn probe_result(&self, status: CheckStatus, output: String) {
        let mut state = self.lock();
        if let Some(status) = self.thresholded(&mut state, status) {
            self.apply(&mut state, status, output);
        }
    }

    /// Stops all further sink updates, once the check is stopped or replaced. Takes no lock, so a sink
    /// may stop the check it is being told about.
    pub(crate) fn silence(&self) {
        self.silenced.store(true, Ordering::SeqCst);
    }

    /// When the check last turned critical, if it is critical now.
    pub(crate) fn critical_since(&self) -> Option<Instant> {
        self.lock().critical_since
    }

    /// The status to report for a probe result, or `None` while a threshold holds it back.
    fn thresholded(&self, state: &mut ReportState, status: CheckStatus) -> Option<CheckStatus> {
        let limits = self.thresholds;
        if status == CheckStatus::Critical {
            state.successes = 0;
            state.failures = state.failures.saturating_add(1);
            if state.failures >= limits.failures_before_critical {
                return Some(CheckStatus::Critical);
            }
            return (state.failures >= limits.failures_before_warning)
                .then_some(CheckStatus::Warning);
        }
        state.failures = 0;
        state.successes = state.successes.saturating_add(1);
        (state.successes >= limits.success_before_passing).then_some(status)
    }

    /// Takes on a status, telling the sink when status or output differ from what it was last told.
    /// The sink is called under the lock so that its updates for one check arrive in order.
    fn apply(&self, state: &mut ReportState, status: CheckStatus, output: String) {
        if status != CheckStatus::Critical {
            state.critical_since = None;
        } else if state.critical_since.is_none() {
            state.critical_since = Some(Instant::now());
        }
        let changed = state
            .last_reported
            .as_ref()
            .is_none_or(|(last_status, last_output)| {
                *last_status != status || *last_output != output
            });
        if changed && !self.silenced.load(Ordering::SeqCst) {
            self.sink.check_updated(&self.check_id, status, &output);
            state.last_reported = Some((status, output));
        }
    }

    fn lock(&self) -> MutexGuard<'_, ReportState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::spec::CheckKind;
    use std::time::Duration;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<(CheckStatus, String)>>);

    impl StatusSink for Recorder {
        fn check_updated(&self, _check_id: &str, status: CheckStatus, output: &str) {
            self.0.lock().unwrap().push((status, output.to_string()));
        }
    }

    fn reporter(thresholds: Thresholds) -> (Reporter, Arc<Recorder>) {
        let recorder = Arc::new(Recorder::default());
        let spec = CheckSpec {
            id: "c".into(),
            name: "c".into(),
            notes: String::new(),
            service_id: None,
            initial_status: CheckStatus::Critical,
            kind: CheckKind::Ttl {
                ttl: Duration::from_secs(1),
            },
            deregister_critical_after: None,
            output_max_size: 4096,
            thresholds,
        };
        (Reporter::new(&spec, recorder.clone()), recorder)
    }

    fn statuses(recorder: &Recorder) -> Vec<CheckStatus> {
        recorder
            .0
            .lock()
            .unwrap()
            .iter()
            .map(|(status, _)| *status)
            .collect()
    }

    #[test]
    fn reports_changes_only() {
        let (reporter, recorder) = reporter(Thresholds::default());
        reporter.probe_result(CheckStatus::Passing, "a".into());
        reporter.probe_result(CheckStatus::Passing, "a".into());
        reporter.probe_result(CheckStatus::Passing, "b".into());
        reporter.set(CheckStatus::Passing, "b".into());
        assert_eq!(recorder.0.lock().unwrap().len(), 2);
    }

    #[test]
    fn thresholds_hold_back_status_changes() {
        let (reporter, recorder) = reporter(Thresholds {
            success_before_passing: 2,
            failures_before_warning: 1,
            failures_before_critical: 3,
        });
        // The first result always goes through.
        reporter.probe_result(CheckStatus::Passing, String::new());
        reporter.probe_result(CheckStatus::Critical, "down".into());
        reporter.probe_result(CheckStatus::Critical, "down".into());
        reporter.probe_result(CheckStatus::Critical, "down".into());
        reporter.probe_result(CheckStatus::Passing, String::new());
        reporter.probe_result(CheckStatus::Passing, String::new());
        assert_eq!(
            statuses(&recorder),
            vec![
                CheckStatus::Passing,
                CheckStatus::Warning,
                CheckStatus::Critical,
                CheckStatus::Passing
            ]
        );
    }

    #[test]
    fn tracks_critical_since_and_silences() {
        let (reporter, recorder) = reporter(Thresholds::default());
        let since = reporter.critical_since().expect("starts critical");
        reporter.set(CheckStatus::Critical, "still".into());
        assert_eq!(reporter.critical_since(), Some(since));
        reporter.set(CheckStatus::Passing, String::new());
        assert_eq!(reporter.critical_since(), None);
        reporter.silence();
        reporter.set(CheckStatus::Warning, String::new());
        assert_eq!(
            statuses(&recorder),
            vec![CheckStatus::Critical, CheckStatus::Passing]
        );
    }
}
