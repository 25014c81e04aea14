//! Durability of a `-server -bootstrap-expect=1 -data-dir` server: every acknowledged write
//! survives `kill -9`, including after the log was snapshotted and compacted.

use crate::harness::{wait_for, Server, TempDir};
use crate::http::Client;
use crate::ops::{get_entry, put_true, value_of};
use std::collections::BTreeMap;
use std::path::Path;
use std::thread;
use std::time::Duration;

/// The server snapshots its state and compacts the log at least every 16,384 Raft entries.
const SNAPSHOT_EVERY_ENTRIES: u64 = 16_384;
/// How far past the threshold the bulk writers go, so the snapshot is finished before the kill.
const ENTRIES_PAST_SNAPSHOT: u64 = 1_500;
/// How many writes a bulk writer makes between checks of the Raft index.
const WRITES_PER_INDEX_CHECK: usize = 250;

/// When concurrent writers stop.
#[derive(Clone, Copy)]
pub enum Until {
    /// Each writer has written this many keys.
    KeysPerThread(usize),
    /// The Raft index has reached this value (concurrent writes may share one log entry, so the
    /// number of keys needed to pass a log length is not known in advance).
    Index(u64),
}

/// Writes keys from `threads` keep-alive connections at once, asserting each was acknowledged,
/// and returns every key written with its value.
pub fn write_concurrently(
    server: &Server,
    prefix: &str,
    threads: usize,
    until: Until,
) -> BTreeMap<String, String> {
    let writers: Vec<_> = (0..threads)
        .map(|t| {
            let mut client = server.client();
            let prefix = prefix.to_string();
            thread::spawn(move || write_until(&mut client, &format!("{prefix}/{t}"), until))
        })
        .collect();
    writers
        .into_iter()
        .flat_map(|w| w.join().expect("writer thread"))
        .collect()
}

fn write_until(client: &mut Client, prefix: &str, until: Until) -> Vec<(String, String)> {
    let mut written = Vec::new();
    loop {
        let i = written.len();
        if matches!(until, Until::KeysPerThread(count) if i == count) {
            return written;
        }
        let key = format!("{prefix}/{i:06}");
        let value = format!("value-{prefix}-{i}");
        put_true(client, &format!("/v1/kv/{key}"), &value);
        written.push((key, value));
        if let Until::Index(target) = until {
            if (i + 1) % WRITES_PER_INDEX_CHECK == 0
                && modify_index(client, &written[i].0) >= target
            {
                return written;
            }
        }
    }
}

fn modify_index(client: &mut Client, key: &str) -> u64 {
    let entry = get_entry(client, key).unwrap_or_else(|| panic!("{key} was just written"));
    entry["ModifyIndex"].as_u64().expect("ModifyIndex")
}

/// Waits until the server has written a snapshot file into its data directory.
fn wait_for_snapshot_file(data_dir: &Path) {
    wait_for(
        Duration::from_secs(30),
        "a snapshot file in the data directory",
        || {
            files_under(data_dir)
                .into_iter()
                .find(|(name, size)| name.contains("snapshot") && *size > 0)
        },
    );
}

/// (file name, size) of every file below `dir`.
fn files_under(dir: &Path) -> Vec<(String, u64)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .flat_map(|entry| {
            let path = entry.path();
            match entry.metadata() {
                Ok(meta) if meta.is_dir() => files_under(&path),
                Ok(meta) => vec![(entry.file_name().to_string_lossy().into_owned(), meta.len())],
                Err(_) => Vec::new(),
            }
        })
        .collect()
}

/// Every key under `prefix` with its value, read with one recursive GET.
fn read_all(server: &Server, prefix: &str) -> BTreeMap<String, String> {
    let response = server
        .client()
        .get(&format!("/v1/kv/{prefix}/?recurse"))
        .expect(200);
    let entries = response.json();
    let entries = entries.as_array().expect("a JSON array");
    entries
        .iter()
        .map(|e| {
            let key = e["Key"].as_str().expect("Key").to_string();
            (key, String::from_utf8(value_of(e)).expect("UTF-8 value"))
        })
        .collect()
}

fn assert_same(expected: &BTreeMap<String, String>, found: &BTreeMap<String, String>) {
    let missing: Vec<&String> = expected
        .keys()
        .filter(|k| !found.contains_key(*k))
        .take(10)
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged keys lost, e.g. {missing:?}",
        expected.len() - found.len(),
        expected.len()
    );
    let wrong: Vec<&String> = expected
        .iter()
        .filter(|(k, v)| found.get(*k) != Some(v))
        .map(|(k, _)| k)
        .take(10)
        .collect();
    assert!(
        wrong.is_empty(),
        "keys with wrong values after restart: {wrong:?}"
    );
    assert_eq!(expected.len(), found.len(), "unexpected extra keys");
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    let data = TempDir::new("data");
    let mut server = Server::durable(data.path());
    let written = write_concurrently(&server, "durable", 4, Until::KeysPerThread(50));
    assert_eq!(written.len(), 200);
    let mut c = server.client();
    put_true(&mut c, "/v1/kv/last-word", "just before the crash");

    server.kill_and_restart();
    assert_same(&written, &read_all(&server, "durable"));
    let mut c = server.client();
    let last = get_entry(&mut c, "last-word").expect("the final acknowledged write survives");
    assert_eq!(value_of(&last), b"just before the crash");
}

#[test]
fn writes_survive_kill_9_after_snapshot_and_compaction() {
    let data = TempDir::new("data");
    let mut server = Server::durable(data.path());
    // Two writers: little enough batching that each write is nearly one log entry.
    let target = SNAPSHOT_EVERY_ENTRIES + ENTRIES_PAST_SNAPSHOT;
    let written = write_concurrently(&server, "bulk", 2, Until::Index(target));
    let index_before = server
        .client()
        .get("/v1/kv/bulk/?recurse")
        .expect(200)
        .index();
    assert!(index_before >= target, "only reached index {index_before}");
    wait_for_snapshot_file(data.path());

    server.kill_and_restart();
    assert_same(&written, &read_all(&server, "bulk"));
    let index_after_restart = server
        .client()
        .get("/v1/kv/bulk/?recurse")
        .expect(200)
        .index();
    assert_eq!(
        index_after_restart, index_before,
        "the restored index matches what was acknowledged"
    );

    let mut c = server.client();
    put_true(&mut c, "/v1/kv/after-restart", "new");
    let entry = get_entry(&mut c, "after-restart").expect("a new write after restart");
    let new_index = entry["ModifyIndex"].as_u64().expect("ModifyIndex");
    assert!(
        new_index > index_before,
        "new write got index {new_index}, not above {index_before}"
    );

    server.kill_and_restart();
    assert_same(&written, &read_all(&server, "bulk"));
    assert!(get_entry(&mut server.client(), "after-restart").is_some());
}
