//! Tuning knobs of the Vivaldi estimator, with Serf's defaults, and their sanity check.

use crate::CoordinateError;

/// Parameters of the coordinate estimator. All durations are in seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Number of Euclidean dimensions in a coordinate's vector.
    pub dimensionality: usize,
    /// Ceiling of, and starting value for, a coordinate's error estimate.
    pub vivaldi_error_max: f64,
    /// How quickly the error estimate follows new observations (Vivaldi's `ce`).
    pub vivaldi_ce: f64,
    /// How far one observation moves the coordinate (Vivaldi's `cc`).
    pub vivaldi_cc: f64,
    /// Number of recent residuals averaged into the adjustment term; 0 disables it.
    pub adjustment_window_size: usize,
    /// Smallest height a coordinate may have, in seconds.
    pub height_min: f64,
    /// Number of recent round-trip times per peer whose median is used.
    pub latency_filter_size: usize,
    /// Distance (seconds) from the origin at which gravity starts to matter strongly.
    pub gravity_rho: f64,
}

impl Default for Config {
    /// Serf's defaults.
    fn default() -> Self {
        Self {
            dimensionality: 8,
            vivaldi_error_max: 1.5,
            vivaldi_ce: 0.25,
            vivaldi_cc: 0.25,
            adjustment_window_size: 20,
            height_min: 10.0e-6,
            latency_filter_size: 3,
            gravity_rho: 150.0,
        }
    }
}

impl Config {
    /// Checks that every value lets the estimator run without dividing by zero or diverging.
    pub fn validate(&self) -> Result<(), CoordinateError> {
        let rules = [
            (
                self.dimensionality >= 1,
                "dimensionality must be at least 1",
            ),
            (
                self.latency_filter_size >= 1,
                "latency_filter_size must be at least 1",
            ),
            (
                is_positive(self.vivaldi_error_max),
                "vivaldi_error_max must be finite and positive",
            ),
            (
                is_fraction(self.vivaldi_ce),
                "vivaldi_ce must be within (0, 1]",
            ),
            (
                is_fraction(self.vivaldi_cc),
                "vivaldi_cc must be within (0, 1]",
            ),
            (
                self.height_min.is_finite() && self.height_min >= 0.0,
                "height_min must be finite and not negative",
            ),
            (
                is_positive(self.gravity_rho),
                "gravity_rho must be finite and positive",
            ),
        ];
        match rules.into_iter().find(|(holds, _)| !holds) {
            Some((_, reason)) => Err(CoordinateError::InvalidConfig(reason)),
            None => Ok(()),
        }
    }
}

fn is_positive(value: f64) -> bool {
    value.is_finite() && value > 0.0
}

fn is_fraction(value: f64) -> bool {
    value > 0.0 && value <= 1.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_serf() {
        let config = Config::default();
        assert_eq!(config.dimensionality, 8);
        assert_eq!(config.vivaldi_error_max, 1.5);
        assert_eq!(config.vivaldi_ce, 0.25);
        assert_eq!(config.vivaldi_cc, 0.25);
        assert_eq!(config.adjustment_window_size, 20);
        assert_eq!(config.height_min, 10e-6);
        assert_eq!(config.latency_filter_size, 3);
        assert_eq!(config.gravity_rho, 150.0);
        assert_eq!(config.validate(), Ok(()));
    }

    #[test]
    fn rejects_values_that_break_the_algorithm() {
        let broken = [
            Config {
                dimensionality: 0,
                ..Config::default()
            },
            Config {
                latency_filter_size: 0,
                ..Config::default()
            },
            Config {
                gravity_rho: 0.0,
                ..Config::default()
            },
            Config {
                vivaldi_cc: f64::NAN,
                ..Config::default()
            },
            Config {
                height_min: -1.0,
                ..Config::default()
            },
        ];
        for config in broken {
            assert!(
                matches!(config.validate(), Err(CoordinateError::InvalidConfig(_))),
                "{config:?} should be rejected"
            );
        }
    }

    #[test]
    fn zero_adjustment_window_is_allowed() {
        let config = Config {
            adjustment_window_size: 0,
            ..Config::default()
        };
        assert_eq!(config.validate(), Ok(()));
    }
}
