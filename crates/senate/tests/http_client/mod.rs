//! A tiny blocking HTTP/1.1 client over `std::net::TcpStream`, enough to talk to the server
//! under test exactly as written (paths are sent byte for byte, never re-encoded): a [`Client`]
//! that keeps its connection alive, and [`get`]/[`put`] that open one connection per request
//! with a timeout, so a request stuck behind a partition never blocks the next one.
#![allow(dead_code)] // each test binary uses its own part of it

use serde_json::Value;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// How long a single request may take before the client gives up.
const READ_TIMEOUT: Duration = Duration::from_secs(90);

/// A connection to one server that is reused across requests while the server keeps it open.
pub struct Client {
    addr: SocketAddr,
    stream: Option<BufReader<TcpStream>>,
}

/// A fully read HTTP response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Client {
    pub fn new(addr: SocketAddr) -> Client {
        Client { addr, stream: None }
    }

    pub fn get(&mut self, path: &str) -> Response {
        self.request("GET", path, b"")
    }

    pub fn put(&mut self, path: &str, body: impl AsRef<[u8]>) -> Response {
        self.request("PUT", path, body.as_ref())
    }

    pub fn delete(&mut self, path: &str) -> Response {
        self.request("DELETE", path, b"")
    }

    /// Sends one request; panics (failing the test) if the server cannot be reached.
    pub fn request(&mut self, method: &str, path: &str, body: &[u8]) -> Response {
        self.try_request(method, path, body)
            .unwrap_or_else(|error| panic!("{method} {path} to {} failed: {error}", self.addr))
    }

    /// Sends one request, retrying once on a fresh connection if a reused one turned out closed.
    pub fn try_request(&mut self, method: &str, path: &str, body: &[u8]) -> io::Result<Response> {
        let reused = self.stream.is_some();
        match self.exchange(method, path, body) {
            Err(error) if reused && is_stale_connection(&error) => {
                self.exchange(method, path, body)
            }
            other => other,
        }
    }

    fn exchange(&mut self, method: &str, path: &str, body: &[u8]) -> io::Result<Response> {
        let mut stream = match self.stream.take() {
            Some(stream) => stream,
            None => self.connect()?,
        };
        let written = write_request(stream.get_mut(), self.addr, method, path, body, false);
        let write_failed = written.is_err();
        // A server may answer (e.g. 413) and close before taking the whole body: read what it said.
        let response = match read_response(&mut stream, method) {
            Ok(response) => response,
            Err(read_error) => return Err(written.err().unwrap_or(read_error)),
        };
        if !write_failed && !response.header_is("connection", "close") {
            self.stream = Some(stream);
        }
        Ok(response)
    }

    fn connect(&self) -> io::Result<BufReader<TcpStream>> {
        let stream = TcpStream::connect_timeout(&self.addr, Duration::from_secs(5))?;
        stream.set_read_timeout(Some(READ_TIMEOUT))?;
        stream.set_nodelay(true)?;
        Ok(BufReader::new(stream))
    }
}

fn is_stale_connection(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

/// Sends one request to `addr` on a connection of its own and reads the answer, giving up
/// after `timeout` for connecting, for writing and for each read.
pub fn request_once(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
    timeout: Duration,
) -> io::Result<Response> {
    let stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.set_nodelay(true)?;
    let mut stream = BufReader::new(stream);
    write_request(stream.get_mut(), addr, method, path, body, true)?;
    read_response(&mut stream, method)
}

/// A GET on a connection of its own, within `timeout`.
pub fn get(addr: SocketAddr, path: &str, timeout: Duration) -> io::Result<Response> {
    request_once(addr, "GET", path, b"", timeout)
}

/// A PUT on a connection of its own, within `timeout`.
pub fn put(addr: SocketAddr, path: &str, body: &str, timeout: Duration) -> io::Result<Response> {
    request_once(addr, "PUT", path, body.as_bytes(), timeout)
}

fn write_request(
    stream: &mut TcpStream,
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
    close: bool,
) -> io::Result<()> {
    let connection = match close {
        true => "Connection: close\r\n",
        false => "",
    };
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: senate-tests\r\n{connection}Content-Length: {}\r\n\r\n",
        body.len()
    );
    let mut request = head.into_bytes();
    request.extend_from_slice(body);
    stream.write_all(&request)?;
    stream.flush()
}

fn read_response(stream: &mut BufReader<TcpStream>, method: &str) -> io::Result<Response> {
    let status = read_status_line(stream)?;
    let headers = read_headers(stream)?;
    let mut response = Response {
        status,
        headers,
        body: Vec::new(),
    };
    if method == "HEAD" || status == 204 || status == 304 {
        return Ok(response);
    }
    response.body = if response.header_is("transfer-encoding", "chunked") {
        read_chunked(stream)?
    } else if let Some(length) = response.header("content-length") {
        let length: usize = length
            .trim()
            .parse()
            .map_err(|_| invalid("bad Content-Length"))?;
        let mut body = vec![0; length];
        stream.read_exact(&mut body)?;
        body
    } else {
        let mut body = Vec::new();
        stream.read_to_end(&mut body)?;
        body
    };
    Ok(response)
}

fn read_line(stream: &mut BufReader<TcpStream>) -> io::Result<String> {
    let mut line = String::new();
    if stream.read_line(&mut line)? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed",
        ));
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

fn read_status_line(stream: &mut BufReader<TcpStream>) -> io::Result<u16> {
    let line = read_line(stream)?;
    line.split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| invalid(&format!("bad status line {line:?}")))
}

fn read_headers(stream: &mut BufReader<TcpStream>) -> io::Result<Vec<(String, String)>> {
    let mut headers = Vec::new();
    loop {
        let line = read_line(stream)?;
        if line.is_empty() {
            return Ok(headers);
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| invalid("bad header line"))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
}

fn read_chunked(stream: &mut BufReader<TcpStream>) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let size_line = read_line(stream)?;
        let size_text = size_line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| invalid("bad chunk size"))?;
        if size == 0 {
            while !read_line(stream)?.is_empty() {}
            return Ok(body);
        }
        let start = body.len();
        body.resize(start + size, 0);
        stream.read_exact(&mut body[start..])?;
        read_line(stream)?;
    }
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_string())
}

impl Response {
    /// The value of the first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    fn header_is(&self, name: &str, value: &str) -> bool {
        self.header(name)
            .is_some_and(|v| v.eq_ignore_ascii_case(value))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Whether this is a KV write's acknowledgement: `200` with the body `true`.
    pub fn is_true(&self) -> bool {
        self.status == 200 && self.text().trim() == "true"
    }

    /// The body parsed as JSON; panics with the body if it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "body is not JSON ({error}): {:?} (status {})",
                self.text(),
                self.status
            )
        })
    }

    /// The `X-Consul-Index` header as a number; panics if absent.
    pub fn index(&self) -> u64 {
        let value = self
            .header("x-consul-index")
            .unwrap_or_else(|| panic!("no X-Consul-Index header in {self:?}"));
        value
            .parse()
            .unwrap_or_else(|_| panic!("X-Consul-Index {value:?} is not a number"))
    }

    /// Asserts the status code, showing the body when it differs; returns the response.
    #[track_caller]
    pub fn expect(self, status: u16) -> Response {
        assert_eq!(
            self.status,
            status,
            "unexpected status; body: {:?}",
            self.text()
        );
        self
    }
}
