//! The `Coordinate` type: a point in Vivaldi space with height and adjustment, and the distance between two.

use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::vector::{self, ZERO_THRESHOLD};
use crate::Config;

/// One node's estimated position, serialized with Consul's field names.
///
/// All quantities are in seconds of round-trip time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Coordinate {
    /// Position in the Euclidean part of the space.
    pub vec: Vec<f64>,
    /// Confidence in the position: near 0 is confident, `vivaldi_error_max` is none.
    pub error: f64,
    /// Correction added to every distance for error the Euclidean model cannot express.
    pub adjustment: f64,
    /// Latency between the node and the Euclidean "core", such as its access link.
    pub height: f64,
}

impl Coordinate {
    /// A coordinate at the origin with no confidence, as a node starts.
    pub fn new(config: &Config) -> Self {
        Self {
            vec: vec![0.0; config.dimensionality],
            error: config.vivaldi_error_max,
            adjustment: 0.0,
            height: config.height_min,
        }
    }

    /// True when every component is a finite number.
    pub fn is_valid(&self) -> bool {
        self.vec.iter().all(|x| x.is_finite())
            && self.error.is_finite()
            && self.adjustment.is_finite()
            && self.height.is_finite()
    }

    /// True when both coordinates have the same dimensionality.
    pub fn is_compatible_with(&self, other: &Coordinate) -> bool {
        self.vec.len() == other.vec.len()
    }

    /// Estimated round-trip time to `other`.
    ///
    /// That is the Euclidean distance plus both heights, plus both adjustments
    /// when adding them keeps the result positive. Coordinates that are
    /// incompatible, or whose distance is not a finite number, are infinitely
    /// far apart: the result is [`Duration::MAX`].
    pub fn distance_to(&self, other: &Coordinate) -> Duration {
        if !self.is_compatible_with(other) {
            return Duration::MAX;
        }
        seconds_to_duration(self.distance_seconds(other))
    }

    /// Estimated round-trip time to `other` in seconds, adjustments included.
    pub(crate) fn distance_seconds(&self, other: &Coordinate) -> f64 {
        let raw = self.raw_distance_seconds(other);
        let adjusted = raw + self.adjustment + other.adjustment;
        if adjusted > 0.0 {
            adjusted
        } else {
            raw
        }
    }

    /// Euclidean distance plus both heights, in seconds, without adjustments.
    pub(crate) fn raw_distance_seconds(&self, other: &Coordinate) -> f64 {
        vector::magnitude(&vector::difference(&self.vec, &other.vec)) + self.height + other.height
    }

    /// This coordinate moved `force` seconds away from `other` (towards it when negative).
    ///
    /// The height grows or shrinks in proportion to the share of the distance it
    /// accounts for, and never drops below `config.height_min`.
    pub(crate) fn pushed_from(
        &self,
        other: &Coordinate,
        force: f64,
        config: &Config,
        rng: &mut impl Rng,
    ) -> Coordinate {
        let (direction, distance) = vector::unit_vector_away(&self.vec, &other.vec, rng);
        let height = if distance > ZERO_THRESHOLD {
            let pushed = self.height + (self.height + other.height) * force / distance;
            pushed.max(config.height_min)
        } else {
            self.height
        };
        Coordinate {
            vec: vector::add_scaled(&self.vec, &direction, force),
            height,
            ..self.clone()
        }
    }
}

