//! A tiny in-test HTTP/1.1 server implementing just enough of `/v1/kv` and `/v1/catalog` to be
//! a bench target.
//!
//! KV and health GET answers are chunked, other answers use Content-Length, and every 25th
//! request on a connection is answered with `Connection: close`, so the bench client's framing
//! and reconnect paths are exercised over real sockets.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

const CLOSE_EVERY: u64 = 25;
const MAX_WAIT: Duration = Duration::from_secs(10);
/// Largest chunk of a chunked answer, small enough that a health answer spans many chunks.
const MAX_CHUNK: usize = 1000;

/// Node → service ID → service name.
type Catalog = BTreeMap<String, BTreeMap<String, String>>;

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
    catalog: Mutex<Catalog>,
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
            catalog: Mutex::new(BTreeMap::new()),
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

    /// Nodes currently registered in the catalog.
    pub fn nodes(&self) -> Vec<String> {
        self.state.catalog.lock().unwrap().keys().cloned().collect()
    }

    /// The body `GET /v1/health/service/<service>` answers with right now.
    pub fn health_body(&self, service: &str) -> Vec<u8> {
        health_json(&self.state.catalog.lock().unwrap(), service)
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
        _ => catalog(state, &request, close),
    }
}

/// The catalog endpoints the bench uses; anything else is a 404.
fn catalog(state: &State, request: &Request, close: bool) -> Vec<u8> {
    let mut catalog = state.catalog.lock().unwrap();
    let health = request.path.strip_prefix("/v1/health/service/");
    match (request.method.as_str(), request.path.as_str(), health) {
        ("PUT", "/v1/catalog/register", _) => match register(&mut catalog, &request.body) {
            Some(()) => plain(200, b"true", close),
            None => plain(400, b"bad registration", close),
        },
        ("PUT", "/v1/catalog/deregister", _) => match node_of(&request.body) {
            Some(node) => {
                catalog.remove(&node);
                plain(200, b"true", close)
            }
            None => plain(400, b"missing Node", close),
        },
        ("GET", "/v1/catalog/services", _) => {
            let names: BTreeMap<&String, Vec<String>> = catalog
                .values()
                .flat_map(BTreeMap::values)
                .map(|name| (name, Vec::new()))
                .collect();
            plain(200, &serde_json::to_vec(&names).unwrap(), close)
        }
        ("GET", _, Some(service)) => chunked(&health_json(&catalog, service), 1, close),
        _ => plain(404, b"not found", close),
    }
}

fn register(catalog: &mut Catalog, body: &[u8]) -> Option<()> {
    let registration: serde_json::Value = serde_json::from_slice(body).ok()?;
    let node = registration["Node"].as_str()?.to_string();
    let service = &registration["Service"];
    let id = service["ID"].as_str()?.to_string();
    let name = service["Service"].as_str()?.to_string();
    catalog.entry(node).or_default().insert(id, name);
    Some(())
}

fn node_of(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    Some(value["Node"].as_str()?.to_string())
}

/// One Consul-shaped health entry per instance of `service`.
fn health_json(catalog: &Catalog, service: &str) -> Vec<u8> {
    let entries: Vec<serde_json::Value> = catalog
        .iter()
        .flat_map(|(node, services)| {
            services
                .iter()
                .filter(move |(_, name)| name.as_str() == service)
                .map(move |(id, name)| {
                    serde_json::json!({
                        "Node": {"Node": node},
                        "Service": {"ID": id, "Service": name},
                        "Checks": [{"Status": "passing", "ServiceID": id}],
                    })
                })
        })
        .collect();
    serde_json::to_vec(&entries).unwrap()
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
    chunked(json.as_bytes(), index, close)
}

/// A 200 answer with `body` sent in two halves, each cut into chunks of at most [`MAX_CHUNK`] bytes.
fn chunked(body: &[u8], index: u64, close: bool) -> Vec<u8> {
    let (first, second) = body.split_at(body.len() / 2);
    let mut out = head(200, close, Some(index));
    out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
    for chunk in first.chunks(MAX_CHUNK).chain(second.chunks(MAX_CHUNK)) {
        out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
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
