//! The per-connection HTTP/1.1 loop: reads a request head and body, calls the router, writes the
//! response, and repeats while the connection is kept alive.
//!
//! Between requests and while a handler is pending (a long poll), the connection holds no read
//! buffer: reads go through a scratch buffer on the stack, and the heap receives only the bytes
//! that arrived. While a handler is pending, one read watches for the client hanging up.

use super::chunked::{ChunkError, ChunkedDecoder};
use super::head::{parse_head, BodyFraming, HeadError, RequestHead};
use super::response::{asks_to_close, encode_head, is_bodyless, refusal, Framing, Persistence};
use axum::body::Body;
use axum::Router;
use bytes::{Bytes, BytesMut};
use http::{Method, Request, Response, StatusCode, Version};
use http_body::Body as _;
use http_body_util::BodyExt;
use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{ready, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::time::Instant;
use tower::ServiceExt;

/// A request head that has not completed within this many bytes is refused with 431.
const MAX_HEAD: usize = 64 * 1024;

/// The largest request body buffered; a larger one is refused with 413.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// How long a started request head may take to arrive in full.
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);

/// The stack scratch buffer each socket read goes through.
const READ_CHUNK: usize = 4096;

const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Why a connection ended other than by a clean close between requests.
#[derive(Debug, thiserror::Error)]
enum ConnectionError {
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error("refused the request with {0}")]
    Refused(StatusCode),
    #[error("the client closed the connection mid-request")]
    Incomplete,
    #[error("the client hung up while its request was pending")]
    HungUp,
    #[error("the request head did not arrive within {HEAD_TIMEOUT:?}")]
    HeadTimeout,
    #[error("the response body failed: {0}")]
    Body(axum::Error),
}

impl From<HeadError> for ConnectionError {
    fn from(error: HeadError) -> Self {
        ConnectionError::Refused(match error {
            HeadError::Malformed => StatusCode::BAD_REQUEST,
            HeadError::TooManyHeaders => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            HeadError::UnsupportedCoding => StatusCode::NOT_IMPLEMENTED,
        })
    }
}

/// What the response writer needs to know about the request it answers.
#[derive(Debug, Clone, Copy)]
struct Exchange {
    version: Version,
    is_head: bool,
    keep_alive: bool,
}

/// Serves HTTP/1.1 requests on `stream` with `router` until either side closes the connection.
pub async fn serve_connection<S>(stream: S, router: Router)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut connection = Connection {
        stream,
        buf: BytesMut::new(),
    };
    match connection.run(&router).await {
        Ok(()) => {}
        Err(ConnectionError::Refused(status)) => connection.refuse(status).await,
        Err(error) => tracing::debug!(%error, "HTTP connection ended"),
    }
}

/// One client connection and the bytes read from it but not yet consumed.
struct Connection<S> {
    stream: S,
    buf: BytesMut,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    async fn run(&mut self, router: &Router) -> Result<(), ConnectionError> {
        while let Some(head) = self.read_head().await? {
            let exchange = Exchange {
                version: head.version,
                is_head: head.method == Method::HEAD,
                keep_alive: head.wants_keep_alive(),
            };
            let body = self.read_body(&head).await?;
            if self.buf.is_empty() {
                self.buf = BytesMut::new();
            }
            let response = self.call(router, into_request(head, body)).await?;
            if !self.write_response(response, exchange).await? {
                break;
            }
        }
        Ok(())
    }

    /// Reads until a whole request head is buffered; `None` when the client closes between requests.
    ///
    /// `httparse` parses from the start of the buffer each time, so it runs only when a head
    /// may have completed (a blank line arrived) or the buffer has doubled since the last try:
    /// a head trickling in byte by byte costs linear time, not quadratic, while garbage is
    /// still refused as soon as it arrives.
    async fn read_head(&mut self) -> Result<Option<RequestHead>, ConnectionError> {
        let mut deadline = None;
        let mut search = HeadEnd::default();
        loop {
            if !self.buf.is_empty() && search.worth_parsing(&self.buf) {
                if let Some(head) = parse_head(&mut self.buf)? {
                    return Ok(Some(head));
                }
                if self.buf.len() >= MAX_HEAD {
                    return Err(ConnectionError::Refused(
                        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                    ));
                }
            }
            let read = if self.buf.is_empty() {
                self.read_more().await?
            } else {
                let deadline = *deadline.get_or_insert_with(|| Instant::now() + HEAD_TIMEOUT);
                tokio::time::timeout_at(deadline, self.read_more())
                    .await
                    .map_err(|_| ConnectionError::HeadTimeout)??
            };
            if read == 0 {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                // Answer a malformed head that was not parsed yet, as if parsed on arrival.
                return match parse_head(&mut self.buf)? {
                    Some(head) => Ok(Some(head)),
                    None => Err(ConnectionError::Incomplete),
                };
            }
        }
    }

