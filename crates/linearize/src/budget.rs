//! How much effort a check may spend before it gives up with an inconclusive answer.

use std::time::{Duration, Instant};

/// Limits for one phase of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Wall-clock limit for the whole phase (all partitions together).
    pub time_limit: Option<Duration>,
    /// Limit on search steps for each single search (one partition, or one shrink attempt).
    pub max_steps: Option<u64>,
}

impl Budget {
    /// No limit at all: a pathological history may then run for a very long time.
    pub const UNLIMITED: Self = Self {
        time_limit: None,
        max_steps: None,
    };

    pub fn with_time_limit(self, limit: Duration) -> Self {
        Self {
            time_limit: Some(limit),
            ..self
        }
    }

    pub fn with_max_steps(self, steps: u64) -> Self {
        Self {
            max_steps: Some(steps),
            ..self
        }
    }
}

/// Everything that tunes a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOptions {
    /// Budget for searching every partition; running out yields `CheckResult::Unknown`.
    pub search: Budget,
    /// Budget for shrinking a counterexample; running out yields a larger counterexample.
    pub shrink: Budget,
    /// How many partitions to search at once.
    pub threads: usize,
}

impl Default for CheckOptions {
    /// One minute of search, ten seconds of shrinking, one thread per core.
    fn default() -> Self {
        Self {
            search: Budget::UNLIMITED.with_time_limit(Duration::from_secs(60)),
            shrink: Budget::UNLIMITED
                .with_time_limit(Duration::from_secs(10))
                .with_max_steps(1_000_000),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// A moment after which a phase must stop, or none.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline(Option<Instant>);

impl Deadline {
    pub(crate) fn after(limit: Option<Duration>) -> Self {
        Self(limit.and_then(|limit| Instant::now().checked_add(limit)))
    }

    pub(crate) fn has_passed(&self) -> bool {
        self.0.is_some_and(|deadline| Instant::now() >= deadline)
    }
}

/// Counts the steps of one search and says when it must stop.
#[derive(Debug)]
pub(crate) struct StepMeter {
    steps: u64,
    max_steps: Option<u64>,
    deadline: Deadline,
}

impl StepMeter {
    /// Reading the clock every step would dominate cheap models, so only every this many.
    const CLOCK_INTERVAL: u64 = 1024;

    pub(crate) fn new(max_steps: Option<u64>, deadline: Deadline) -> Self {
        Self {
            steps: 0,
            max_steps,
            deadline,
        }
    }

    /// Counts one step; `false` once the budget is spent.
    pub(crate) fn tick(&mut self) -> bool {
        self.steps += 1;
        if self.max_steps.is_some_and(|max| self.steps > max) {
            return false;
        }
        !(self.steps.is_multiple_of(Self::CLOCK_INTERVAL) && self.deadline.has_passed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meter_stops_after_max_steps() {
        let mut meter = StepMeter::new(Some(3), Deadline::after(None));
        assert!(meter.tick() && meter.tick() && meter.tick());
        assert!(!meter.tick());
    }

    #[test]
    fn meter_stops_once_deadline_passed() {
        let mut meter = StepMeter::new(None, Deadline::after(Some(Duration::ZERO)));
        let stopped_within = (0..2 * StepMeter::CLOCK_INTERVAL).position(|_| !meter.tick());
        assert!(stopped_within.is_some());
    }

    #[test]
    fn unlimited_meter_keeps_going() {
        let mut meter = StepMeter::new(None, Deadline::after(None));
        assert!((0..10_000).all(|_| meter.tick()));
    }
}