/// Seconds as a `Duration`: negatives become zero, NaN and overflow become `Duration::MAX`.
fn seconds_to_duration(seconds: f64) -> Duration {
    if seconds.is_nan() {
        return Duration::MAX;
    }
    Duration::try_from_secs_f64(seconds.max(0.0)).unwrap_or(Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    fn at(vec: Vec<f64>, height: f64, adjustment: f64) -> Coordinate {
        Coordinate {
            vec,
            error: 0.5,
            adjustment,
            height,
        }
    }

    fn with_error(coordinate: Coordinate, error: f64) -> Coordinate {
        Coordinate {
            error,
            ..coordinate
        }
    }

    #[test]
    fn fresh_coordinate_serializes_with_consul_field_names() {
        let config = Config {
            dimensionality: 2,
            ..Config::default()
        };
        let json = serde_json::to_string(&Coordinate::new(&config)).unwrap();
        assert_eq!(
            json,
            r#"{"Vec":[0.0,0.0],"Error":1.5,"Adjustment":0.0,"Height":0.00001}"#
        );
    }

    #[test]
    fn fresh_default_coordinate_has_serf_values() {
        let value = serde_json::to_value(Coordinate::new(&Config::default())).unwrap();
        let object = value.as_object().unwrap();
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["Adjustment", "Error", "Height", "Vec"]);
        let vec = object["Vec"].as_array().unwrap();
        assert_eq!(vec.len(), 8);
        assert!(vec.iter().all(|x| x.as_f64() == Some(0.0)));
        assert_eq!(object["Error"].as_f64(), Some(1.5));
        assert_eq!(object["Adjustment"].as_f64(), Some(0.0));
        assert_eq!(object["Height"].as_f64(), Some(1e-5));
    }

    #[test]
    fn parses_consul_json_with_integer_zeros() {
        let json = r#"{"Vec":[0,0.5],"Error":1.5,"Adjustment":0,"Height":1e-05}"#;
        let parsed: Coordinate = serde_json::from_str(json).unwrap();
        assert_eq!(parsed, with_error(at(vec![0.0, 0.5], 1e-5, 0.0), 1.5));
    }

    #[test]
    fn distance_is_euclidean_plus_heights() {
        let a = at(vec![0.0, 0.0], 0.001, 0.0);
        let b = at(vec![0.003, 0.004], 0.002, 0.0);
        assert_eq!(a.distance_to(&b), Duration::from_millis(8));
        assert_eq!(b.distance_to(&a), Duration::from_millis(8));
    }

    #[test]
    fn distance_includes_adjustments_while_positive() {
        let a = at(vec![0.0], 0.0, 0.002);
        let b = at(vec![0.010], 0.0, -0.001);
        assert_eq!(a.distance_to(&b), Duration::from_millis(11));
    }

    #[test]
    fn distance_ignores_adjustments_that_would_make_it_negative() {
        let a = at(vec![0.0], 0.0, -0.008);
        let b = at(vec![0.005], 0.0, -0.002);
        assert_eq!(a.distance_to(&b), Duration::from_millis(5));
    }

    #[test]
    fn incompatible_or_invalid_coordinates_are_infinitely_far() {
        let a = at(vec![0.0, 0.0], 0.0, 0.0);
        let b = at(vec![0.0], 0.0, 0.0);
        let broken = at(vec![f64::NAN, 0.0], 0.0, 0.0);
        assert_eq!(a.distance_to(&b), Duration::MAX);
        assert_eq!(a.distance_to(&broken), Duration::MAX);
    }

    #[test]
    fn validity_requires_every_component_finite() {
        let good = at(vec![1.0, 2.0], 0.1, 0.0);
        assert!(good.is_valid());
        for broken in [
            at(vec![1.0, f64::INFINITY], 0.1, 0.0),
            at(vec![1.0, 2.0], f64::NAN, 0.0),
            at(vec![1.0, 2.0], 0.1, f64::NEG_INFINITY),
            with_error(good.clone(), f64::NAN),
        ] {
            assert!(!broken.is_valid(), "{broken:?}");
        }
    }

    #[test]
    fn compatibility_is_same_dimensionality() {
        let two = at(vec![1.0, 2.0], 0.0, 0.0);
        assert!(two.is_compatible_with(&at(vec![5.0, 6.0], 0.0, 0.0)));
        assert!(!two.is_compatible_with(&at(vec![5.0], 0.0, 0.0)));
    }

    #[test]
    fn push_moves_away_and_scales_height() {
        let config = Config::default();
        let mut rng = StdRng::seed_from_u64(7);
        let me = at(vec![0.010, 0.0], 0.001, 0.0);
        let peer = at(vec![0.0, 0.0], 0.001, 0.0);
        let pushed = me.pushed_from(&peer, 0.005, &config, &mut rng);
        assert!((pushed.vec[0] - 0.015).abs() < 1e-12);
        assert_eq!(pushed.vec[1], 0.0);
        // Height grows by (0.001 + 0.001) * 0.005 / 0.010.
        assert!((pushed.height - 0.002).abs() < 1e-12);
    }

    #[test]
    fn pull_never_drops_height_below_minimum() {
        let config = Config::default();
        let mut rng = StdRng::seed_from_u64(7);
        let me = at(vec![0.010], 0.001, 0.0);
        let peer = at(vec![0.0], 0.001, 0.0);
        let pulled = me.pushed_from(&peer, -0.009, &config, &mut rng);
        assert!((pulled.vec[0] - 0.001).abs() < 1e-12);
        assert_eq!(pulled.height, config.height_min);
    }

    #[test]
    fn push_from_same_point_moves_in_some_direction_keeping_height() {
        let config = Config::default();
        let mut rng = StdRng::seed_from_u64(7);
        let me = Coordinate::new(&config);
        let pushed = me.pushed_from(&me, 0.004, &config, &mut rng);
        let moved = vector::magnitude(&pushed.vec);
        assert!((moved - 0.004).abs() < 1e-12);
        assert_eq!(pushed.height, me.height);
    }
}
