//! A small blocking HTTP/1.1 client for the workloads: one connection per request
//! (`Connection: close`), a deadline on every request, and an error that says whether the
//! request can have reached the server — what decides between "failed" and "unknown".

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// How long a connection may take; a refused or timed-out connect sent nothing.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// The largest response body read.
const MAX_BODY: usize = 16 << 20;

/// An answer.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// A header's value, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// `X-Consul-Index`, if present and numeric.
    pub fn index(&self) -> Option<u64> {
        self.header("X-Consul-Index")?.parse().ok()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A KV GET's answer: `Some(None)` for a 404 (no such key), `Some(Some(entry))` for a 200,
    /// `None` for any other status or a body that is not a KV entry list.
    pub fn kv_entry(&self) -> Option<Option<KvEntry>> {
        match self.status {
            404 => Some(None),
            200 => {
                let entries: serde_json::Value = serde_json::from_slice(&self.body).ok()?;
                let entry = entries.get(0)?;
                let value = match entry["Value"].as_str() {
                    Some(encoded) => String::from_utf8(BASE64.decode(encoded).ok()?).ok()?,
                    None => String::new(),
                };
                let modify_index = entry["ModifyIndex"].as_u64()?;
                Some(Some(KvEntry {
                    value,
                    modify_index,
                }))
            }
            _ => None,
        }
    }
}

/// One KV entry as a GET returned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvEntry {
    pub value: String,
    pub modify_index: u64,
}

/// Why there is no answer.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The connection was never made: the server cannot have seen the request.
    #[error("not sent: {0}")]
    NotSent(std::io::Error),
    /// Sent (or maybe sent), but no complete answer arrived in time.
    #[error("no answer: {0}")]
    NoAnswer(String),
}

/// Sends one request to `addr` and reads the whole answer within `timeout`.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
    timeout: Duration,
) -> Result<Response, HttpError> {
    let stream = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT.min(timeout))
        .map_err(HttpError::NotSent)?;
    exchange(stream, addr, method, path, body, timeout)
        .map_err(|error| HttpError::NoAnswer(error.to_string()))
}

fn exchange(
    mut stream: TcpStream,
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
    timeout: Duration,
) -> std::io::Result<Response> {
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.set_nodelay(true)?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    read_response(BufReader::new(stream))
}

fn read_response(mut reader: BufReader<TcpStream>) -> std::io::Result<Response> {
    let status_line = read_line(&mut reader)?;
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| invalid(format!("bad status line {status_line:?}")))?;
    let mut headers = Vec::new();
    loop {
        let line = read_line(&mut reader)?;
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    let response = Response {
        status,
        headers,
        body: Vec::new(),
    };
    let body = if response
        .header("Transfer-Encoding")
        .is_some_and(|te| te.eq_ignore_ascii_case("chunked"))
    {
        read_chunked(&mut reader)?
    } else if let Some(length) = response.header("Content-Length") {
        let length: usize = length
            .parse()
            .map_err(|_| invalid(format!("bad Content-Length {length:?}")))?;
        if length > MAX_BODY {
            return Err(invalid(format!("body of {length} bytes is too large")));
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        body
    } else {
        let mut body = Vec::new();
        reader.take(MAX_BODY as u64).read_to_end(&mut body)?;
        body
    };
    Ok(Response { body, ..response })
}

fn read_chunked(reader: &mut BufReader<TcpStream>) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let size_line = read_line(reader)?;
        let size_text = size_line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| invalid(format!("bad chunk size {size_line:?}")))?;
        if size == 0 {
            while !read_line(reader)?.is_empty() {}
            return Ok(body);
        }
        if body.len() + size > MAX_BODY {
            return Err(invalid("chunked body too large".to_string()));
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        read_line(reader)?;
    }
}

fn read_line(reader: &mut BufReader<TcpStream>) -> std::io::Result<String> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "connection closed before the answer was complete",
        ));
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

fn invalid(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message)
}
