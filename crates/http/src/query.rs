//! Reads a request's query string into the options every Consul read takes: datacenter,
//! consistency mode, blocking index and wait, and pretty-printing.

use crate::context::Context;
use crate::error::ApiError;
use senate_types::duration;
use std::time::Duration;

/// Consul's default and longest blocking waits.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(5 * 60);
pub const MAX_WAIT: Duration = Duration::from_secs(10 * 60);

/// The raw query parameters, decoded; a parameter given without a value (`?recurse`) has "".
#[derive(Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Decodes a raw query string.
    pub fn parse(query: Option<&str>) -> Self {
        let pairs = form_urlencoded::parse(query.unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        Params(pairs)
    }

    /// Whether the parameter appears at all.
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    /// The parameter's first value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value the parameter was given (`?tag=a&tag=b`).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Names the body a read of `path` renders: the path and every parameter that shapes the
    /// body (not the blocking, consistency or token ones), in a canonical order.
    pub fn body_key(&self, path: &str) -> String {
        const NOT_SHAPING: [&str; 6] = ["index", "wait", "stale", "consistent", "token", "dc"];
        let mut shaping: Vec<&(String, String)> = self
            .0
            .iter()
            .filter(|(k, _)| !NOT_SHAPING.contains(&k.as_str()))
            .collect();
        shaping.sort();
        let mut key = path.to_string();
        for (name, value) in shaping {
            key.push_str(&format!("&{name}={value}"));
        }
        key
    }

    /// A parameter parsed as an unsigned integer, with `what` naming it in the error.
    pub fn u64(&self, name: &str, what: &str) -> Result<Option<u64>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(text) => text.parse().map(Some).map_err(|_| {
                ApiError::bad_request(format!(
                    "Invalid {what}: {text:?} is not an unsigned integer"
                ))
            }),
        }
    }
}

/// How fresh a read must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consistency {
    /// Served by the leader from its state.
    Default,
    /// Served by any server, however stale.
    Stale,
    /// The leader first confirms it still leads.
    Consistent,
}

impl Consistency {
    /// The value Consul puts in `X-Consul-Effective-Consistency`.
    pub fn header_value(self) -> &'static str {
        match self {
            Consistency::Default => "leader",
            Consistency::Stale => "stale",
            Consistency::Consistent => "consistent",
        }
    }
}

/// The options of one read.
#[derive(Debug)]
pub struct QueryOptions {
    pub consistency: Consistency,
    /// Block until the result's index exceeds this (0: do not block).
    pub min_index: u64,
    pub wait: Duration,
    pub pretty: bool,
}

impl QueryOptions {
    /// Reads and validates the common options; also refuses an unknown datacenter.
    pub fn parse(params: &Params, context: &Context) -> Result<Self, ApiError> {
        check_datacenter(params, context)?;
        let consistency = match (params.has("stale"), params.has("consistent")) {
            (true, true) => {
                return Err(ApiError::bad_request(
                    "Cannot specify ?stale with ?consistent, conflicting semantics.",
                ))
            }
            (true, false) => Consistency::Stale,
            (false, true) => Consistency::Consistent,
            (false, false) => Consistency::Default,
        };
        let min_index = params
            .get("index")
            .map(|text| {
                text.parse::<u64>()
                    .map_err(|_| ApiError::bad_request(format!("Invalid index: {text:?}")))
            })
            .transpose()?
            .unwrap_or(0);
        let wait = match params.get("wait") {
            None => DEFAULT_WAIT,
            Some(text) => duration::parse(text)
                .map_err(|e| ApiError::bad_request(format!("Invalid wait time: {e}")))?
                .min(MAX_WAIT),
        };
        Ok(QueryOptions {
            consistency,
            min_index,
            wait,
            pretty: params.has("pretty"),
        })
    }
}

/// Refuses `?dc=` naming any datacenter but this agent's, as Consul does when it has no route.
pub fn check_datacenter(params: &Params, context: &Context) -> Result<(), ApiError> {
    match params.get("dc") {
        Some(dc) if !dc.is_empty() && !dc.eq_ignore_ascii_case(&context.config.datacenter) => {
            Err(ApiError::internal("No path to datacenter"))
        }
        _ => Ok(()),
    }
}

/// Parses a Go duration parameter value, naming `what` in the error.
pub fn parse_duration(text: &str, what: &str) -> Result<Duration, ApiError> {
    duration::parse(text).map_err(|e| ApiError::bad_request(format!("Invalid {what}: {e}")))
}
