//! User events: fire with a payload, list, filter by `?name=`, and a blocking list released by a
//! new event.

use crate::harness::Server;
use crate::ops::base64;
use serde_json::Value;
use std::thread;
use std::time::{Duration, Instant};

fn event_ids(events: &Value) -> Vec<String> {
    let events = events.as_array().expect("event list is an array");
    events
        .iter()
        .map(|e| e["ID"].as_str().expect("ID").to_string())
        .collect()
}

#[test]
fn fire_returns_the_event_and_list_shows_it() {
    let server = Server::dev();
    let mut c = server.client();
    let fired = c.put("/v1/event/fire/deploy", "v1.2.3").expect(200).json();
    let id = fired["ID"].as_str().expect("ID").to_string();
    assert_eq!(id.len(), 36, "event ID {id:?} is a UUID");
    assert_eq!(fired["Name"], "deploy");
    assert_eq!(fired["Payload"], base64("v1.2.3"));
    assert_eq!(fired["Version"], 1);
    for filter in ["NodeFilter", "ServiceFilter", "TagFilter"] {
        assert_eq!(fired[filter], "", "{filter}");
    }

    let empty = c.put("/v1/event/fire/ping", "").expect(200).json();
    assert_eq!(
        empty["Payload"],
        Value::Null,
        "no body means a null payload"
    );

    let listed = c.get("/v1/event/list").expect(200);
    assert!(listed.header("x-consul-index").is_some());
    let events = listed.json();
    assert!(event_ids(&events).contains(&id));
    let deploy = events
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["ID"] == id.as_str())
        .expect("fired event listed");
    assert_eq!(deploy["Payload"], base64("v1.2.3"));
}

#[test]
fn list_filters_by_name() {
    let server = Server::dev();
    let mut c = server.client();
    let deploy = c.put("/v1/event/fire/deploy", "a").expect(200).json()["ID"].clone();
    let restart = c.put("/v1/event/fire/restart", "b").expect(200).json()["ID"].clone();

    let only_deploy = c.get("/v1/event/list?name=deploy").expect(200).json();
    assert_eq!(event_ids(&only_deploy), [deploy.as_str().expect("ID")]);
    let only_restart = c.get("/v1/event/list?name=restart").expect(200).json();
    assert_eq!(event_ids(&only_restart), [restart.as_str().expect("ID")]);
    let none = c.get("/v1/event/list?name=nothing").expect(200).json();
    assert_eq!(none, serde_json::json!([]));
}

#[test]
fn blocking_list_is_released_by_a_new_event() {
    let server = Server::dev();
    let mut c = server.client();
    c.put("/v1/event/fire/first", "").expect(200);
    let index = c.get("/v1/event/list").expect(200).index();

    let mut watcher = server.client();
    let reader = thread::spawn(move || {
        let started = Instant::now();
        let response = watcher.get(&format!("/v1/event/list?index={index}&wait=30s"));
        (response, started.elapsed())
    });
    thread::sleep(Duration::from_millis(300));
    let second = c.put("/v1/event/fire/second", "").expect(200).json()["ID"].clone();

    let (response, elapsed) = reader.join().expect("watcher thread");
    let response = response.expect(200);
    assert!(
        elapsed < Duration::from_secs(5),
        "released only after {elapsed:?}"
    );
    assert_ne!(response.index(), index, "the index names the newest event");
    assert!(event_ids(&response.json()).contains(&second.as_str().expect("ID").to_string()));
}
