//! Per-peer latency filter: the median of each peer's last few round-trip times, to shrug off outliers.

use std::collections::{HashMap, VecDeque};

/// Keeps the most recent round-trip times (seconds) of every peer.
#[derive(Debug, Clone)]
pub(crate) struct LatencyFilter {
    samples_per_peer: usize,
    samples: HashMap<String, VecDeque<f64>>,
}

impl LatencyFilter {
    /// A filter remembering `samples_per_peer` (at least 1) round-trip times per peer.
    pub(crate) fn new(samples_per_peer: usize) -> Self {
        Self {
            samples_per_peer,
            samples: HashMap::new(),
        }
    }

    /// Records `rtt` for `peer` and returns the median of that peer's recent samples.
    pub(crate) fn record(&mut self, peer: &str, rtt: f64) -> f64 {
        let recent = self.samples.entry(peer.to_owned()).or_default();
        recent.push_back(rtt);
        while recent.len() > self.samples_per_peer {
            recent.pop_front();
        }
        median(recent)
    }

    /// Drops everything remembered about `peer`.
    pub(crate) fn forget(&mut self, peer: &str) {
        self.samples.remove(peer);
    }
}

/// Middle value of a non-empty set; the upper of the two middles when the count is even.
fn median(samples: &VecDeque<f64>) -> f64 {
    let mut sorted: Vec<f64> = samples.iter().copied().collect();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_median_of_last_samples() {
        let mut filter = LatencyFilter::new(3);
        assert_eq!(filter.record("a", 0.010), 0.010);
        assert_eq!(filter.record("a", 0.050), 0.050);
        assert_eq!(filter.record("a", 0.020), 0.020);
        // A single spike does not move the estimate.
        assert_eq!(filter.record("a", 0.900), 0.050);
        // Oldest sample (0.010) has been dropped: window is [0.020, 0.900, 0.030].
        assert_eq!(filter.record("a", 0.030), 0.030);
    }

    #[test]
    fn peers_are_filtered_independently() {
        let mut filter = LatencyFilter::new(3);
        filter.record("a", 0.100);
        filter.record("a", 0.100);
        assert_eq!(filter.record("b", 0.005), 0.005);
        assert_eq!(filter.record("a", 0.001), 0.100);
    }

    #[test]
    fn forgetting_a_peer_starts_it_afresh() {
        let mut filter = LatencyFilter::new(3);
        filter.record("a", 0.100);
        filter.record("a", 0.100);
        filter.forget("a");
        assert_eq!(filter.record("a", 0.001), 0.001);
    }
}
