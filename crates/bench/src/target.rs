//! Parses and resolves the benchmark target address, refusing non-loopback hosts by default.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use crate::error::{BenchError, Result};

/// A resolved `http://host:port` endpoint.
#[derive(Clone, Debug)]
pub struct Target {
    addr: SocketAddr,
    host: Arc<str>,
}

impl Target {
    /// Parses `http://host:port`, `host:port` or `host` (port 80) and resolves it.
    ///
    /// Unless `allow_remote` is set, only loopback addresses are accepted.
    pub fn resolve(raw: &str, allow_remote: bool) -> Result<Self> {
        let host = authority(raw)?;
        let with_port = if has_port(host) {
            host.to_string()
        } else {
            format!("{host}:80")
        };
        let candidates: Vec<SocketAddr> = with_port
            .to_socket_addrs()
            .map_err(|e| invalid(raw, &e.to_string()))?
            .collect();
        let addr = candidates
            .iter()
            .find(|a| a.ip().is_loopback())
            .or_else(|| candidates.first().filter(|_| allow_remote))
            .copied()
            .ok_or_else(|| match candidates.first() {
                Some(first) => BenchError::Remote(first.to_string()),
                None => invalid(raw, "host resolved to no address"),
            })?;
        Ok(Self {
            addr,
            host: host.into(),
        })
    }

    /// The socket address connections are made to.
    pub fn socket_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The value sent in the `Host` header.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The base URL, for reports.
    pub fn url(&self) -> String {
        format!("http://{}", self.host)
    }
}

/// Strips the scheme and any path, leaving `host[:port]`.
fn authority(raw: &str) -> Result<&str> {
    let trimmed = raw.trim();
    if trimmed.starts_with("https://") {
        return Err(invalid(raw, "https is not supported; use plain http"));
    }
    let rest = trimmed.strip_prefix("http://").unwrap_or(trimmed);
    if rest.contains("://") {
        return Err(invalid(raw, "only http:// addresses are supported"));
    }
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() {
        return Err(invalid(raw, "missing host"));
    }
    Ok(host)
}

/// True when `host` already carries a port (`h:1`, `[::1]:1`), not just a bare IPv6 literal.
fn has_port(host: &str) -> bool {
    match host.rfind(']') {
        Some(bracket) => host[bracket..].contains(':'),
        None => host.matches(':').count() == 1,
    }
}

fn invalid(addr: &str, reason: &str) -> BenchError {
    BenchError::Address {
        addr: addr.to_string(),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_loopback_forms() {
        let t = Target::resolve("http://127.0.0.1:8500", false).unwrap();
        assert_eq!(t.socket_addr(), "127.0.0.1:8500".parse().unwrap());
        assert_eq!(t.host(), "127.0.0.1:8500");
        let t = Target::resolve("127.0.0.1:18500/", false).unwrap();
        assert_eq!(t.socket_addr().port(), 18500);
        let t = Target::resolve("[::1]:8500", false).unwrap();
        assert!(t.socket_addr().ip().is_loopback());
        let t = Target::resolve("http://127.0.0.1", false).unwrap();
        assert_eq!(t.socket_addr().port(), 80);
    }

    #[test]
    fn refuses_remote_and_unsupported() {
        assert!(matches!(
            Target::resolve("10.1.2.3:8500", false),
            Err(BenchError::Remote(_))
        ));
        assert!(Target::resolve("10.1.2.3:8500", true).is_ok());
        assert!(Target::resolve("https://127.0.0.1:8501", false).is_err());
        assert!(Target::resolve("unix:///tmp/consul.sock", false).is_err());
        assert!(Target::resolve("http://", false).is_err());
    }
}
