//! Helpers for the Consul API calls many tests share: writing keys, reading one entry, decoding
//! values, creating sessions, reading JSON, finding checks and running blocking reads.

use crate::harness::Server;
use crate::http::{Client, Response};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::Value;
use std::thread;
use std::time::{Duration, Instant};

/// PUTs `body` to `path` and asserts Consul's success answer: 200 with the body `true`.
#[track_caller]
pub fn put_true(client: &mut Client, path: &str, body: impl AsRef<[u8]>) {
    let response = client.put(path, body).expect(200);
    assert_eq!(response.json(), Value::Bool(true), "PUT {path}");
}

/// PUTs `body` to `path` and returns the JSON boolean answer (for `?cas`, `?acquire`, `?release`).
#[track_caller]
pub fn put_bool(client: &mut Client, path: &str, body: impl AsRef<[u8]>) -> bool {
    let response = client.put(path, body).expect(200);
    response
        .json()
        .as_bool()
        .unwrap_or_else(|| panic!("PUT {path} answered {:?}, not a boolean", response.text()))
}

/// The single entry stored under `key` (already percent-encoded), or `None` on 404.
#[track_caller]
pub fn get_entry(client: &mut Client, key: &str) -> Option<Value> {
    let response = client.get(&format!("/v1/kv/{key}"));
    if response.status == 404 {
        return None;
    }
    let entries = response.expect(200).json();
    let entries = entries.as_array().expect("a KV read answers a JSON array");
    assert_eq!(entries.len(), 1, "a single-key read returned {entries:?}");
    Some(entries[0].clone())
}

/// The decoded `Value` of a KV entry (`null` decodes to no bytes).
#[track_caller]
pub fn value_of(entry: &Value) -> Vec<u8> {
    match &entry["Value"] {
        Value::Null => Vec::new(),
        Value::String(encoded) => STANDARD.decode(encoded).expect("Value is base64"),
        other => panic!("Value should be base64 or null, got {other}"),
    }
}

/// Standard base64 of `bytes`, as Consul encodes values and payloads.
pub fn base64(bytes: impl AsRef<[u8]>) -> String {
    STANDARD.encode(bytes)
}

/// Creates a session from the JSON `body` (may be empty) and returns its ID.
#[track_caller]
pub fn create_session(client: &mut Client, body: &str) -> String {
    let response = client.put("/v1/session/create", body).expect(200);
    let id = response.json()["ID"]
        .as_str()
        .expect("session create answers {\"ID\": ...}")
        .to_string();
    assert_eq!(id.len(), 36, "session ID {id:?} should be a UUID");
    id
}

/// The sessions `/v1/session/info/<id>` reports (empty once the session is gone).
#[track_caller]
pub fn session_info(client: &mut Client, id: &str) -> Vec<Value> {
    let response = client.get(&format!("/v1/session/info/{id}")).expect(200);
    response
        .json()
        .as_array()
        .cloned()
        .expect("session info answers a JSON array")
}

/// GETs `path`, asserts 200 and returns the JSON body.
#[track_caller]
pub fn get_json(client: &mut Client, path: &str) -> Value {
    client.get(path).expect(200).json()
}

/// PUTs `body` to an agent endpoint and asserts 200 (agent writes answer with no JSON body).
#[track_caller]
pub fn put_ok(client: &mut Client, path: &str, body: impl AsRef<[u8]>) {
    client.put(path, body).expect(200);
}

/// The check `check_id` as `/v1/agent/checks` shows it, if the agent has it.
#[track_caller]
pub fn agent_check(client: &mut Client, check_id: &str) -> Option<Value> {
    get_json(client, "/v1/agent/checks").get(check_id).cloned()
}

/// The check `check_id` of `node` as the catalog (`/v1/health/node/<node>`) shows it.
#[track_caller]
pub fn catalog_check(client: &mut Client, node: &str, check_id: &str) -> Option<Value> {
    let checks = get_json(client, &format!("/v1/health/node/{node}"));
    checks
        .as_array()
        .expect("/v1/health/node answers a JSON array")
        .iter()
        .find(|check| check["CheckID"] == check_id)
        .cloned()
}

/// Starts a GET of `path` on its own connection and thread (for blocking queries); the handle
/// yields the response and how long it took.
pub fn get_in_background(
    server: &Server,
    path: String,
) -> thread::JoinHandle<(Response, Duration)> {
    let mut client = server.client();
    thread::spawn(move || {
        let started = Instant::now();
        let response = client.get(&path);
        (response, started.elapsed())
    })
}

/// How long a blocking reader is given to reach the server before the test writes.
const READER_HEAD_START: Duration = Duration::from_millis(300);
/// How soon a relevant change must release a blocked reader.
const PROMPT_WAKE: Duration = Duration::from_secs(5);

/// Reads `path` (which may carry a query), blocks on it at that index while `change` runs, and
/// asserts the change released the reader promptly with a higher index; returns that response.
#[track_caller]
pub fn assert_change_wakes(server: &Server, path: &str, change: impl FnOnce()) -> Response {
    let index = server.client().get(path).expect(200).index();
    let reader = get_in_background(server, blocking_path(path, index, "10s"));
    thread::sleep(READER_HEAD_START);
    change();
    let (response, elapsed) = reader.join().expect("blocking reader thread");
    let response = response.expect(200);
    assert!(
        elapsed >= READER_HEAD_START / 2,
        "{path}: answered after {elapsed:?}, before the change; it did not block at index {index}"
    );
    assert!(
        elapsed < READER_HEAD_START + PROMPT_WAKE,
        "{path}: the change released the reader only after {elapsed:?}"
    );
    assert!(
        response.index() > index,
        "{path}: released with index {} after the change, not above {index}",
        response.index()
    );
    response
}

/// Blocks on `path` at its current index with a 2 s wait while `change` runs, and asserts the
/// change did not release the reader: it answers when the wait runs out, with the same index.
#[track_caller]
pub fn assert_change_does_not_wake(server: &Server, path: &str, change: impl FnOnce()) {
    let index = server.client().get(path).expect(200).index();
    let reader = get_in_background(server, blocking_path(path, index, "2s"));
    thread::sleep(READER_HEAD_START);
    change();
    let (response, elapsed) = reader.join().expect("blocking reader thread");
    let response = response.expect(200);
    assert!(
        elapsed >= Duration::from_millis(1900),
        "{path}: an unrelated change released the reader after {elapsed:?} (index {} -> {})",
        index,
        response.index()
    );
    assert_eq!(
        response.index(),
        index,
        "{path}: the index moved for an unrelated change"
    );
}

fn blocking_path(path: &str, index: u64, wait: &str) -> String {
    let separator = if path.contains('?') { '&' } else { '?' };
    format!("{path}{separator}index={index}&wait={wait}")
}
