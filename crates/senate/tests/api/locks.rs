//! Session locks on KV keys: `?acquire` / `?release`, contention, what happens to held keys when
//! a session is destroyed (release vs delete behavior), and the lock delay.

use crate::harness::{wait_for, Server};
use crate::ops::{create_session, get_entry, put_bool, value_of};
use std::time::{Duration, Instant};

#[test]
fn acquire_contend_reacquire_and_release() {
    let server = Server::dev();
    let mut c = server.client();
    let first = create_session(&mut c, "");
    let second = create_session(&mut c, "");

    assert!(
        put_bool(&mut c, &format!("/v1/kv/leader?acquire={first}"), "one"),
        "a free key is acquired"
    );
    let entry = get_entry(&mut c, "leader").expect("acquire creates the key");
    assert_eq!(entry["LockIndex"], 1);
    assert_eq!(entry["Session"], first.as_str());
    assert_eq!(value_of(&entry), b"one");

    assert!(
        !put_bool(&mut c, &format!("/v1/kv/leader?acquire={second}"), "two"),
        "a held lock refuses others"
    );
    let entry = get_entry(&mut c, "leader").expect("key exists");
    assert_eq!(entry["Session"], first.as_str());
    assert_eq!(value_of(&entry), b"one", "a refused acquire writes nothing");

    assert!(
        put_bool(&mut c, &format!("/v1/kv/leader?acquire={first}"), "again"),
        "the holder may re-acquire"
    );
    let entry = get_entry(&mut c, "leader").expect("key exists");
    assert_eq!(
        entry["LockIndex"], 1,
        "re-acquiring by the holder does not bump LockIndex"
    );
    assert_eq!(value_of(&entry), b"again");

    assert!(
        !put_bool(&mut c, &format!("/v1/kv/leader?release={second}"), ""),
        "only the holder may release"
    );
    assert!(put_bool(
        &mut c,
        &format!("/v1/kv/leader?release={first}"),
        "released"
    ));
    let entry = get_entry(&mut c, "leader").expect("release keeps the key");
    assert!(
        entry.get("Session").is_none(),
        "Session must be gone after release: {entry}"
    );
    assert_eq!(entry["LockIndex"], 1, "release leaves LockIndex alone");
    assert_eq!(value_of(&entry), b"released");

    assert!(
        put_bool(&mut c, &format!("/v1/kv/leader?acquire={first}"), "three"),
        "a released key can be re-acquired"
    );
    assert_eq!(
        get_entry(&mut c, "leader").expect("key exists")["LockIndex"],
        2
    );
}

#[test]
fn acquire_with_unknown_session_fails_and_leaves_the_key() {
    let server = Server::dev();
    let mut c = server.client();
    crate::ops::put_true(&mut c, "/v1/kv/guarded", "original");
    let unknown = "11111111-2222-4333-8444-555555555555";
    let response = c.put(&format!("/v1/kv/guarded?acquire={unknown}"), "hijacked");
    assert!(
        (400..500).contains(&response.status),
        "got {} {:?}",
        response.status,
        response.text()
    );
    let entry = get_entry(&mut c, "guarded").expect("key exists");
    assert_eq!(value_of(&entry), b"original");
    assert!(entry.get("Session").is_none());

    let fresh = c.put(&format!("/v1/kv/never-created?acquire={unknown}"), "x");
    assert!(
        (400..500).contains(&fresh.status),
        "got {} {:?}",
        fresh.status,
        fresh.text()
    );
    assert!(get_entry(&mut c, "never-created").is_none());
}

#[test]
fn destroying_a_release_session_releases_its_keys() {
    let server = Server::dev();
    let mut c = server.client();
    let id = create_session(&mut c, r#"{"Behavior":"release"}"#);
    assert!(put_bool(
        &mut c,
        &format!("/v1/kv/held/a?acquire={id}"),
        "a"
    ));
    assert!(put_bool(
        &mut c,
        &format!("/v1/kv/held/b?acquire={id}"),
        "b"
    ));

    c.put(&format!("/v1/session/destroy/{id}"), "").expect(200);
    for key in ["held/a", "held/b"] {
        let entry = get_entry(&mut c, key).expect("release behavior keeps the key");
        assert!(
            entry.get("Session").is_none(),
            "{key} still locked: {entry}"
        );
        assert_eq!(entry["LockIndex"], 1);
    }
}

#[test]
fn destroying_a_delete_session_deletes_its_keys() {
    let server = Server::dev();
    let mut c = server.client();
    let id = create_session(&mut c, r#"{"Behavior":"delete"}"#);
    assert!(put_bool(
        &mut c,
        &format!("/v1/kv/ephemeral/a?acquire={id}"),
        "a"
    ));
    assert!(put_bool(
        &mut c,
        &format!("/v1/kv/ephemeral/b?acquire={id}"),
        "b"
    ));
    crate::ops::put_true(&mut c, "/v1/kv/ephemeral/unlocked", "stays");

    c.put(&format!("/v1/session/destroy/{id}"), "").expect(200);
    assert!(get_entry(&mut c, "ephemeral/a").is_none());
    assert!(get_entry(&mut c, "ephemeral/b").is_none());
    assert!(
        get_entry(&mut c, "ephemeral/unlocked").is_some(),
        "keys the session did not hold stay"
    );
}

#[test]
fn lock_delay_blocks_other_sessions_until_it_passes() {
    let server = Server::dev();
    let mut c = server.client();
    let holder = create_session(&mut c, r#"{"LockDelay":"2s"}"#);
    let waiter = create_session(&mut c, "");
    assert!(put_bool(
        &mut c,
        &format!("/v1/kv/delayed?acquire={holder}"),
        "held"
    ));

    c.put(&format!("/v1/session/destroy/{holder}"), "")
        .expect(200);
    let destroyed = Instant::now();
    let acquire = format!("/v1/kv/delayed?acquire={waiter}");
    assert!(
        !put_bool(&mut c, &acquire, "too soon"),
        "acquire during the lock delay must fail"
    );

    wait_for(Duration::from_secs(10), "the lock delay to pass", || {
        put_bool(&mut c, &acquire, "mine").then_some(())
    });
    let waited = destroyed.elapsed();
    assert!(
        waited >= Duration::from_millis(1500),
        "lock delay of 2s ended after {waited:?}"
    );
    let entry = get_entry(&mut c, "delayed").expect("key exists");
    assert_eq!(entry["Session"], waiter.as_str());
    assert_eq!(value_of(&entry), b"mine");
}
