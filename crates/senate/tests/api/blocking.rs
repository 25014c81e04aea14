//! Blocking queries on KV: `?index&wait` times out with the same index, a relevant write releases
//! the reader promptly, an unrelated write does not, and the index never goes backwards.

use crate::harness::Server;
use crate::http::Response;
use crate::ops::{get_entry, put_true, value_of};
use std::thread;
use std::time::{Duration, Instant};

/// Starts a blocking GET of `path` on its own connection; the handle yields the response and
/// how long it took.
fn block_on(server: &Server, path: String) -> thread::JoinHandle<(Response, Duration)> {
    let mut client = server.client();
    thread::spawn(move || {
        let started = Instant::now();
        let response = client.get(&path);
        (response, started.elapsed())
    })
}

/// Gives a just-started blocking reader time to reach the server before the test writes.
fn let_reader_block() {
    thread::sleep(Duration::from_millis(300));
}

#[test]
fn wait_times_out_with_the_same_index() {
    let server = Server::dev();
    let mut c = server.client();
    put_true(&mut c, "/v1/kv/idle", "v");
    let index = c.get("/v1/kv/idle").expect(200).index();

    let started = Instant::now();
    let response = c
        .get(&format!("/v1/kv/idle?index={index}&wait=1s"))
        .expect(200);
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(950),
        "returned after {elapsed:?}, before the 1s wait"
    );
    assert!(
        elapsed < Duration::from_secs(5),
        "took {elapsed:?} for a 1s wait"
    );
    assert_eq!(response.index(), index);
    assert_eq!(value_of(&response.json()[0]), b"v");
}

#[test]
fn write_to_the_key_releases_the_reader_promptly() {
    let server = Server::dev();
    let mut c = server.client();
    put_true(&mut c, "/v1/kv/watched", "before");
    let index = c.get("/v1/kv/watched").expect(200).index();

    let reader = block_on(&server, format!("/v1/kv/watched?index={index}&wait=30s"));
    let_reader_block();
    put_true(&mut c, "/v1/kv/watched", "after");

    let (response, elapsed) = reader.join().expect("reader thread");
    let response = response.expect(200);
    assert!(
        elapsed < Duration::from_secs(5),
        "released only after {elapsed:?}"
    );
    assert!(
        response.index() > index,
        "new index {} should exceed {index}",
        response.index()
    );
    assert_eq!(value_of(&response.json()[0]), b"after");
}

#[test]
fn write_to_an_unrelated_key_does_not_release_the_reader() {
    let server = Server::dev();
    let mut c = server.client();
    put_true(&mut c, "/v1/kv/quiet", "v");
    let index = c.get("/v1/kv/quiet").expect(200).index();

    let reader = block_on(&server, format!("/v1/kv/quiet?index={index}&wait=2s"));
    let_reader_block();
    put_true(&mut c, "/v1/kv/noisy", "x");
    put_true(&mut c, "/v1/kv/quiet-but-longer", "x");

    let (response, elapsed) = reader.join().expect("reader thread");
    assert!(
        elapsed >= Duration::from_millis(1900),
        "an unrelated write released the reader after {elapsed:?}"
    );
    assert_eq!(response.expect(200).index(), index);
}

#[test]
fn recurse_watcher_is_released_by_a_write_under_its_prefix() {
    let server = Server::dev();
    let mut c = server.client();
    put_true(&mut c, "/v1/kv/dir/one", "1");
    put_true(&mut c, "/v1/kv/elsewhere", "x");
    let index = c.get("/v1/kv/dir/?recurse").expect(200).index();

    let reader = block_on(
        &server,
        format!("/v1/kv/dir/?recurse&index={index}&wait=30s"),
    );
    let_reader_block();
    put_true(&mut c, "/v1/kv/dir/two", "2");

    let (response, elapsed) = reader.join().expect("reader thread");
    let response = response.expect(200);
    assert!(
        elapsed < Duration::from_secs(5),
        "released only after {elapsed:?}"
    );
    assert!(response.index() > index);
    assert_eq!(response.json().as_array().map(Vec::len), Some(2));
}

#[test]
fn delete_under_a_watched_prefix_releases_it_without_the_index_going_back() {
    let server = Server::dev();
    let mut c = server.client();
    put_true(&mut c, "/v1/kv/gone/a", "a");
    put_true(&mut c, "/v1/kv/gone/b", "b");
    let index = c.get("/v1/kv/gone/?recurse").expect(200).index();

    let reader = block_on(
        &server,
        format!("/v1/kv/gone/?recurse&index={index}&wait=30s"),
    );
    let_reader_block();
    // Delete the newest key: what remains has an older ModifyIndex, yet the index must advance.
    assert_eq!(
        c.delete("/v1/kv/gone/b").expect(200).json(),
        serde_json::Value::Bool(true)
    );

    let (response, elapsed) = reader.join().expect("reader thread");
    let response = response.expect(200);
    assert!(
        elapsed < Duration::from_secs(5),
        "released only after {elapsed:?}"
    );
    assert!(
        response.index() > index,
        "index went from {index} to {} after a delete",
        response.index()
    );
    assert_eq!(response.json().as_array().map(Vec::len), Some(1));

    let after = c.get("/v1/kv/gone/?recurse").expect(200).index();
    assert!(
        after >= response.index(),
        "a later read went back from {} to {after}",
        response.index()
    );
    assert!(get_entry(&mut c, "gone/a").is_some());
}

#[test]
fn deleting_a_watched_key_releases_its_reader() {
    let server = Server::dev();
    let mut c = server.client();
    put_true(&mut c, "/v1/kv/doomed", "v");
    let index = c.get("/v1/kv/doomed").expect(200).index();

    let reader = block_on(&server, format!("/v1/kv/doomed?index={index}&wait=30s"));
    let_reader_block();
    c.delete("/v1/kv/doomed").expect(200);

    let (response, elapsed) = reader.join().expect("reader thread");
    assert!(
        elapsed < Duration::from_secs(5),
        "released only after {elapsed:?}"
    );
    let response = response.expect(404);
    assert!(
        response.index() > index,
        "the 404 index {} should exceed {index}",
        response.index()
    );
}

#[test]
fn session_list_watcher_is_released_by_a_new_session() {
    let server = Server::dev();
    let mut c = server.client();
    let index = c.get("/v1/session/list").expect(200).index();

    let reader = block_on(&server, format!("/v1/session/list?index={index}&wait=30s"));
    let_reader_block();
    let id = crate::ops::create_session(&mut c, "");

    let (response, elapsed) = reader.join().expect("reader thread");
    let response = response.expect(200);
    assert!(
        elapsed < Duration::from_secs(5),
        "released only after {elapsed:?}"
    );
    assert!(response.index() > index);
    assert_eq!(response.json()[0]["ID"], id.as_str());
}
