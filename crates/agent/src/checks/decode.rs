//! Lenient field decoding for check definitions, as Go's decoder is: durations given as Go duration
//! strings or as nanosecond numbers, and `null` accepted wherever a value may be left out.

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::fmt;
use std::time::Duration;

/// A duration as written in a definition, read later so that a bad one can be reported with its field name.
#[derive(Clone, Debug, PartialEq)]
pub enum DurationValue {
    /// A Go duration string such as `"10s"` or `"1m30s"`.
    Text(String),
    /// A number of nanoseconds, as Go's `time.Duration` marshals.
    Nanos(f64),
}

impl DurationValue {
    /// The duration meant; an empty string or a negative number reads as zero, which callers treat as unset.
    pub fn to_duration(&self) -> Result<Duration, senate_types::duration::DurationError> {
        match self {
            DurationValue::Text(text) if text.trim().is_empty() => Ok(Duration::ZERO),
            DurationValue::Text(text) => senate_types::duration::parse(text),
            DurationValue::Nanos(nanos) if *nanos > 0.0 => Ok(Duration::from_nanos(*nanos as u64)),
            DurationValue::Nanos(_) => Ok(Duration::ZERO),
        }
    }
}

impl<'de> Deserialize<'de> for DurationValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DurationVisitor)
    }
}

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = DurationValue;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a duration string such as \"10s\" or a number of nanoseconds")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<DurationValue, E> {
        Ok(DurationValue::Text(text.to_string()))
    }

    fn visit_u64<E: de::Error>(self, nanos: u64) -> Result<DurationValue, E> {
        Ok(DurationValue::Nanos(nanos as f64))
    }

    fn visit_i64<E: de::Error>(self, nanos: i64) -> Result<DurationValue, E> {
        Ok(DurationValue::Nanos(nanos as f64))
    }

    fn visit_f64<E: de::Error>(self, nanos: f64) -> Result<DurationValue, E> {
        Ok(DurationValue::Nanos(nanos))
    }
}

/// Reads a field whose JSON `null` means the same as leaving it out.
pub fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}