    /// Reads the whole request body as the head frames it.
    async fn read_body(&mut self, head: &RequestHead) -> Result<Bytes, ConnectionError> {
        match head.framing {
            BodyFraming::Empty => Ok(Bytes::new()),
            BodyFraming::Length(len) => self.read_sized_body(len, head.expects_continue()).await,
            BodyFraming::Chunked => self.read_chunked_body(head.expects_continue()).await,
        }
    }

    async fn read_sized_body(
        &mut self,
        len: u64,
        expects_continue: bool,
    ) -> Result<Bytes, ConnectionError> {
        let len = usize::try_from(len)
            .ok()
            .filter(|&len| len <= MAX_BODY)
            .ok_or(ConnectionError::Refused(StatusCode::PAYLOAD_TOO_LARGE))?;
        if self.buf.len() < len {
            if expects_continue {
                self.stream.write_all(CONTINUE).await?;
            }
            while self.buf.len() < len {
                // Room grows with the bytes that arrived (spare room up to what is already
                // held), never up front to the declared length: a head alone must not make
                // the server allocate 16 MiB, nor may many small reads.
                let due = len - self.buf.len();
                self.buf.reserve(due.min(self.buf.len().max(READ_CHUNK)));
                if self.stream.read_buf(&mut self.buf).await? == 0 {
                    return Err(ConnectionError::Incomplete);
                }
            }
        }
        Ok(self.buf.split_to(len).freeze())
    }

    async fn read_chunked_body(
        &mut self,
        expects_continue: bool,
    ) -> Result<Bytes, ConnectionError> {
        let mut decoder = ChunkedDecoder::new(MAX_BODY as u64);
        let mut body = BytesMut::new();
        let mut continue_due = expects_continue;
        loop {
            let done = decoder.decode(&mut self.buf, &mut body).map_err(|error| {
                ConnectionError::Refused(match error {
                    ChunkError::Malformed => StatusCode::BAD_REQUEST,
                    ChunkError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
                })
            })?;
            if done {
                return Ok(body.freeze());
            }
            if std::mem::take(&mut continue_due) {
                self.stream.write_all(CONTINUE).await?;
            }
            if self.read_more().await? == 0 {
                return Err(ConnectionError::Incomplete);
            }
        }
    }

    /// Reads what the socket has (up to [`READ_CHUNK`]) onto the end of the buffer, through a
    /// scratch buffer on the stack so that nothing is allocated while waiting.
    async fn read_more(&mut self) -> io::Result<usize> {
        let Connection { stream, buf } = self;
        poll_fn(|cx| {
            let mut scratch = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
            let mut read = ReadBuf::uninit(&mut scratch);
            ready!(Pin::new(&mut *stream).poll_read(cx, &mut read))?;
            buf.extend_from_slice(read.filled());
            Poll::Ready(Ok(read.filled().len()))
        })
        .await
    }

    /// Runs the router on `request`. While it is pending and no pipelined request is waiting,
    /// one read watches the socket: end of stream means the client gave up, and the handler is
    /// dropped (as hyper does without half-close support).
    async fn call(
        &mut self,
        router: &Router,
        request: Request<Body>,
    ) -> Result<Response<Body>, ConnectionError> {
        let handler = router.clone().oneshot(request);
        tokio::pin!(handler);
        if self.buf.is_empty() {
            tokio::select! {
                biased;
                response = &mut handler => return Ok(response.unwrap_or_else(|never| match never {})),
                read = self.read_more() => {
                    if read? == 0 {
                        return Err(ConnectionError::HungUp);
                    }
                }
            }
        }
        Ok(handler.await.unwrap_or_else(|never| match never {}))
    }

