//! What the HTTP/1.1 conformance and fuzz tests share: the real connection loop
//! (`senate_http::h1::serve_connection`) driven over an in-memory duplex pipe with an echo
//! router, and a parser for what it answers.

#![allow(dead_code)]

use axum::body::Body;
use axum::Router;
use http::{Request, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The statuses the loop itself may answer with when it refuses a request.
pub const REFUSALS: [u16; 4] = [400, 413, 431, 501];

/// A router that answers every request with 200, an `x-echo` header summing up the request
/// as the handler saw it, and the request body as the response body.
pub fn echo_router() -> Router {
    Router::new().fallback(echo)
}

async fn echo(request: Request<Body>) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .expect("the loop hands over a buffered body");
    let summary = summary(parts.method.as_str(), &parts.uri.to_string(), &body);
    Response::builder()
        .header("x-echo", summary)
        .body(Body::from(body))
        .expect("the summary is a valid header value")
}

/// What the echo router says about a request with this method, target and body.
pub fn summary(method: &str, target: &str, body: &[u8]) -> String {
    format!(
        "{method} {target} len={} fnv={:016x}",
        body.len(),
        fnv(body)
    )
}

/// 64-bit FNV-1a.
pub fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A current-thread runtime: the server, the client and the allocation tracker all run on
/// the calling thread.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime")
}

/// Writes `input` to a fresh connection served by the real loop (through a pipe that holds at
/// most `pipe` bytes, so `pipe` bounds each read the server makes), closes the client's write
/// side, and returns everything the server wrote before it closed.
pub async fn exchange(router: &Router, input: &[u8], pipe: usize) -> Vec<u8> {
    let (client, server) = tokio::io::duplex(pipe);
    let serve = senate_http::h1::serve_connection(server, router.clone());
    let (mut from_server, mut to_server) = tokio::io::split(client);
    let write = async {
        // The server may close before reading everything (after refusing a request).
        let _ = to_server.write_all(input).await;
        let _ = to_server.shutdown().await;
    };
    let read = async {
        let mut output = Vec::new();
        let _ = from_server.read_to_end(&mut output).await;
        output
    };
    let ((), (), output) = tokio::join!(serve, write, read);
    output
}

/// `exchange` on a runtime of its own, through a roomy pipe.
pub fn exchange_blocking(input: &[u8]) -> Vec<u8> {
    runtime().block_on(exchange(&echo_router(), input, 1 << 20))
}

/// One response as written by the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    /// Lower-case names; `date` is left out, as it changes with the clock.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn closes(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }

    /// The request the echo router saw, for an echo reply.
    pub fn echo(&self) -> Option<&str> {
        self.header("x-echo")
    }
}

/// Splits the server's output into responses; any byte that is not part of a well-formed
/// response is an error. A response's body is as long as its `content-length` (the echo
/// router never streams), except for the echo of a HEAD request.
pub fn parse_replies(mut output: &[u8]) -> Result<Vec<Reply>, String> {
    let mut replies = Vec::new();
    while !output.is_empty() {
        let mut slots = [httparse::EMPTY_HEADER; 32];
        let mut response = httparse::Response::new(&mut slots);
        let used = match response.parse(output) {
            Ok(httparse::Status::Complete(used)) => used,
            Ok(httparse::Status::Partial) => return Err(format!("truncated response {output:?}")),
            Err(error) => return Err(format!("{error}: {output:?}")),
        };
        if response.version != Some(1) {
            return Err(format!("not HTTP/1.1: {output:?}"));
        }
        let status = response.code.ok_or("no status")?;
        let mut headers = Vec::new();
        let mut length = 0usize;
        for header in response.headers.iter() {
            let name = header.name.to_ascii_lowercase();
            let value = String::from_utf8(header.value.to_vec())
                .map_err(|_| format!("non-UTF-8 header {name}"))?;
            if name == "content-length" {
                length = value
                    .parse()
                    .map_err(|_| format!("bad content-length {value:?}"))?;
            }
            if name == "transfer-encoding" {
                return Err("the echo router never streams".into());
            }
            if name != "date" {
                headers.push((name, value));
            }
        }
        // A response to HEAD has the length a GET would get, and no body.
        if headers
            .iter()
            .any(|(name, value)| name == "x-echo" && value.starts_with("HEAD "))
        {
            length = 0;
        }
        let rest = &output[used..];
        if rest.len() < length {
            return Err(format!("body shorter than {length}: {rest:?}"));
        }
        replies.push(Reply {
            status,
            headers,
            body: rest[..length].to_vec(),
        });
        output = &rest[length..];
    }
    Ok(replies)
}

/// The replies without `100 Continue` interim responses, which depend on how the request's
/// bytes were split into reads.
pub fn finals(replies: Vec<Reply>) -> Vec<Reply> {
    replies.into_iter().filter(|r| r.status != 100).collect()
}

/// Checks what holds for any input: the output is a sequence of well-formed responses; each
/// is an interim 100, an echo, or a refusal with one of [`REFUSALS`] that closes the
/// connection; nothing follows a response that closes the connection.
pub fn check_output(output: &[u8]) -> Result<Vec<Reply>, String> {
    let replies = finals(parse_replies(output)?);
    for (i, reply) in replies.iter().enumerate() {
        let last = i + 1 == replies.len();
        match reply.echo() {
            Some(echo) => {
                if reply.status != 200 {
                    return Err(format!("echo with status {}", reply.status));
                }
                let len = echo
                    .split(' ')
                    .find_map(|part| part.strip_prefix("len="))
                    .ok_or("echo without len")?;
                let head = echo.starts_with("HEAD ");
                if !head && len != reply.body.len().to_string() {
                    return Err(format!("echo {echo:?} with a body of {}", reply.body.len()));
                }
            }
            None => {
                if !REFUSALS.contains(&reply.status) {
                    return Err(format!("unexpected status {}", reply.status));
                }
                if !reply.closes() || !reply.body.is_empty() {
                    return Err(format!("refusal that stays open: {reply:?}"));
                }
            }
        }
        if reply.closes() && !last {
            return Err(format!("a response after one that closed: {replies:?}"));
        }
    }
    Ok(replies)
}
