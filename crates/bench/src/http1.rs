//! Minimal keep-alive HTTP/1.1 client over one TCP connection, tuned for low client-side CPU.
//!
//! It writes each request in one buffer and parses responses framed by `Content-Length`,
//! `Transfer-Encoding: chunked`, or connection close, which covers both Senate and real Consul.
//! Bodies are either kept, or counted and dropped through a small reusable scratch buffer so
//! multi-megabyte answers cost no allocation.

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
/// Largest read when discarding a body; big reads bypass the 4 KiB line buffer entirely.
const DISCARD_CHUNK: usize = 256 * 1024;

/// A fully read HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// The `X-Consul-Index` header, when present and numeric.
    pub index: Option<u64>,
    pub body: Vec<u8>,
}

/// A response whose body was counted and dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseMeta {
    pub status: u16,
    /// The `X-Consul-Index` header, when present and numeric.
    pub index: Option<u64>,
    /// Length of the (de-chunked) body in bytes.
    pub body_len: u64,
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
    /// Read target for discarded bodies; grows on demand up to [`DISCARD_CHUNK`].
    scratch: Vec<u8>,
}

impl Connection {
    /// Opens a connection to `target` (bounded by a connect timeout).
    pub async fn connect(target: &Target) -> Result<Self> {
        let mut connection = Self {
            target: target.clone(),
            io: None,
            request: Vec::with_capacity(256),
            line: Vec::with_capacity(128),
            scratch: Vec::new(),
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

    /// Sends one request and reads its response, counting but not keeping the body.
    pub async fn request_discarding_body(
        &mut self,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<ResponseMeta> {
        self.send(method, path, body).await?;
        let io = self
            .io
            .as_mut()
            .ok_or(BenchError::Protocol("no request in flight"))?;
        let read = read_response_discarding(io, &mut self.line, &mut self.scratch).await;
        self.settle(read)
    }

    /// Reads the response to the request last sent.
    pub async fn receive(&mut self) -> Result<Response> {
        let io = self
            .io
            .as_mut()
            .ok_or(BenchError::Protocol("no request in flight"))?;
        let read = read_response(io, &mut self.line).await;
        self.settle(read)
    }

    /// Drops the socket when the response said so or reading it failed.
    fn settle<T>(&mut self, read: Result<(T, bool)>) -> Result<T> {
        match read {
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
    let mut body = Vec::new();
    let (head, reusable) = read_response_into(reader, line, &mut BodySink::Keep(&mut body)).await?;
    let response = Response {
        status: head.status,
        index: head.index,
        body,
    };
    Ok((response, reusable))
}

/// Like [`read_response`], but counts the body's bytes instead of keeping them.
pub async fn read_response_discarding<R>(
    reader: &mut R,
    line: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
) -> Result<(ResponseMeta, bool)>
where
    R: AsyncBufRead + Unpin,
{
    let mut sink = BodySink::Discard { scratch, len: 0 };
    let (head, reusable) = read_response_into(reader, line, &mut sink).await?;
    let meta = ResponseMeta {
        status: head.status,
        index: head.index,
        body_len: sink.len(),
    };
    Ok((meta, reusable))
}

/// Skips 1xx responses, then reads the final head and feeds its body to `sink`.
async fn read_response_into<R>(
    reader: &mut R,
    line: &mut Vec<u8>,
    sink: &mut BodySink<'_>,
) -> Result<(Head, bool)>
where
    R: AsyncBufRead + Unpin,
{
    loop {
        let head = read_head(reader, line).await?;
        if (100..200).contains(&head.status) {
            continue;
        }
        read_body(reader, head.framing, line, sink).await?;
        let reusable = head.keep_alive && head.framing != Framing::UntilClose;
        return Ok((head, reusable));
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

/// Where body bytes go.
enum BodySink<'a> {
    /// Appended to an in-memory body (bounded by [`MAX_BODY`]).
    Keep(&'a mut Vec<u8>),
    /// Read into `scratch`, overwritten by the next read, and only counted.
    Discard { scratch: &'a mut Vec<u8>, len: u64 },
}

impl BodySink<'_> {
    fn len(&self) -> u64 {
        match self {
            BodySink::Keep(body) => body.len() as u64,
            BodySink::Discard { len, .. } => *len,
        }
    }

    /// Moves exactly `n` body bytes from `reader` into the sink.
    async fn take_exact<R>(&mut self, reader: &mut R, n: usize) -> Result<()>
    where
        R: AsyncBufRead + Unpin,
    {
        match self {
            BodySink::Keep(body) => read_exact_into(reader, body, n).await,
            BodySink::Discard { scratch, len } => {
                let mut left = n;
                while left > 0 {
                    let read = read_some(reader, scratch, left).await?;
                    if read == 0 {
                        return Err(BenchError::Io(std::io::ErrorKind::UnexpectedEof.into()));
                    }
                    left -= read;
                    *len += read as u64;
                }
                Ok(())
            }
        }
    }

    /// Moves every byte up to end of stream into the sink.
    async fn take_to_end<R>(&mut self, reader: &mut R) -> Result<()>
    where
        R: AsyncBufRead + Unpin,
    {
        match self {
            BodySink::Keep(body) => {
                reader.take(MAX_BODY as u64).read_to_end(body).await?;
            }
            BodySink::Discard { scratch, len } => loop {
                match read_some(reader, scratch, DISCARD_CHUNK).await? {
                    0 => break,
                    read => *len += read as u64,
                }
            },
        }
        Ok(())
    }
}

/// One read of at most `limit` bytes into `scratch`, growing it up to [`DISCARD_CHUNK`].
///
/// A read at least as large as the reader's own buffer goes straight to the socket.
async fn read_some<R>(reader: &mut R, scratch: &mut Vec<u8>, limit: usize) -> Result<usize>
where
    R: AsyncBufRead + Unpin,
{
    let want = limit.min(DISCARD_CHUNK);
    if scratch.len() < want {
        scratch.resize(want, 0);
    }
    Ok(reader.read(&mut scratch[..want]).await?)
}

async fn read_body<R>(
    reader: &mut R,
    framing: Framing,
    line: &mut Vec<u8>,
    sink: &mut BodySink<'_>,
) -> Result<()>
where
    R: AsyncBufRead + Unpin,
{
    match framing {
        Framing::Empty => Ok(()),
        Framing::Length(n) => sink.take_exact(reader, n).await,
        Framing::Chunked => read_chunked(reader, sink, line).await,
        Framing::UntilClose => sink.take_to_end(reader).await,
    }
}

async fn read_chunked<R>(reader: &mut R, sink: &mut BodySink<'_>, line: &mut Vec<u8>) -> Result<()>
where
    R: AsyncBufRead + Unpin,
{
    loop {
        let size = parse_chunk_size(read_line(reader, line).await?)?;
        if size == 0 {
            return skip_trailers(reader, line).await;
        }
        sink.take_exact(reader, size).await?;
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

    async fn parse_discarding(raw: &[u8]) -> Result<(ResponseMeta, bool)> {
        let mut reader = raw;
        read_response_discarding(&mut reader, &mut Vec::new(), &mut Vec::new()).await
    }

    #[tokio::test]
    async fn discarding_counts_every_framing() {
        let length = b"HTTP/1.1 200 OK\r\nX-Consul-Index: 7\r\nContent-Length: 4\r\n\r\ntrue";
        let (meta, reusable) = parse_discarding(length).await.unwrap();
        assert_eq!((meta.status, meta.index, meta.body_len), (200, Some(7), 4));
        assert!(reusable);
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                        3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert_eq!(parse_discarding(chunked).await.unwrap().0.body_len, 5);
        let until_close = b"HTTP/1.0 404 Not Found\r\n\r\nmissing";
        let (meta, reusable) = parse_discarding(until_close).await.unwrap();
        assert_eq!((meta.status, meta.body_len, reusable), (404, 7, false));
        let short = b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort";
        assert!(parse_discarding(short).await.is_err());
    }

    #[tokio::test]
    async fn discards_large_chunked_body_through_a_socket_buffer() {
        let chunk = vec![b'x'; 300_000];
        let mut raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        for _ in 0..3 {
            raw.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            raw.extend_from_slice(&chunk);
            raw.extend_from_slice(b"\r\n");
        }
        raw.extend_from_slice(b"0\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n");
        let mut reader = BufReader::with_capacity(READ_BUFFER, raw.as_slice());
        let (mut line, mut scratch) = (Vec::new(), Vec::new());
        let (meta, reusable) = read_response_discarding(&mut reader, &mut line, &mut scratch)
            .await
            .unwrap();
        assert_eq!((meta.body_len, reusable), (900_000, true));
        assert!(scratch.len() <= DISCARD_CHUNK);
        let (next, _) = read_response(&mut reader, &mut line).await.unwrap();
        assert_eq!(next.status, 204);
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