    /// Writes the response; returns whether the connection stays open.
    async fn write_response(
        &mut self,
        response: Response<Body>,
        exchange: Exchange,
    ) -> Result<bool, ConnectionError> {
        let (parts, body) = response.into_parts();
        let keep_alive = exchange.keep_alive && !asks_to_close(&parts.headers);
        let persistence = match (keep_alive, exchange.version) {
            (false, _) => Persistence::Close,
            (true, Version::HTTP_10) => Persistence::KeepAlive,
            (true, _) => Persistence::Implicit,
        };
        let mut head = Vec::with_capacity(256);
        if is_bodyless(parts.status, exchange.is_head) {
            encode_head(
                &mut head,
                parts.status,
                &parts.headers,
                Framing::Bodyless,
                persistence,
            );
            self.stream.write_all(&head).await?;
        } else if body.size_hint().exact().is_some() || exchange.version == Version::HTTP_10 {
            let data = collect(body).await?;
            let framing = Framing::Length(data.len() as u64);
            encode_head(
                &mut head,
                parts.status,
                &parts.headers,
                framing,
                persistence,
            );
            write_all_parts(&mut self.stream, [&head, &data]).await?;
        } else {
            encode_head(
                &mut head,
                parts.status,
                &parts.headers,
                Framing::Chunked,
                persistence,
            );
            self.stream.write_all(&head).await?;
            self.write_chunks(body).await?;
        }
        self.stream.flush().await?;
        Ok(keep_alive)
    }

    /// Streams a body of unknown length with chunked encoding.
    async fn write_chunks(&mut self, mut body: Body) -> Result<(), ConnectionError> {
        while let Some(frame) = body.frame().await {
            let Ok(data) = frame.map_err(ConnectionError::Body)?.into_data() else {
                continue;
            };
            if !data.is_empty() {
                let size = format!("{:x}\r\n", data.len());
                write_all_parts(&mut self.stream, [size.as_bytes(), &data, b"\r\n"]).await?;
            }
        }
        self.stream.write_all(b"0\r\n\r\n").await?;
        Ok(())
    }

    /// Answers a refused request with `status` and closes the connection.
    async fn refuse(&mut self, status: StatusCode) {
        tracing::debug!(%status, "refused an HTTP request");
        let _closing_anyway = self.stream.write_all(&refusal(status)).await;
        let _closing_anyway = self.stream.shutdown().await;
    }
}

/// Decides when a partial request head is worth handing to `httparse` again. Each byte is
/// searched once.
#[derive(Debug, Default)]
struct HeadEnd {
    /// Where the request line starts, past the empty lines a request may begin with.
    content: Option<usize>,
    /// How much of the buffer was searched.
    searched: usize,
    /// The buffer's length at the last parse.
    parsed: usize,
}

impl HeadEnd {
    /// Whether `buf` may hold a complete head not seen by the last parse (a blank line, LF LF
    /// or LF CR LF, arrived after the request line started), or has doubled since it, or has
    /// reached [`MAX_HEAD`].
    fn worth_parsing(&mut self, buf: &[u8]) -> bool {
        let mut blank_line = false;
        if self.content.is_none() {
            let leading = buf[self.searched..]
                .iter()
                .position(|&b| b != b'\r' && b != b'\n');
            self.content = leading.map(|offset| self.searched + offset);
            self.searched = self.content.unwrap_or(buf.len());
        }
        if let Some(content) = self.content {
            // Back two bytes, for a blank line split across reads.
            let from = self.searched.saturating_sub(2).max(content);
            let rest = &buf[from..];
            blank_line = rest.iter().enumerate().any(|(i, &b)| {
                b == b'\n'
                    && (rest.get(i + 1) == Some(&b'\n') || rest.get(i + 1..i + 3) == Some(b"\r\n"))
            });
            self.searched = buf.len();
        }
        let worth = blank_line || buf.len() >= 2 * self.parsed || buf.len() >= MAX_HEAD;
        if worth {
            self.parsed = buf.len();
        }
        worth
    }
}

/// Assembles the request the router sees.
fn into_request(head: RequestHead, body: Bytes) -> Request<Body> {
    let body = if body.is_empty() {
        Body::empty()
    } else {
        Body::from(body)
    };
    let mut request = Request::new(body);
    *request.method_mut() = head.method;
    *request.uri_mut() = head.uri;
    *request.version_mut() = head.version;
    *request.headers_mut() = head.headers;
    request
}

