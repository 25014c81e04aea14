//! Minimal keep-alive HTTP/1.1 client over one TCP connection, tuned for low client-side CPU.
//!
//! It writes each request in one buffer and parses responses framed by `Content-Length`,
//! `Transfer-Encoding: chunked`, or connection close, which covers both Senate and real Consul.

use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::error::{BenchError, Result};
use crate::target::Target;

const READ_BUFFER: usize = 4096;
const MAX_LINE: u64 = 16 * 1024;
const MAX_HEADERS: usize = 256;
const MAX_BODY: usize = 64 * 1024 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A fully read HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// The `X-Consul-Index` header, when present and numeric.
    pub index: Option<u64>,
    pub body: Vec<u8>,
}

impl Response {
    /// The body as lossy UTF-8, for error messages.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One persistent connection; it reconnects lazily after a close or an error.
pub struct Connection {
    target: Target,
    io: Option<BufReader<TcpStream>>,
    request: Vec<u8>,
    line: Vec<u8>,
}

impl Connection {
    /// Opens a connection to `target` (bounded by a connect timeout).
    pub async fn connect(target: &Target) -> Result<Self> {
        let mut connection = Self {
            target: target.clone(),
            io: None,
            request: Vec::with_capacity(256),
            line: Vec::with_capacity(128),
        };
        connection.ensure_open().await?;
        Ok(connection)
    }

    /// Sends one request and reads its response.
    pub async fn request(&mut self, method: &str, path: &str, body: &[u8]) -> Result<Response> {
        self.send(method, path, body).await?;
        self.receive().await
    }

    /// Writes one request without waiting for the response.
    pub async fn send(&mut self, method: &str, path: &str, body: &[u8]) -> Result<()> {
        encode_request(&mut self.request, method, path, self.target.host(), body);
        self.ensure_open().await?;
        let io = self
            .io
            .as_mut()
            .ok_or(BenchError::Protocol("not connected"))?;
        let written = io.get_mut().write_all(&self.request).await;
        if written.is_err() {
            self.io = None;
        }
        Ok(written?)
    }

    /// Reads the response to the request last sent.
    pub async fn receive(&mut self) -> Result<Response> {
        let io = self
            .io
            .as_mut()
            .ok_or(BenchError::Protocol("no request in flight"))?;
        match read_response(io, &mut self.line).await {
            Ok((response, reusable)) => {
                if !reusable {
                    self.io = None;
                }
                Ok(response)
            }
            Err(error) => {
                self.io = None;
                Err(error)
            }
        }
    }

    /// Drops the socket, e.g. after a timed-out request left it in an unknown state.
    pub fn reset(&mut self) {
        self.io = None;
    }

