//! The KV requests the bench issues: key naming, read modes, and one-off control calls.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::error::{BenchError, Result};
use crate::http1::{Connection, Response};

/// Every key the bench writes lives under this prefix.
pub const KEY_PREFIX: &str = "senate-bench/";
/// Bound on each one-off control request (preflight, setup writes, cleanup).
const CONTROL_TIMEOUT: Duration = Duration::from_secs(30);

/// Consistency mode of a KV read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReadMode {
    Default,
    Stale,
    Consistent,
}

impl ReadMode {
    fn query(self) -> &'static str {
        match self {
            ReadMode::Default => "",
            ReadMode::Stale => "?stale",
            ReadMode::Consistent => "?consistent",
        }
    }

    /// The mode as an extra query parameter after others (`&stale`, or nothing for default).
    pub fn extra_param(self) -> &'static str {
        match self {
            ReadMode::Default => "",
            ReadMode::Stale => "&stale",
            ReadMode::Consistent => "&consistent",
        }
    }
}

impl FromStr for ReadMode {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "default" => Ok(ReadMode::Default),
            "stale" => Ok(ReadMode::Stale),
            "consistent" => Ok(ReadMode::Consistent),
            other => Err(format!(
                "unknown mode {other:?}: expected default, stale or consistent"
            )),
        }
    }
}

impl fmt::Display for ReadMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            ReadMode::Default => "default",
            ReadMode::Stale => "stale",
            ReadMode::Consistent => "consistent",
        };
        f.write_str(name)
    }
}

/// One kind of load request, applied to keys of the bench keyspace.
#[derive(Debug, Clone)]
pub enum Operation {
    Put { value: Arc<[u8]> },
    Get { mode: ReadMode },
}

impl Operation {
    /// A PUT of `size` bytes of printable filler.
    pub fn put_of_size(size: usize) -> Self {
        let value: Vec<u8> = (0..size).map(|i| b'a' + (i % 26) as u8).collect();
        Operation::Put {
            value: value.into(),
        }
    }

    pub fn method(&self) -> &'static str {
        match self {
            Operation::Put { .. } => "PUT",
            Operation::Get { .. } => "GET",
        }
    }

    pub fn body(&self) -> &[u8] {
        match self {
            Operation::Put { value } => value,
            Operation::Get { .. } => &[],
        }
    }

    /// Writes the request path for key number `key` into `out`.
    pub fn path_into(&self, key: u64, out: &mut String) {
        out.clear();
        out.push_str("/v1/kv/");
        out.push_str(KEY_PREFIX);
        out.push('k');
        out.push_str(&key.to_string());
        if let Operation::Get { mode } = self {
            out.push_str(mode.query());
        }
    }
}

/// Fails unless the target answers `GET /v1/status/leader` with 200.
pub async fn preflight(connection: &mut Connection) -> Result<()> {
    let response = call(connection, "GET", "/v1/status/leader", b"").await?;
    expect_ok("GET /v1/status/leader", response).map(drop)
}

/// Writes `value` to `key` (relative to [`KEY_PREFIX`]).
pub async fn put(connection: &mut Connection, key: &str, value: &[u8]) -> Result<()> {
    let path = format!("/v1/kv/{KEY_PREFIX}{key}");
    let response = call(connection, "PUT", &path, value).await?;
    expect_ok(&format!("PUT {path}"), response).map(drop)
}

/// Reads `key` and returns its `X-Consul-Index`.
pub async fn index_of(connection: &mut Connection, key: &str) -> Result<u64> {
    let path = format!("/v1/kv/{KEY_PREFIX}{key}");
    let response = expect_ok(
        &format!("GET {path}"),
        call(connection, "GET", &path, b"").await?,
    )?;
    response
        .index
        .ok_or_else(|| BenchError::Setup(format!("GET {path} returned no X-Consul-Index header")))
}

/// GETs `path` and parses its 200 answer as JSON.
pub async fn get_json(connection: &mut Connection, path: &str) -> Result<serde_json::Value> {
    let response = expect_ok(
        &format!("GET {path}"),
        call(connection, "GET", path, b"").await?,
    )?;
    Ok(serde_json::from_slice(&response.body)?)
}

/// Deletes every key under [`KEY_PREFIX`].
pub async fn delete_all(connection: &mut Connection) -> Result<()> {
    let path = format!("/v1/kv/{KEY_PREFIX}?recurse");
    let response = call(connection, "DELETE", &path, b"").await?;
    expect_ok(&format!("DELETE {path}"), response).map(drop)
}

/// One control request, bounded by [`CONTROL_TIMEOUT`].
pub(crate) async fn call(
    connection: &mut Connection,
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<Response> {
    let bounded =
        tokio::time::timeout(CONTROL_TIMEOUT, connection.request(method, path, body)).await;
    bounded.unwrap_or_else(|_| {
        connection.reset();
        Err(BenchError::Timeout(CONTROL_TIMEOUT))
    })
}

pub(crate) fn expect_ok(what: &str, response: Response) -> Result<Response> {
    if response.status == 200 {
        Ok(response)
    } else {
        Err(BenchError::Status {
            what: what.to_string(),
            status: response.status,
            body: response.body_text(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_paths_per_mode() {
        let mut path = String::new();
        Operation::put_of_size(3).path_into(7, &mut path);
        assert_eq!(path, "/v1/kv/senate-bench/k7");
        Operation::Get {
            mode: ReadMode::Stale,
        }
        .path_into(8, &mut path);
        assert_eq!(path, "/v1/kv/senate-bench/k8?stale");
        assert_eq!(Operation::put_of_size(3).body(), b"abc");
    }

    #[test]
    fn parses_and_prints_modes() {
        for mode in [ReadMode::Default, ReadMode::Stale, ReadMode::Consistent] {
            assert_eq!(mode.to_string().parse::<ReadMode>(), Ok(mode));
        }
        assert!("linearizable".parse::<ReadMode>().is_err());
    }
}
