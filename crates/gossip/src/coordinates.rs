//! This node's network coordinate and the last coordinate each peer reported: the Vivaldi
//! estimator that round-trip times refine, shared by the prober (which measures) and the
//! handles (which read).

use senate_coordinate::{Client, Config, Coordinate, CoordinateError};
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

pub(crate) struct Coordinates {
    state: Mutex<State>,
}

struct State {
    client: Client,
    peers: BTreeMap<String, Coordinate>,
}

impl Coordinates {
    /// A node at the origin with Serf's settings, knowing no peer.
    pub(crate) fn new() -> Result<Coordinates, CoordinateError> {
        Ok(Coordinates {
            state: Mutex::new(State {
                client: Client::new(Config::default())?,
                peers: BTreeMap::new(),
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// This node's current estimate.
    pub(crate) fn current(&self) -> Coordinate {
        self.lock().client.coordinate().clone()
    }

    /// The last coordinate each peer reported, by node name.
    pub(crate) fn peers(&self) -> BTreeMap<String, Coordinate> {
        self.lock().peers.clone()
    }

    /// Folds in an RTT of `rtt` to `peer`, which reported `coordinate`, and remembers it.
    pub(crate) fn observe(
        &self,
        peer: &str,
        coordinate: Coordinate,
        rtt: Duration,
    ) -> Result<(), CoordinateError> {
        let mut state = self.lock();
        state.client.update(peer, &coordinate, rtt)?;
        state.peers.insert(peer.to_string(), coordinate);
        Ok(())
    }

    /// Remembers what `peer` reported without a measurement; one this node could not use (of
    /// another dimensionality, or not finite) is refused.
    pub(crate) fn record(&self, peer: &str, coordinate: Coordinate) -> Result<(), CoordinateError> {
        let mut state = self.lock();
        let ours = state.client.coordinate();
        if !coordinate.is_compatible_with(ours) {
            return Err(CoordinateError::DimensionalityMismatch {
                expected: ours.vec.len(),
                actual: coordinate.vec.len(),
            });
        }
        if !coordinate.is_valid() {
            return Err(CoordinateError::NonFinite);
        }
        state.peers.insert(peer.to_string(), coordinate);
        Ok(())
    }

    /// Forgets the peers `known` rejects (members no longer listed), samples included.
    pub(crate) fn retain(&self, known: impl Fn(&str) -> bool) {
        let mut state = self.lock();
        let State { client, peers } = &mut *state;
        peers.retain(|name, _| {
            let keep = known(name);
            if !keep {
                client.forget_peer(name);
            }
            keep
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(x: f64) -> Coordinate {
        let mut coordinate = Coordinate::new(&Config::default());
        coordinate.vec[0] = x;
        coordinate
    }

    #[test]
    fn measurements_move_the_estimate_and_remember_the_peer() {
        let coordinates = Coordinates::new().expect("valid defaults");
        let fresh = coordinates.current();
        coordinates
            .observe("b", at(0.001), Duration::from_millis(2))
            .expect("updates");
        let moved = coordinates.current();
        assert!(moved.error < fresh.error, "{moved:?}");
        assert_eq!(coordinates.peers()["b"], at(0.001));
        assert!(coordinates.observe("c", at(0.0), Duration::ZERO).is_err());
        assert!(!coordinates.peers().contains_key("c"), "refused: not kept");
    }

    #[test]
    fn unusable_reports_are_refused() {
        let coordinates = Coordinates::new().expect("valid defaults");
        let mut short = at(0.0);
        short.vec.pop();
        assert!(coordinates.record("b", short).is_err());
        assert!(coordinates.record("b", at(f64::NAN)).is_err());
        assert!(coordinates.peers().is_empty());
        coordinates.record("b", at(0.5)).expect("recorded");
        assert_eq!(coordinates.peers()["b"], at(0.5));
        assert_eq!(coordinates.current(), Coordinate::new(&Config::default()));
    }

    #[test]
    fn forgotten_peers_are_dropped() {
        let coordinates = Coordinates::new().expect("valid defaults");
        coordinates.record("b", at(0.1)).expect("recorded");
        coordinates.record("c", at(0.2)).expect("recorded");
        coordinates.retain(|name| name == "c");
        let names: Vec<String> = coordinates.peers().into_keys().collect();
        assert_eq!(names, ["c"]);
    }
}