    async fn ensure_open(&mut self) -> Result<()> {
        if self.io.is_none() {
            let addr = self.target.socket_addr();
            let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
                .await
                .map_err(|_| BenchError::Timeout(CONNECT_TIMEOUT))??;
            stream.set_nodelay(true)?;
            self.io = Some(BufReader::with_capacity(READ_BUFFER, stream));
        }
        Ok(())
    }
}

/// Opens `count` connections, at most `parallelism` at a time, so large fan-outs don't flood
/// the listener's accept queue. Failed connects are returned as errors.
pub async fn connect_many(
    target: &Target,
    count: usize,
    parallelism: usize,
) -> Vec<Result<Connection>> {
    let mut connections = Vec::with_capacity(count);
    while connections.len() < count {
        let batch = parallelism.max(1).min(count - connections.len());
        let mut pending = tokio::task::JoinSet::new();
        for _ in 0..batch {
            let target = target.clone();
            pending.spawn(async move { Connection::connect(&target).await });
        }
        while let Some(joined) = pending.join_next().await {
            connections.push(joined.unwrap_or_else(|e| Err(e.into())));
        }
    }
    connections
}

/// Serialises a request into `out`, reusing its allocation.
fn encode_request(out: &mut Vec<u8>, method: &str, path: &str, host: &str, body: &[u8]) {
    out.clear();
    for part in [method, " ", path, " HTTP/1.1\r\nHost: ", host] {
        out.extend_from_slice(part.as_bytes());
    }
    out.extend_from_slice(b"\r\nUser-Agent: senate-bench\r\n");
    if !body.is_empty() || method != "GET" {
        out.extend_from_slice(b"Content-Length: ");
        out.extend_from_slice(body.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

/// How the response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(usize),
    Chunked,
    UntilClose,
    Empty,
}

/// Status line and the headers the bench cares about.
#[derive(Debug)]
struct Head {
    status: u16,
    index: Option<u64>,
    framing: Framing,
    keep_alive: bool,
}

/// Reads one final (non-1xx) response; the flag says whether the connection may be reused.
pub async fn read_response<R>(reader: &mut R, line: &mut Vec<u8>) -> Result<(Response, bool)>
where
    R: AsyncBufRead + Unpin,
{
    loop {
        let head = read_head(reader, line).await?;
        if (100..200).contains(&head.status) {
            continue;
        }
        let body = read_body(reader, head.framing, line).await?;
        let reusable = head.keep_alive && head.framing != Framing::UntilClose;
        let response = Response {
            status: head.status,
            index: head.index,
            body,
        };
        return Ok((response, reusable));
    }
}

async fn read_head<R>(reader: &mut R, line: &mut Vec<u8>) -> Result<Head>
where
    R: AsyncBufRead + Unpin,
{
    let (status, mut keep_alive) = parse_status_line(read_line(reader, line).await?)?;
    let mut index = None;
    let mut length = None;
    let mut chunked = false;
    for _ in 0..MAX_HEADERS {
        let header = read_line(reader, line).await?;
        if header.is_empty() {
            let framing = framing_for(status, chunked, length);
            return Ok(Head {
                status,
                index,
                framing,
                keep_alive,
            });
        }
        let (name, value) = split_header(header)?;
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse().map_err(|_| bad("Content-Length"))?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().ends_with("chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            keep_alive = connection_keeps_alive(value, keep_alive);
        } else if name.eq_ignore_ascii_case("x-consul-index") {
            index = value.parse().ok();
        }
    }
    Err(bad("too many headers"))
}

fn parse_status_line(line: &[u8]) -> Result<(u16, bool)> {
    let text = std::str::from_utf8(line).map_err(|_| bad("status line"))?;
    let mut parts = text.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    let status = parts
        .next()
        .and_then(|code| code.parse().ok())
        .ok_or(bad("status code"))?;
    match version {
        "HTTP/1.1" => Ok((status, true)),
        "HTTP/1.0" => Ok((status, false)),
        _ => Err(bad("HTTP version")),
    }
}

fn split_header(line: &[u8]) -> Result<(&str, &str)> {
    let text = std::str::from_utf8(line).map_err(|_| bad("header encoding"))?;
    let (name, value) = text.split_once(':').ok_or(bad("header line"))?;
    Ok((name.trim(), value.trim()))
}

fn connection_keeps_alive(value: &str, default: bool) -> bool {
    let value = value.to_ascii_lowercase();
    if value.contains("close") {
        false
    } else {
        value.contains("keep-alive") || default
    }
}

fn framing_for(status: u16, chunked: bool, length: Option<usize>) -> Framing {
    match (chunked, length) {
        _ if status == 204 || status == 304 => Framing::Empty,
        (true, _) => Framing::Chunked,
        (false, Some(n)) => Framing::Length(n),
        (false, None) => Framing::UntilClose,
    }
}

async fn read_body<R>(reader: &mut R, framing: Framing, line: &mut Vec<u8>) -> Result<Vec<u8>>
where
    R: AsyncBufRead + Unpin,
{
    let mut body = Vec::new();
    match framing {
        Framing::Empty => {}
        Framing::Length(n) => read_exact_into(reader, &mut body, n).await?,
        Framing::Chunked => read_chunked(reader, &mut body, line).await?,
        Framing::UntilClose => {
            reader.take(MAX_BODY as u64).read_to_end(&mut body).await?;
        }
    }
    Ok(body)
}

async fn read_chunked<R>(reader: &mut R, body: &mut Vec<u8>, line: &mut Vec<u8>) -> Result<()>
where
    R: AsyncBufRead + Unpin,
{
    loop {
        let size = parse_chunk_size(read_line(reader, line).await?)?;
        if size == 0 {
            return skip_trailers(reader, line).await;
        }
        read_exact_into(reader, body, size).await?;
        if !read_line(reader, line).await?.is_empty() {
            return Err(bad("chunk not followed by CRLF"));
        }
    }
}

fn parse_chunk_size(line: &[u8]) -> Result<usize> {
    let text = std::str::from_utf8(line).map_err(|_| bad("chunk size"))?;
    let digits = text.split(';').next().unwrap_or_default().trim();
    usize::from_str_radix(digits, 16).map_err(|_| bad("chunk size"))
}

async fn skip_trailers<R>(reader: &mut R, line: &mut Vec<u8>) -> Result<()>
where
    R: AsyncBufRead + Unpin,
{
    for _ in 0..MAX_HEADERS {
        if read_line(reader, line).await?.is_empty() {
            return Ok(());
        }
    }
    Err(bad("too many trailers"))
}

async fn read_exact_into<R>(reader: &mut R, body: &mut Vec<u8>, n: usize) -> Result<()>
where
    R: AsyncBufRead + Unpin,
{
    if body.len() + n > MAX_BODY {
        return Err(bad("body too large"));
    }
    let start = body.len();
    body.resize(start + n, 0);
    reader.read_exact(&mut body[start..]).await?;
    Ok(())
}

/// Reads one line and returns it without its trailing CRLF (or LF).
async fn read_line<'a, R>(reader: &mut R, line: &'a mut Vec<u8>) -> Result<&'a [u8]>
where
    R: AsyncBufRead + Unpin,
{
    line.clear();
    let read = (&mut *reader)
        .take(MAX_LINE)
        .read_until(b'\n', line)
        .await?;
    if read == 0 {
        return Err(BenchError::Io(std::io::ErrorKind::UnexpectedEof.into()));
    }
    if line.last() != Some(&b'\n') {
        return Err(bad("line too long or truncated"));
    }
    let end = line.len() - 1 - usize::from(line.len() >= 2 && line[line.len() - 2] == b'\r');
    Ok(&line[..end])
}

fn bad(what: &'static str) -> BenchError {
    BenchError::Protocol(what)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn parse(raw: &[u8]) -> Result<(Response, bool)> {
        let mut reader = raw;
        read_response(&mut reader, &mut Vec::new()).await
    }

    #[tokio::test]
    async fn reads_content_length_body_and_index() {
        let raw = b"HTTP/1.1 200 OK\r\nX-Consul-Index: 42\r\nContent-Length: 4\r\n\r\ntrue";
        let (response, reusable) = parse(raw).await.unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.index, Some(42));
        assert_eq!(response.body, b"true");
        assert!(reusable);
    }

    #[tokio::test]
    async fn reads_chunked_body_with_extensions_and_trailers() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                    3;ext=1\r\n[{\"\r\nA\r\nKey\":\"a\"}]\r\n0\r\nX-Trailer: 1\r\n\r\n";
        let (response, reusable) = parse(raw).await.unwrap();
        assert_eq!(response.body, b"[{\"Key\":\"a\"}]");
        assert!(reusable);
    }

    #[tokio::test]
    async fn reads_until_close_and_skips_informational() {
        let raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 404 Not Found\r\n\r\nmissing";
        let (response, reusable) = parse(raw).await.unwrap();
        assert_eq!(response.status, 404);
        assert_eq!(response.body, b"missing");
        assert!(!reusable);
    }

    #[tokio::test]
    async fn honours_connection_close_and_rejects_garbage() {
        let raw = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
        assert!(!parse(raw).await.unwrap().1);
        assert!(parse(b"SPDY/3 200 OK\r\n\r\n").await.is_err());
        assert!(parse(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort")
            .await
            .is_err());
    }

    #[test]
    fn encodes_put_with_length_and_get_without() {
        let mut out = Vec::new();
        encode_request(&mut out, "PUT", "/v1/kv/a", "h:1", b"xy");
        assert_eq!(
            out,
            b"PUT /v1/kv/a HTTP/1.1\r\nHost: h:1\r\nUser-Agent: senate-bench\r\nContent-Length: 2\r\n\r\nxy"
        );
        encode_request(&mut out, "GET", "/v1/kv/a", "h:1", b"");
        assert!(!String::from_utf8_lossy(&out).contains("Content-Length"));
    }
}
