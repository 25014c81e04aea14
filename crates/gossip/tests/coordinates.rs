//! Network coordinates from gossip round-trip times, between nodes in one process on
//! 127.0.0.1: estimates move and peers are known after a few probe rounds, plain and
//! encrypted; coordinate datagrams from unknown senders, forged ones and junk change nothing.

mod common;

use common::*;
use senate_coordinate::{Config, Coordinate};
use senate_gossip::{EncryptionConfig, Gossip};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::time::Instant;

const KEY: &str = "FqSWOZm2fm84kcm/ekDBl/ZVeIetPv7nJbJ18cO73vY=";

/// A few rounds of one probe a second through every peer.
const ROUNDS: Duration = Duration::from_secs(15);

/// How long to wait for an answer that should, or should not, come.
const ANSWER: Duration = Duration::from_secs(1);

/// The first byte of a coordinate ping or ack.
const PING_DATAGRAM: u8 = 2;

/// A coordinate ping (`kind` 0) or ack (1) as the wire has it — bincode with varints: the
/// variant, the nonce, the sender's name, then the coordinate's 8 dimensions, error,
/// adjustment and height as little-endian f64s.
fn ping_datagram(kind: u8, nonce: u8, from: &str, x: f64) -> Vec<u8> {
    let mut bytes = vec![PING_DATAGRAM, kind, nonce];
    bytes.push(u8::try_from(from.len()).expect("short name"));
    bytes.extend_from_slice(from.as_bytes());
    bytes.push(8);
    let vec = std::iter::once(x).chain(std::iter::repeat_n(0.0, 7));
    for value in vec.chain([1.5, 0.0, 1e-5]) {
        bytes.extend_from_slice(&f64::to_le_bytes(value));
    }
    bytes
}

fn fresh() -> Coordinate {
    Coordinate::new(&Config::default())
}

fn has_moved(coordinate: &Coordinate) -> bool {
    coordinate.error < fresh().error || coordinate.vec.iter().any(|x| *x != 0.0)
}

fn others(nodes: &[Gossip], node: &Gossip) -> BTreeSet<String> {
    let local = node.local_member().name;
    nodes
        .iter()
        .map(|other| other.local_member().name)
        .filter(|name| *name != local)
        .collect()
}

/// Waits until every node's coordinate has moved and it knows every other node's.
async fn wait_for_coordinates(nodes: &[Gossip]) {
    let deadline = Instant::now() + ROUNDS;
    loop {
        let settled = nodes.iter().all(|node| {
            let known: BTreeSet<String> = node.peer_coordinates().into_keys().collect();
            has_moved(&node.coordinate()) && known == others(nodes, node)
        });
        if settled {
            return;
        }
        if Instant::now() > deadline {
            let state: Vec<_> = nodes
                .iter()
                .map(|node| {
                    (
                        node.local_member().name,
                        node.coordinate(),
                        node.peer_coordinates(),
                    )
                })
                .collect();
            panic!("coordinates did not settle within {ROUNDS:?}: {state:#?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn raw_socket() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").await.expect("binds")
}

/// The datagram `socket` receives within [`ANSWER`], if any.
async fn answer(socket: &UdpSocket) -> Option<(Vec<u8>, SocketAddr)> {
    let mut buffer = vec![0u8; 2048];
    let received = tokio::time::timeout(ANSWER, socket.recv_from(&mut buffer)).await;
    let (length, from) = received.ok()?.expect("receives");
    buffer.truncate(length);
    Some((buffer, from))
}

#[tokio::test]
async fn round_trip_times_move_coordinates_and_every_peer_is_known() {
    let nodes = cluster(&["co-a", "co-b", "co-c", "co-d"]).await;
    wait_for_coordinates(&nodes).await;
    for node in &nodes {
        for coordinate in node.peer_coordinates().values() {
            assert!(coordinate.is_valid());
            assert_eq!(coordinate.vec.len(), 8);
        }
    }
}

#[tokio::test]
async fn coordinates_form_in_an_encrypted_pool_and_plaintext_pings_get_no_answer() {
    let configs = ["enc-co-a", "enc-co-b", "enc-co-c"]
        .iter()
        .map(|name| config(name, Some(EncryptionConfig::with_key(KEY))))
        .collect();
    let nodes = cluster_of(configs).await;
    wait_for_coordinates(&nodes).await;
    let socket = raw_socket().await;
    socket
        .send_to(&ping_datagram(0, 7, "ghost", 0.0), nodes[0].local_address())
        .await
        .expect("sends");
    assert!(answer(&socket).await.is_none(), "plaintext is refused");
}

#[tokio::test]
async fn pings_are_answered_and_forged_or_unknown_reports_change_nothing() {
    let node = start("co-lone").await;
    let socket = raw_socket().await;
    let target = node.local_address();

    socket
        .send_to(&ping_datagram(0, 7, "ghost", 0.25), target)
        .await
        .expect("sends");
    let (ack, from) = answer(&socket).await.expect("a ping is answered");
    assert_eq!(from, target);
    assert_eq!(&ack[..3], &[PING_DATAGRAM, 1, 7], "an ack with the nonce");
    assert_eq!(&ack[3..11], b"\x07co-lone", "from the node, by name");

    for junk in [
        ping_datagram(1, 9, "ghost", 0.5),
        vec![PING_DATAGRAM, 0xFF, 0xFF],
        vec![PING_DATAGRAM],
        vec![
            PING_DATAGRAM,
            1,
            253,
            0xFF,
            0xFF,
            0xFF,
            0xFF,
            0xFF,
            0xFF,
            0xFF,
            0x7F,
        ],
    ] {
        socket.send_to(&junk, target).await.expect("sends");
    }
    assert!(
        answer(&socket).await.is_none(),
        "acks and junk get no answer"
    );
    assert!(node.peer_coordinates().is_empty(), "no peer was learnt");
    assert_eq!(node.coordinate(), fresh(), "nothing was measured");
}

#[tokio::test]
async fn a_member_s_coordinate_is_not_taken_from_another_address() {
    let nodes = cluster(&["co-x", "co-y"]).await;
    wait_for_coordinates(&nodes).await;
    let socket = raw_socket().await;
    // The forged ack first: once the ping is answered, both have been handled.
    for kind in [1, 0] {
        socket
            .send_to(
                &ping_datagram(kind, 3, "co-y", 5.0),
                nodes[0].local_address(),
            )
            .await
            .expect("sends");
    }
    // The ping is answered, but its report is not believed.
    assert!(answer(&socket).await.is_some());
    let y = nodes[0]
        .peer_coordinates()
        .remove("co-y")
        .expect("y is known");
    assert!(y.vec[0] < 1.0, "the forged report was ignored: {y:?}");
    assert!(nodes[0].coordinate().vec.iter().all(|x| x.abs() < 1.0));
}
