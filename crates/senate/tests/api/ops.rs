//! Helpers for the Consul API calls many tests share: writing keys, reading one entry, decoding
//! values and creating sessions.

use crate::http::Client;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::Value;

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
