//! User events across pools of nodes in one process on 127.0.0.1: every node delivers an
//! event once, Lamport times grow from one fire to the next, events flow encrypted, a late
//! joiner is not replayed old events, oversize events are refused, and junk on the wire
//! changes nothing.

mod common;

use common::*;
use senate_gossip::{DeliveredEvent, EncryptionConfig, Gossip, GossipError, UserEventMessage};
use std::time::Duration;
use tokio::sync::broadcast::{self, error::TryRecvError};

const KEY: &str = "FqSWOZm2fm84kcm/ekDBl/ZVeIetPv7nJbJ18cO73vY=";

/// How long an event may take to reach every node.
const PROMPT: Duration = Duration::from_secs(5);

/// Long enough for every retransmission of an event to have gone out (a few gossip rounds).
const SETTLE: Duration = Duration::from_secs(2);

type Events = broadcast::Receiver<DeliveredEvent>;

fn event(id: &str) -> UserEventMessage {
    UserEventMessage {
        id: id.to_string(),
        name: "deploy".to_string(),
        payload: b"v2 \x00\xFF".to_vec(),
        node_filter: "web-.*".to_string(),
        service_filter: "api".to_string(),
        tag_filter: "canary".to_string(),
    }
}

fn subscribe_all(nodes: &[Gossip]) -> Vec<Events> {
    nodes.iter().map(Gossip::subscribe_events).collect()
}

/// The next event `events` delivers, or a panic after [`PROMPT`].
async fn next(events: &mut Events, node: &str) -> DeliveredEvent {
    match tokio::time::timeout(PROMPT, events.recv()).await {
        Ok(Ok(delivered)) => delivered,
        Ok(Err(error)) => panic!("{node}: {error}"),
        Err(_) => panic!("{node} delivered no event within {PROMPT:?}"),
    }
}

/// Asserts every node delivers exactly `wanted` next.
async fn assert_everyone_delivers(
    nodes: &[Gossip],
    events: &mut [Events],
    wanted: &DeliveredEvent,
) {
    for (node, events) in nodes.iter().zip(events.iter_mut()) {
        let name = node.local_member().name;
        assert_eq!(&next(events, &name).await, wanted, "on {name}");
    }
}

/// Asserts no node has delivered anything more.
fn assert_quiet(nodes: &[Gossip], events: &mut [Events]) {
    for (node, events) in nodes.iter().zip(events.iter_mut()) {
        let more = events.try_recv();
        assert!(
            matches!(more, Err(TryRecvError::Empty)),
            "{} delivered more: {more:?}",
            node.local_member().name
        );
    }
}

#[tokio::test]
async fn an_event_reaches_every_node_exactly_once() {
    let nodes = cluster(&["ev-a", "ev-b", "ev-c", "ev-d", "ev-e"]).await;
    let mut events = subscribe_all(&nodes);
    let ltime = nodes[2].fire_event(event("e1")).expect("fires");
    let wanted = DeliveredEvent {
        ltime,
        event: event("e1"),
    };
    assert_everyone_delivers(&nodes, &mut events, &wanted).await;
    tokio::time::sleep(SETTLE).await;
    assert_quiet(&nodes, &mut events);
}

#[tokio::test]
async fn lamport_times_grow_from_one_fire_to_the_next() {
    let nodes = cluster(&["lt-a", "lt-b", "lt-c"]).await;
    let mut events = subscribe_all(&nodes);
    let mut last = None;
    for (round, firing) in [0, 1, 2, 1].into_iter().enumerate() {
        let id = format!("e{round}");
        let ltime = nodes[firing].fire_event(event(&id)).expect("fires");
        if let Some(last) = last {
            assert!(ltime > last, "{id} at {ltime}, after {last}");
        }
        last = Some(ltime);
        let wanted = DeliveredEvent {
            ltime,
            event: event(&id),
        };
        // Every node has delivered it before the next one fires.
        assert_everyone_delivers(&nodes, &mut events, &wanted).await;
    }
}

#[tokio::test]
async fn events_flow_in_an_encrypted_pool() {
    let configs = ["enc-ev-a", "enc-ev-b", "enc-ev-c"]
        .iter()
        .map(|name| config(name, Some(EncryptionConfig::with_key(KEY))))
        .collect();
    let nodes = cluster_of(configs).await;
    assert!(nodes.iter().all(Gossip::encryption_enabled));
    let mut events = subscribe_all(&nodes);
    let ltime = nodes[1].fire_event(event("secret")).expect("fires");
    let wanted = DeliveredEvent {
        ltime,
        event: event("secret"),
    };
    assert_everyone_delivers(&nodes, &mut events, &wanted).await;
}

