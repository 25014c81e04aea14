//! TCP checks: passing when a connection to `host:port` opens within the timeout, critical otherwise.

use super::spec::TcpCheck;
use senate_types::catalog::CheckStatus;
use std::io;
use std::time::Duration;
use tokio::net::TcpStream;

/// Tries one connection and returns the resulting status and output.
pub(crate) async fn run_tcp(check: &TcpCheck) -> (CheckStatus, String) {
    match dial(&check.address, check.timeout).await {
        Ok(_) => (
            CheckStatus::Passing,
            format!("TCP connect {}: Success", check.address),
        ),
        Err(message) => (CheckStatus::Critical, message),
    }
}

/// Opens a TCP connection within `timeout`, wording a failure as Go's dialer does
/// (`dial tcp 127.0.0.1:1: connect: connection refused`).
pub(crate) async fn dial(address: &str, timeout: Duration) -> Result<TcpStream, String> {
    match tokio::time::timeout(timeout, TcpStream::connect(address)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(error)) => Err(format!("dial tcp {address}: {}", describe(&error))),
        Err(_) => Err(format!("dial tcp {address}: i/o timeout")),
    }
}

fn describe(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::ConnectionRefused => "connect: connection refused".to_string(),
        io::ErrorKind::TimedOut => "i/o timeout".to_string(),
        io::ErrorKind::HostUnreachable => "connect: no route to host".to_string(),
        io::ErrorKind::NetworkUnreachable => "connect: network is unreachable".to_string(),
        _ => error.to_string(),
    }
}
