//! `Client`: one node's running estimate of its own coordinate, refined by each RTT it measures to a peer.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::adjustment::AdjustmentWindow;
use crate::latency_filter::LatencyFilter;
use crate::vector::ZERO_THRESHOLD;
use crate::{Config, Coordinate, CoordinateError};

/// Longest round-trip time accepted by [`Client::update`]; anything longer is surely a mistake.
pub const MAX_RTT: Duration = Duration::from_secs(10);

/// One node's coordinate estimator.
///
/// It owns the node's coordinate, the window of recent residuals behind the
/// adjustment term, a latency filter per peer, and the random generator used
/// to pick a direction when two coordinates coincide.
#[derive(Debug, Clone)]
pub struct Client {
    config: Config,
    coordinate: Coordinate,
    origin: Coordinate,
    adjustment_window: AdjustmentWindow,
    latency_filter: LatencyFilter,
    rng: StdRng,
}

impl Client {
    /// A client at the origin whose random directions are seeded from the operating system.
    pub fn new(config: Config) -> Result<Self, CoordinateError> {
        Self::with_rng(config, StdRng::from_entropy())
    }

    /// A client at the origin whose random directions follow `seed`, for reproducible runs.
    pub fn with_seed(config: Config, seed: u64) -> Result<Self, CoordinateError> {
        Self::with_rng(config, StdRng::seed_from_u64(seed))
    }

    fn with_rng(config: Config, rng: StdRng) -> Result<Self, CoordinateError> {
        config.validate()?;
        Ok(Self {
            coordinate: Coordinate::new(&config),
            origin: Coordinate::new(&config),
            adjustment_window: AdjustmentWindow::new(config.adjustment_window_size),
            latency_filter: LatencyFilter::new(config.latency_filter_size),
            config,
            rng,
        })
    }

    /// The node's current coordinate.
    pub fn coordinate(&self) -> &Coordinate {
        &self.coordinate
    }

    /// Replaces the node's coordinate, e.g. with one restored from storage.
    pub fn set_coordinate(&mut self, coordinate: Coordinate) -> Result<(), CoordinateError> {
        self.check(&coordinate)?;
        self.coordinate = coordinate;
        Ok(())
    }

    /// Folds in one measured round-trip time to `peer_name`, whose coordinate is `peer`,
    /// and returns the node's new coordinate.
    ///
    /// The RTT passes through the peer's latency filter; the filtered value then
    /// drives the Vivaldi step, the adjustment term, and finally gravity. Should
    /// the arithmetic ever produce a non-finite coordinate, the node starts over
    /// from a fresh one rather than spread it.
    pub fn update(
        &mut self,
        peer_name: &str,
        peer: &Coordinate,
        rtt: Duration,
    ) -> Result<Coordinate, CoordinateError> {
        self.check(peer)?;
        let rtt_seconds = rtt_in_seconds(rtt)?;
        let filtered_rtt = self.latency_filter.record(peer_name, rtt_seconds);
        self.apply_vivaldi_step(peer, filtered_rtt);
        self.apply_adjustment(peer, filtered_rtt);
        self.apply_gravity();
        if !self.coordinate.is_valid() {
            self.coordinate = Coordinate::new(&self.config);
        }
        Ok(self.coordinate.clone())
    }

    /// Forgets the latency samples of a peer that has left.
    pub fn forget_peer(&mut self, peer_name: &str) {
        self.latency_filter.forget(peer_name);
    }

    fn check(&self, coordinate: &Coordinate) -> Result<(), CoordinateError> {
        if !coordinate.is_compatible_with(&self.coordinate) {
            return Err(CoordinateError::DimensionalityMismatch {
                expected: self.coordinate.vec.len(),
                actual: coordinate.vec.len(),
            });
        }
        if !coordinate.is_valid() {
            return Err(CoordinateError::NonFinite);
        }
        Ok(())
    }

    /// Moves the coordinate along the line to `peer` to shrink the gap between
    /// estimate and `rtt`, and updates the error estimate.
    ///
    /// Both the step and the error's responsiveness are weighted by how much of
    /// the pair's combined error is ours: a confident node moves little towards
    /// an unsure one.
    fn apply_vivaldi_step(&mut self, peer: &Coordinate, rtt: f64) {
        let rtt = rtt.max(ZERO_THRESHOLD);
        let estimate = self.coordinate.distance_seconds(peer);
        let relative_error = (estimate - rtt).abs() / rtt;
        let combined_error = (self.coordinate.error + peer.error).max(ZERO_THRESHOLD);
        let weight = self.coordinate.error / combined_error;

        let error_gain = self.config.vivaldi_ce * weight;
        let blended_error =
            error_gain * relative_error + self.coordinate.error * (1.0 - error_gain);
        self.coordinate.error = blended_error.min(self.config.vivaldi_error_max);

        let force = self.config.vivaldi_cc * weight * (rtt - estimate);
        self.coordinate = self
            .coordinate
            .pushed_from(peer, force, &self.config, &mut self.rng);
    }

    /// Records how far the raw (unadjusted) estimate misses `rtt` and refreshes the adjustment term.
    fn apply_adjustment(&mut self, peer: &Coordinate, rtt: f64) {
        let residual = rtt - self.coordinate.raw_distance_seconds(peer);
        self.coordinate.adjustment = self.adjustment_window.record(residual);
    }

