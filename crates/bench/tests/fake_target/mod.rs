//! A tiny in-test HTTP/1.1 server implementing just enough of `/v1/kv` to be a bench target.
//!
//! GET answers are chunked and PUT answers use Content-Length, and every 25th request on a
//! connection is answered with `Connection: close`, so the bench client's framing and
//! reconnect paths are exercised over real sockets.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

const CLOSE_EVERY: u64 = 25;
const MAX_WAIT: Duration = Duration::from_secs(10);

/// A running fake target; it stops when the test's runtime ends.
pub struct FakeTarget {
    pub addr: SocketAddr,
    state: Arc<State>,
}

struct State {
    /// Key → (value, modify index).
    kv: Mutex<BTreeMap<String, (Vec<u8>, u64)>>,
    /// Latest raft-like index; bumped on every write.
    index: watch::Sender<u64>,
}

struct Request {
    method: String,
    path: String,
    query: String,
    body: Vec<u8>,
}

impl FakeTarget {
    pub async fn start() -> FakeTarget {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            kv: Mutex::new(BTreeMap::new()),
            index: watch::channel(1).0,
        });
        let shared = Arc::clone(&state);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, Arc::clone(&shared)));
            }
        });
        FakeTarget { addr, state }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Keys currently stored.
    pub fn keys(&self) -> Vec<String> {
        self.state.kv.lock().unwrap().keys().cloned().collect()
    }
}

impl State {
    /// Applies one write at the next index, then wakes blocked readers.
    fn write(&self, apply: impl FnOnce(&mut BTreeMap<String, (Vec<u8>, u64)>, u64)) {
        let mut kv = self.kv.lock().unwrap();
        let index = *self.index.borrow() + 1;
        apply(&mut kv, index);
        self.index.send_replace(index);
    }
}

async fn serve(stream: TcpStream, state: Arc<State>) {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    for served in 1.. {
        let Some(request) = read_request(&mut read).await else {
            return;
        };
        let close = served % CLOSE_EVERY == 0;
        let response = respond(&state, request, close).await;
        if write.write_all(&response).await.is_err() || close {
            return;
        }
    }
}

async fn read_request<R: AsyncBufReadExt + Unpin>(read: &mut R) -> Option<Request> {
    let mut line = String::new();
    if read.read_line(&mut line).await.ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?;
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let (path, query) = (path.to_string(), query.to_string());
    let mut length = 0;
    loop {
        line.clear();
        read.read_line(&mut line).await.ok()?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().ok()?;
            }
        }
    }
    let mut body = vec![0; length];
    read.read_exact(&mut body).await.ok()?;
    Some(Request {
        method,
        path,
        query,
        body,
    })
}

async fn respond(state: &State, request: Request, close: bool) -> Vec<u8> {
    let key = request.path.strip_prefix("/v1/kv/").map(str::to_string);
    match (request.method.as_str(), key) {
        ("GET", None) if request.path == "/v1/status/leader" => {
            plain(200, b"\"127.0.0.1:8300\"", close)
        }
        ("PUT", Some(key)) => {
            state.write(|kv, index| {
                kv.insert(key, (request.body, index));
            });
            plain(200, b"true", close)
        }
        ("DELETE", Some(prefix)) if request.query == "recurse" => {
            state.write(|kv, _| kv.retain(|k, _| !k.starts_with(&prefix)));
            plain(200, b"true", close)
        }
        ("GET", Some(key)) => get(state, &key, &request.query, close).await,
        _ => plain(404, b"not found", close),
    }
}

/// A KV read; with `index=N` it blocks until the key's index passes N (or the wait ends).
async fn get(state: &State, key: &str, query: &str, close: bool) -> Vec<u8> {
    let wait_index: u64 = query_param(query, "index")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut changes = state.index.subscribe();
    let deadline = tokio::time::Instant::now() + MAX_WAIT;
    loop {
        let latest = *changes.borrow_and_update();
        let entry = state.kv.lock().unwrap().get(key).cloned();
        let index = entry.as_ref().map_or(latest, |(_, i)| *i);
        if index > wait_index || wait_index == 0 {
            return match entry {
                Some((value, _)) => chunked_json(key, &value, index, close),
                None => plain(404, b"", close),
            };
        }
        if tokio::time::timeout_at(deadline, changes.changed())
            .await
            .is_err()
        {
            return chunked_json(key, b"", index, close);
        }
    }
}

fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

fn plain(status: u16, body: &[u8], close: bool) -> Vec<u8> {
    let mut out = head(status, close, None);
    out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
    out
}

/// A Consul-shaped KV answer (value not base64-encoded; the bench never decodes it), in two chunks.
fn chunked_json(key: &str, value: &[u8], index: u64, close: bool) -> Vec<u8> {
    let json = format!(
        "[{{\"Key\":\"{key}\",\"ModifyIndex\":{index},\"Value\":\"{}\"}}]",
        String::from_utf8_lossy(value)
    );
    let (first, second) = json.split_at(json.len() / 2);
    let mut out = head(200, close, Some(index));
    out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
    for chunk in [first, second] {
        out.extend_from_slice(format!("{:x}\r\n{chunk}\r\n", chunk.len()).as_bytes());
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

fn head(status: u16, close: bool, index: Option<u64>) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n");
    if let Some(index) = index {
        out.push_str(&format!("X-Consul-Index: {index}\r\n"));
    }
    if close {
        out.push_str("Connection: close\r\n");
    }
    out.into_bytes()
}
