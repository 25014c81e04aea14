//! Latency recording in HDR histograms (microsecond resolution) and their percentile summaries.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::error::{BenchError, Result};

/// Highest trackable latency: 10 minutes, in microseconds.
const MAX_MICROS: u64 = 600_000_000;

/// A latency histogram in microseconds.
pub struct Latencies(Histogram<u64>);

impl Latencies {
    /// An empty histogram with three significant digits.
    pub fn new() -> Result<Self> {
        Histogram::new_with_bounds(1, MAX_MICROS, 3)
            .map(Self)
            .map_err(|e| BenchError::Histogram(e.to_string()))
    }

    /// Records one sample, clamped into the trackable range.
    pub fn record(&mut self, elapsed: Duration) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(MAX_MICROS);
        self.0.saturating_record(micros.clamp(1, MAX_MICROS));
    }

    /// Adds every sample of `other`.
    pub fn merge(&mut self, other: &Latencies) -> Result<()> {
        self.0
            .add(&other.0)
            .map_err(|e| BenchError::Histogram(e.to_string()))
    }

    /// Percentile summary (all zero when empty).
    pub fn summary(&self) -> LatencySummary {
        let h = &self.0;
        if h.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            count: h.len(),
            min_us: h.min(),
            p50_us: h.value_at_quantile(0.50),
            p90_us: h.value_at_quantile(0.90),
            p99_us: h.value_at_quantile(0.99),
            max_us: h.max(),
            mean_us: h.mean(),
        }
    }
}

/// Percentiles of one latency distribution, in microseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    pub count: u64,
    pub min_us: u64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    pub mean_us: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarises_and_merges() {
        let mut a = Latencies::new().unwrap();
        let mut b = Latencies::new().unwrap();
        for ms in 1..=99 {
            a.record(Duration::from_millis(ms));
        }
        b.record(Duration::from_secs(2));
        a.merge(&b).unwrap();
        let s = a.summary();
        assert_eq!(s.count, 100);
        assert!((49_000..=51_000).contains(&s.p50_us), "{s:?}");
        assert!(s.max_us >= 1_999_000, "{s:?}");
        assert_eq!(
            Latencies::new().unwrap().summary(),
            LatencySummary::default()
        );
    }
}
