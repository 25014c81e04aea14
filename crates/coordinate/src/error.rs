//! The one error type every fallible operation in this crate returns.

use std::time::Duration;

use crate::MAX_RTT;

/// Why a coordinate, a round-trip time or a configuration was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CoordinateError {
    /// The coordinate's vector length differs from the configured dimensionality.
    #[error("coordinate has {actual} dimensions but {expected} were expected")]
    DimensionalityMismatch { expected: usize, actual: usize },

    /// Some component of the coordinate is NaN or infinite.
    #[error("coordinate has a component that is NaN or infinite")]
    NonFinite,

    /// The round-trip time is zero or longer than [`MAX_RTT`].
    #[error("round-trip time {rtt:?} is not within (0, {MAX_RTT:?}]")]
    RttOutOfRange { rtt: Duration },

    /// A [`Config`](crate::Config) value would make the algorithm misbehave.
    #[error("invalid coordinate config: {0}")]
    InvalidConfig(&'static str),
}