    /// Pulls the coordinate towards the origin, gently nearby and strongly far
    /// away, so the whole cluster does not drift off.
    fn apply_gravity(&mut self) {
        let distance = self.origin.distance_seconds(&self.coordinate);
        let force = -(distance / self.config.gravity_rho).powi(2);
        self.coordinate =
            self.coordinate
                .pushed_from(&self.origin, force, &self.config, &mut self.rng);
    }
}

fn rtt_in_seconds(rtt: Duration) -> Result<f64, CoordinateError> {
    if rtt.is_zero() || rtt > MAX_RTT {
        return Err(CoordinateError::RttOutOfRange { rtt });
    }
    Ok(rtt.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> Client {
        Client::with_seed(Config::default(), 42).unwrap()
    }

    fn peer_at(x: f64) -> Coordinate {
        let mut peer = Coordinate::new(&Config::default());
        peer.vec[0] = x;
        peer
    }

    #[test]
    fn starts_at_a_fresh_coordinate() {
        assert_eq!(client().coordinate(), &Coordinate::new(&Config::default()));
    }

    #[test]
    fn rejects_invalid_config() {
        let config = Config {
            dimensionality: 0,
            ..Config::default()
        };
        assert!(matches!(
            Client::new(config),
            Err(CoordinateError::InvalidConfig(_))
        ));
    }

    #[test]
    fn rejects_zero_and_absurd_rtts() {
        let mut client = client();
        let peer = peer_at(0.01);
        for rtt in [Duration::ZERO, MAX_RTT + Duration::from_nanos(1)] {
            assert_eq!(
                client.update("peer", &peer, rtt),
                Err(CoordinateError::RttOutOfRange { rtt })
            );
        }
        assert!(client.update("peer", &peer, MAX_RTT).is_ok());
    }

    #[test]
    fn rejects_non_finite_peer_coordinates() {
        let mut client = client();
        let mut peer = peer_at(0.01);
        peer.height = f64::NAN;
        assert_eq!(
            client.update("peer", &peer, Duration::from_millis(5)),
            Err(CoordinateError::NonFinite)
        );
        assert_eq!(client.coordinate(), &Coordinate::new(&Config::default()));
    }

    #[test]
    fn rejects_peers_of_other_dimensionality() {
        let mut client = client();
        let peer = Coordinate::new(&Config {
            dimensionality: 3,
            ..Config::default()
        });
        assert_eq!(
            client.update("peer", &peer, Duration::from_millis(5)),
            Err(CoordinateError::DimensionalityMismatch {
                expected: 8,
                actual: 3
            })
        );
    }

    #[test]
    fn set_coordinate_checks_dimensionality_and_validity() {
        let mut client = client();
        let mut too_short = peer_at(0.0);
        too_short.vec.pop();
        assert_eq!(
            client.set_coordinate(too_short),
            Err(CoordinateError::DimensionalityMismatch {
                expected: 8,
                actual: 7
            })
        );
        let mut broken = peer_at(0.0);
        broken.vec[3] = f64::INFINITY;
        assert_eq!(
            client.set_coordinate(broken),
            Err(CoordinateError::NonFinite)
        );

        let restored = peer_at(0.25);
        client.set_coordinate(restored.clone()).unwrap();
        assert_eq!(client.coordinate(), &restored);
    }

    #[test]
    fn an_update_moves_towards_the_measured_distance() {
        let mut client = client();
        let peer = Coordinate::new(&Config::default());
        let rtt = Duration::from_millis(10);
        let before = client.coordinate().distance_to(&peer);
        let after = client
            .update("peer", &peer, rtt)
            .unwrap()
            .distance_to(&peer);
        assert!(before < after && after <= rtt, "{before:?} -> {after:?}");
    }

    #[test]
    fn update_uses_the_filtered_rtt() {
        let peer = peer_at(0.0);
        let steady = Duration::from_millis(20);
        let mut spiked = client();
        let mut calm = client();
        for rtt in [steady, steady, Duration::from_secs(5)] {
            spiked.update("peer", &peer, rtt).unwrap();
        }
        for rtt in [steady, steady, steady] {
            calm.update("peer", &peer, rtt).unwrap();
        }
        // The median of [20ms, 20ms, 5s] is 20ms, so the spike changes nothing.
        assert_eq!(spiked.coordinate(), calm.coordinate());
    }

    #[test]
    fn forgotten_peer_loses_its_filter_history() {
        let peer = peer_at(0.0);
        let slow = Duration::from_millis(900);
        let fast = Duration::from_millis(30);

        let mut remembering = client();
        remembering.update("peer", &peer, slow).unwrap();
        let remembered = remembering.update("peer", &peer, fast).unwrap();

        let mut forgetting = client();
        forgetting.update("peer", &peer, slow).unwrap();
        forgetting.forget_peer("peer");
        let forgotten = forgetting.update("peer", &peer, fast).unwrap();

        // A peer never seen before sees its first RTT unfiltered.
        let mut reference = client();
        reference.update("someone else", &peer, slow).unwrap();
        let unfiltered = reference.update("peer", &peer, fast).unwrap();

        assert_eq!(forgotten, unfiltered);
        assert_ne!(forgotten, remembered);
    }

    #[test]
    fn absurd_but_finite_peers_never_leave_an_invalid_coordinate() {
        let mut client = client();
        let peer = peer_at(1e300);
        let updated = client
            .update("peer", &peer, Duration::from_millis(5))
            .unwrap();
        assert!(updated.is_valid());
    }
}