/// Gathers a body's data frames (usually exactly one) into one buffer; trailers are dropped.
async fn collect(mut body: Body) -> Result<Bytes, ConnectionError> {
    let mut first = Bytes::new();
    let mut joined: Option<BytesMut> = None;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(ConnectionError::Body)?.into_data() else {
            continue;
        };
        match &mut joined {
            Some(joined) => joined.extend_from_slice(&data),
            None if first.is_empty() => first = data,
            None => {
                let mut both = BytesMut::from(&first[..]);
                both.extend_from_slice(&data);
                joined = Some(both);
            }
        }
    }
    Ok(joined.map_or(first, BytesMut::freeze))
}

/// Writes all of `parts` with as few (vectored) writes as the socket allows.
async fn write_all_parts<S: AsyncWrite + Unpin, const N: usize>(
    stream: &mut S,
    parts: [&[u8]; N],
) -> io::Result<()> {
    let mut slices = parts.map(IoSlice::new);
    let mut remaining: &mut [IoSlice<'_>] = &mut slices;
    IoSlice::advance_slices(&mut remaining, 0);
    while !remaining.is_empty() {
        let written = stream.write_vectored(remaining).await?;
        if written == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut remaining, written);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::{get, put};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use tokio::io::DuplexStream;

    /// Sets a flag when dropped, to see a pending handler being dropped.
    struct DropFlag(Arc<AtomicBool>);

    impl Drop for DropFlag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    fn test_router(dropped: Arc<AtomicBool>) -> Router {
        Router::new()
            .route(
                "/echo",
                get(|uri: http::Uri| async move { uri.to_string() }),
            )
            .route("/echo", put(|body: Bytes| async move { body }))
            .route(
                "/stream",
                get(|| async {
                    let parts = ["ab", "cde"].map(|s| Ok::<_, io::Error>(Bytes::from(s)));
                    Body::from_stream(futures::stream::iter(parts))
                }),
            )
            .route(
                "/close",
                get(|| async { ([(http::header::CONNECTION, "close")], "bye") }),
            )
            .route(
                "/forever",
                get(move || {
                    let flag = DropFlag(dropped.clone());
                    async move {
                        let _flag = flag;
                        std::future::pending::<()>().await;
                    }
                }),
            )
    }

    fn start() -> (DuplexStream, tokio::task::JoinHandle<()>, Arc<AtomicBool>) {
        let dropped = Arc::new(AtomicBool::new(false));
        let (client, server) = tokio::io::duplex(1 << 20);
        let task = tokio::spawn(serve_connection(server, test_router(dropped.clone())));
        (client, task, dropped)
    }

    /// Sends `input`, closes the client's write side, and returns all the server wrote.
    async fn exchange(input: &[u8]) -> String {
        let (mut client, task, _) = start();
        client.write_all(input).await.unwrap();
        client.shutdown().await.unwrap();
        let mut output = Vec::new();
        client.read_to_end(&mut output).await.unwrap();
        task.await.unwrap();
        String::from_utf8(output).unwrap().replace(&date_line(), "")
    }

    /// The `date: ...` line of a response, stripped from expected output.
    fn date_line() -> String {
        let mut out = Vec::new();
        encode_head(
            &mut out,
            StatusCode::OK,
            &http::HeaderMap::new(),
            Framing::Bodyless,
            Persistence::Implicit,
        );
        let text = String::from_utf8(out).unwrap();
        text.lines()
            .find(|line| line.starts_with("date: "))
            .map(|line| format!("{line}\r\n"))
            .unwrap()
    }

    const PLAIN: &str = "content-type: text/plain; charset=utf-8\r\n";

    #[tokio::test]
    async fn answers_pipelined_requests_in_order() {
        let output = exchange(
            b"GET /echo?a=%2F HTTP/1.1\r\nHost: x\r\n\r\nGET /echo/../echo?b HTTP/1.1\r\n\r\n",
        )
        .await;
        assert_eq!(
            output,
            format!("HTTP/1.1 200 OK\r\n{PLAIN}content-length: 11\r\n\r\n/echo?a=%2FHTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
        );
    }

    #[tokio::test]
    async fn reads_sized_and_chunked_bodies() {
        let output = exchange(b"PUT /echo HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloPUT /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nT: 1\r\n\r\n").await;
        assert_eq!(
            output,
            "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: 5\r\n\r\nhello\
             HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: 5\r\n\r\nabcde"
        );
    }

    #[tokio::test]
    async fn streams_bodies_of_unknown_length_chunked() {
        let output = exchange(b"GET /stream HTTP/1.1\r\n\r\n").await;
        assert_eq!(
            output,
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n"
        );
    }

    #[tokio::test]
    async fn http10_gets_a_length_and_closes_unless_kept_alive() {
        let output = exchange(b"GET /stream HTTP/1.0\r\n\r\nGET /echo HTTP/1.1\r\n\r\n").await;
        assert_eq!(
            output,
            "HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nabcde"
        );
        let kept = exchange(b"GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").await;
        assert_eq!(
            kept,
            format!("HTTP/1.1 200 OK\r\n{PLAIN}content-length: 5\r\nconnection: keep-alive\r\n\r\n/echo")
        );
    }

    #[tokio::test]
    async fn head_requests_get_headers_only() {
        let output = exchange(b"HEAD /echo HTTP/1.1\r\n\r\n").await;
        assert_eq!(
            output,
            format!("HTTP/1.1 200 OK\r\n{PLAIN}content-length: 5\r\n\r\n")
        );
    }

    #[tokio::test]
    async fn connection_close_from_either_side_closes() {
        let output = exchange(b"GET /close HTTP/1.1\r\n\r\nGET /echo HTTP/1.1\r\n\r\n").await;
        assert_eq!(
            output,
            format!("HTTP/1.1 200 OK\r\n{PLAIN}content-length: 3\r\nconnection: close\r\n\r\nbye")
        );
        let asked =
            exchange(b"GET /echo HTTP/1.1\r\nConnection: close\r\n\r\nGET /echo HTTP/1.1\r\n\r\n")
                .await;
        assert_eq!(
            asked,
            format!(
                "HTTP/1.1 200 OK\r\n{PLAIN}content-length: 5\r\nconnection: close\r\n\r\n/echo"
            )
        );
    }

    #[tokio::test]
    async fn refuses_bad_requests_and_closes() {
        let refused = |status: &str| {
            format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        };
        let bad = refused("400 Bad Request");
        assert_eq!(
            exchange(b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n").await,
            bad
        );
        let both = b"PUT /echo HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(exchange(both).await, bad);
        assert_eq!(
            exchange(b"PUT /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").await,
            bad
        );
        let huge = format!(
            "PUT /echo HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY + 1
        );
        assert_eq!(
            exchange(huge.as_bytes()).await,
            refused("413 Payload Too Large")
        );
        let long = format!(
            "GET /echo HTTP/1.1\r\nX-Long: {}\r\n\r\n",
            "a".repeat(2 * MAX_HEAD)
        );
        assert_eq!(
            exchange(long.as_bytes()).await,
            refused("431 Request Header Fields Too Large")
        );
    }

    #[tokio::test]
    async fn an_incomplete_request_gets_no_answer() {
        assert_eq!(exchange(b"GET /echo HTTP/1.1\r\nHost").await, "");
        assert_eq!(
            exchange(b"PUT /echo HTTP/1.1\r\nContent-Length: 9\r\n\r\nabc").await,
            ""
        );
    }

    #[tokio::test]
    async fn sends_100_continue_before_reading_an_expected_body() {
        let (mut client, task, _) = start();
        client
            .write_all(b"PUT /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
            .await
            .unwrap();
        let mut interim = [0; CONTINUE.len()];
        client.read_exact(&mut interim).await.unwrap();
        assert_eq!(&interim, CONTINUE);
        client.write_all(b"abc").await.unwrap();
        client.shutdown().await.unwrap();
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).await.unwrap();
        let rest = String::from_utf8(rest).unwrap();
        assert!(rest.starts_with("HTTP/1.1 200 OK\r\n"), "{rest}");
        assert!(rest.ends_with("\r\n\r\nabc"), "{rest}");
        task.await.unwrap();
    }

    #[tokio::test]
    async fn a_client_hanging_up_drops_its_pending_handler() {
        let (mut client, task, dropped) = start();
        client
            .write_all(b"GET /forever HTTP/1.1\r\n\r\n")
            .await
            .unwrap();
        client.shutdown().await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .unwrap()
            .unwrap();
        assert!(dropped.load(Ordering::SeqCst));
    }
}