#[tokio::test]
async fn a_late_joiner_is_not_replayed_old_events() {
    let mut nodes = cluster(&["late-a", "late-b", "late-c"]).await;
    let mut events = subscribe_all(&nodes);
    let old = nodes[0].fire_event(event("old")).expect("fires");
    let wanted = DeliveredEvent {
        ltime: old,
        event: event("old"),
    };
    assert_everyone_delivers(&nodes, &mut events, &wanted).await;
    tokio::time::sleep(SETTLE).await;

    let late = start("late-d").await;
    events.push(late.subscribe_events());
    late.join(&[address(&nodes[1])]).await.expect("joins");
    nodes.push(late);
    for node in &nodes {
        wait_for(node, PROMPT, "four alive", |m| alive(m) == 4).await;
    }
    tokio::time::sleep(SETTLE).await;
    assert_quiet(&nodes, &mut events);

    let new = nodes[2].fire_event(event("new")).expect("fires");
    assert!(new > old);
    let wanted = DeliveredEvent {
        ltime: new,
        event: event("new"),
    };
    assert_everyone_delivers(&nodes, &mut events, &wanted).await;
    let after = nodes[3].fire_event(event("after")).expect("fires");
    assert!(after > new, "the late joiner's clock witnessed {new}");
}

#[tokio::test]
async fn a_lone_node_delivers_its_own_event() {
    let node = start("lone-ev").await;
    let mut events = node.subscribe_events();
    let first = node.fire_event(event("e1")).expect("fires");
    let second = node.fire_event(event("e2")).expect("fires");
    assert!(second > first);
    assert_eq!(next(&mut events, "lone-ev").await.ltime, first);
    assert_eq!(next(&mut events, "lone-ev").await.ltime, second);
}

#[tokio::test]
async fn consul_sized_events_pass_and_larger_ones_are_refused() {
    let nodes = cluster(&["size-a", "size-b"]).await;
    let mut events = subscribe_all(&nodes);
    // Consul allows 512 bytes of name and payload together.
    let largest = UserEventMessage {
        id: "0b7a0e1c-7f4e-4b4e-9a51-3e6e1f0c2d9a".to_string(),
        name: "n".repeat(12),
        payload: vec![b'p'; 500],
        ..event("")
    };
    let ltime = nodes[0].fire_event(largest.clone()).expect("fits");
    let wanted = DeliveredEvent {
        ltime,
        event: largest,
    };
    assert_everyone_delivers(&nodes, &mut events, &wanted).await;

    let oversize = UserEventMessage {
        payload: vec![0; 2000],
        ..event("big")
    };
    match nodes[0].fire_event(oversize) {
        Err(GossipError::EventTooLarge { size, limit }) => {
            assert!(size > limit, "{size} > {limit}");
            assert!(limit > 600, "room for Consul's events: {limit}");
        }
        other => panic!("expected EventTooLarge, got {other:?}"),
    }
    let next_time = nodes[0].fire_event(event("after")).expect("fires");
    assert_eq!(next_time, ltime + 1, "a refused event takes no time");
}

#[tokio::test]
async fn junk_on_the_wire_does_not_stop_events() {
    let nodes = cluster(&["junk-ev-a", "junk-ev-b", "junk-ev-c"]).await;
    let mut events = subscribe_all(&nodes);
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let junk: [&[u8]; 5] = [
        &[2, 0xFF, 0xFF, 0xFF],
        &[1, 0xFF, 0x00, 0x01, 0x02],
        &[1],
        &[0x81, 1, 2, 3],
        &[0x7E; 300],
    ];
    for node in &nodes {
        for bytes in junk {
            socket
                .send_to(bytes, node.local_address())
                .await
                .expect("sends");
        }
    }
    let ltime = nodes[0].fire_event(event("after-junk")).expect("fires");
    let wanted = DeliveredEvent {
        ltime,
        event: event("after-junk"),
    };
    assert_everyone_delivers(&nodes, &mut events, &wanted).await;
}

#[tokio::test]
async fn no_events_after_shutdown() {
    let node = start("shut-ev").await;
    node.shutdown().await;
    assert!(matches!(
        node.fire_event(event("e1")),
        Err(GossipError::Shutdown)
    ));
}
