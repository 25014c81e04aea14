//! Several gossip nodes in one process on 127.0.0.1: joining, leaving, failing, restarting,
//! name conflicts, tags and force-leave.

mod common;

use common::*;
use senate_gossip::{GossipConfig, GossipError, GossipTiming, MemberStatus};
use std::time::Duration;
use tokio::time::Instant;

/// Suspicion at LAN timing for a small cluster is 4 s after a failed probe cycle.
const FAILURE_DETECTION: Duration = Duration::from_secs(12);
const PROMPT: Duration = Duration::from_secs(3);

#[tokio::test]
async fn three_nodes_join_through_one_seed_and_see_each_others_tags() {
    let (a, b, c) = (start("a").await, start("b").await, start("c").await);
    let seed = vec![address(&a)];
    let began = Instant::now();
    assert_eq!(b.join(&seed).await.expect("b joins"), 1);
    assert_eq!(c.join(&seed).await.expect("c joins"), 1);
    for node in [&a, &b, &c] {
        let members = wait_for(node, PROMPT, "three alive", |m| alive(m) == 3).await;
        let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"], "sorted by name");
        for member in &members {
            assert_eq!(member.tags.get("role"), Some(&member.name));
            assert_eq!(
                (
                    member.protocol_min,
                    member.protocol_max,
                    member.protocol_cur
                ),
                (1, 5, 2)
            );
            assert_eq!(
                (
                    member.delegate_min,
                    member.delegate_max,
                    member.delegate_cur
                ),
                (2, 5, 4)
            );
        }
    }
    assert!(
        began.elapsed() < Duration::from_secs(3),
        "converged in {:?}",
        began.elapsed()
    );
    let b_seen_by_c = c
        .members()
        .into_iter()
        .find(|m| m.name == "b")
        .expect("c knows b");
    assert_eq!(
        (b_seen_by_c.addr, b_seen_by_c.port),
        (b.local_address().ip(), b.local_address().port())
    );
    assert_eq!(a.local_member().status, MemberStatus::Alive);
}

#[tokio::test]
async fn joining_a_closed_port_fails_clearly_and_the_node_keeps_running() {
    let a = start("closed-a").await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
        listener.local_addr().expect("has an address").to_string()
    };
    match a.join(std::slice::from_ref(&closed)).await {
        Err(GossipError::Join(message)) => {
            assert!(message.contains(&closed), "{message}");
            assert!(message.contains("connection refused"), "{message}");
        }
        other => panic!("expected a join error, got {other:?}"),
    }
    let b = start("closed-b").await;
    let joined = a
        .join(&[closed, address(&b)])
        .await
        .expect("one address works");
    assert_eq!(joined, 1);
    wait_for(&a, PROMPT, "both alive", |m| alive(m) == 2).await;
}

#[tokio::test]
async fn a_graceful_leave_shows_left_on_the_others() {
    let nodes = cluster(&["leave-a", "leave-b", "leave-c"]).await;
    nodes[2].leave().await.expect("leaves");
    for node in &nodes[..2] {
        wait_status(node, "leave-c", MemberStatus::Left, PROMPT).await;
    }
    assert_eq!(nodes[2].local_member().status, MemberStatus::Left);
    assert!(matches!(
        nodes[2].join(&[address(&nodes[0])]).await,
        Err(GossipError::Shutdown)
    ));
    // A node joining afterwards learns the leaver as Left too, from the join exchange.
    let late = start("leave-d").await;
    late.join(&[address(&nodes[1])]).await.expect("joins");
    let members = wait_for(&late, PROMPT, "three alive", |m| alive(m) == 3).await;
    assert_eq!(status(&members, "leave-c"), Some(MemberStatus::Left));
}

#[tokio::test]
async fn a_shutdown_without_leave_shows_failed_on_the_others() {
    let nodes = cluster(&["fail-a", "fail-b", "fail-c"]).await;
    let began = Instant::now();
    nodes[2].shutdown().await;
    for node in &nodes[..2] {
        wait_status(node, "fail-c", MemberStatus::Failed, FAILURE_DETECTION).await;
    }
    assert!(
        began.elapsed() < Duration::from_secs(10),
        "took {:?}",
        began.elapsed()
    );
    // The failed member keeps its last tags.
    let failed = nodes[0]
        .members()
        .into_iter()
        .find(|m| m.name == "fail-c")
        .expect("listed");
    assert_eq!(failed.tags.get("role").map(String::as_str), Some("fail-c"));
}

#[tokio::test]
async fn a_restarted_node_with_the_same_name_comes_back_alive() {
    let nodes = cluster(&["restart-a", "restart-b"]).await;
    let old_port = nodes[1].local_address().port();
    nodes[1].shutdown().await;
    wait_status(
        &nodes[0],
        "restart-b",
        MemberStatus::Failed,
        FAILURE_DETECTION,
    )
    .await;

    let again = start_tagged("restart-b", tags(&[("role", "again")])).await;
    assert_ne!(again.local_address().port(), old_port);
    assert_eq!(again.join(&[address(&nodes[0])]).await.expect("rejoins"), 1);
    let members = wait_for(&nodes[0], PROMPT, "restart-b alive again", |m| {
        m.iter().any(|m| {
            m.name == "restart-b"
                && m.status == MemberStatus::Alive
                && m.port == again.local_address().port()
        })
    })
    .await;
    assert_eq!(
        members.len(),
        2,
        "the new identity replaced the old: {members:?}"
    );
    let b = members
        .iter()
        .find(|m| m.name == "restart-b")
        .expect("listed");
    assert_eq!(b.tags.get("role").map(String::as_str), Some("again"));
    wait_for(&again, PROMPT, "both alive", |m| alive(m) == 2).await;
}

#[tokio::test]
async fn a_live_name_at_another_address_is_refused() {
    let nodes = cluster(&["conflict-a", "conflict-b"]).await;
    let impostor = start("conflict-b").await;
    match impostor.join(&[address(&nodes[0])]).await {
        Err(error @ GossipError::NameConflict { .. }) => {
            let message = error.to_string();
            assert!(
                message.contains("Member 'conflict-b' has conflicting address"),
                "{message}"
            );
            assert!(
                message.contains(&nodes[1].local_address().to_string()),
                "{message}"
            );
        }
        other => panic!("expected a name conflict, got {other:?}"),
    }
    // The seed still lists the original, and only it.
    let members = nodes[0].members();
    assert_eq!(members.len(), 2);
    let b = members
        .iter()
        .find(|m| m.name == "conflict-b")
        .expect("listed");
    assert_eq!(b.port, nodes[1].local_address().port());
    assert_eq!(impostor.members().len(), 1, "the impostor was not admitted");
}

#[tokio::test]
async fn a_live_node_id_under_another_name_is_refused() {
    let holder = start_tagged("id-holder", tags(&[("id", "0b1c")])).await;
    let impostor = start_tagged("id-impostor", tags(&[("id", "0b1c")])).await;
    let error = impostor
        .join(&[address(&holder)])
        .await
        .expect_err("a taken node ID is refused");
    let message = error.to_string();
    assert!(
        message.contains(
            "Member 'id-impostor' has conflicting node ID '0b1c' with member 'id-holder'"
        ),
        "{message}"
    );
    assert_eq!(holder.members().len(), 1, "the impostor was not admitted");
    let other = start_tagged("id-other", tags(&[("id", "77aa")])).await;
    other
        .join(&[address(&holder)])
        .await
        .expect("a distinct node ID joins");
}

#[tokio::test]
async fn new_tags_propagate() {
    let nodes = cluster(&["tags-a", "tags-b", "tags-c"]).await;
    nodes[1]
        .set_tags(tags(&[("role", "tags-b"), ("build", "2")]))
        .await
        .expect("sets tags");
    assert_eq!(
        nodes[1]
            .local_member()
            .tags
            .get("build")
            .map(String::as_str),
        Some("2")
    );
    for node in [&nodes[0], &nodes[2]] {
        wait_for(node, PROMPT, "tags-b's new tags", |members| {
            members.iter().any(|m| {
                m.name == "tags-b"
                    && m.status == MemberStatus::Alive
                    && m.tags.get("build").map(String::as_str) == Some("2")
            })
        })
        .await;
    }
    // Everyone stays alive afterwards (the re-tagged node resumed probing).
    for node in &nodes {
        wait_for(node, PROMPT, "three alive", |m| alive(m) == 3).await;
    }
}

#[tokio::test]
async fn force_leave_turns_a_failed_member_left_everywhere() {
    let nodes = cluster(&["force-a", "force-b", "force-c"]).await;
    nodes[2].shutdown().await;
    for node in &nodes[..2] {
        wait_status(node, "force-c", MemberStatus::Failed, FAILURE_DETECTION).await;
    }
    assert!(matches!(
        nodes[0].force_leave("nobody", false),
        Err(GossipError::UnknownMember(name)) if name == "nobody"
    ));
    nodes[0]
        .force_leave("force-b", false)
        .expect("a live member is left alone");
    assert_eq!(
        status(&nodes[0].members(), "force-b"),
        Some(MemberStatus::Alive)
    );

    nodes[0]
        .force_leave("force-c", false)
        .expect("force-leaves");
    assert_eq!(
        status(&nodes[0].members(), "force-c"),
        Some(MemberStatus::Left)
    );
    wait_status(&nodes[1], "force-c", MemberStatus::Left, PROMPT).await;

    nodes[0].force_leave("force-c", true).expect("prunes");
    assert_eq!(status(&nodes[0].members(), "force-c"), None);
    wait_for(&nodes[1], PROMPT, "force-c pruned", |m| {
        status(m, "force-c").is_none()
    })
    .await;
    assert!(matches!(
        nodes[0].force_leave("force-c", false),
        Err(GossipError::UnknownMember(_))
    ));
}

#[tokio::test]
async fn malformed_datagrams_and_frames_are_ignored() {
    let nodes = cluster(&["garbage-a", "garbage-b"]).await;
    let target = nodes[0].local_address();
    let sender = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let junk: Vec<Vec<u8>> = vec![
        vec![],
        vec![1],
        vec![0xFF; 64],
        vec![1, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
        (0..=255u8).cycle().take(1399).collect(),
        vec![7; 4000],
    ];
    for datagram in &junk {
        sender.send_to(datagram, target).await.expect("sends");
    }
    for frame in [
        &b"GET / HTTP/1.1\r\n\r\n"[..],
        &[0, 0, 0, 3, 1, 0xFF, 0xFF],
        &[0xFF; 8],
    ] {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(target)
            .await
            .expect("connects");
        stream.write_all(frame).await.expect("writes");
        let mut answer = Vec::new();
        let _closed = tokio::time::timeout(PROMPT, stream.read_to_end(&mut answer)).await;
    }
    // Still serving: a new node joins through it and everyone converges.
    let c = start("garbage-c").await;
    assert_eq!(c.join(&[target.to_string()]).await.expect("joins"), 1);
    for node in nodes.iter().chain([&c]) {
        wait_for(node, PROMPT, "three alive", |m| alive(m) == 3).await;
    }
}

#[tokio::test]
async fn retry_join_gives_up_after_max_attempts_and_succeeds_when_possible() {
    let a = start("retry-a").await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
        listener.local_addr().expect("has an address").to_string()
    };
    let failed = senate_gossip::retry_join(&a, &[closed], Duration::from_millis(10), 2).await;
    assert!(matches!(failed, Err(GossipError::Join(_))), "{failed:?}");
    let b = start("retry-b").await;
    let joined = senate_gossip::retry_join(&a, &[address(&b)], Duration::from_millis(10), 0).await;
    assert_eq!(joined.expect("joins"), 1);
}

#[tokio::test]
async fn push_pull_spreads_a_member_that_gossip_never_carried() {
    // Probes and gossip rounds an hour apart: the only way b can learn of c, which joined
    // through a, is the periodic full-state exchange.
    let timing = GossipTiming {
        probe_interval: Duration::from_secs(3600),
        probe_timeout: Duration::from_secs(1),
        gossip_interval: Duration::from_secs(3600),
        push_pull_interval: Duration::from_millis(200),
        ..GossipTiming::lan()
    };
    let node = |name: &str| GossipConfig {
        timing: timing.clone(),
        ..config(name, None)
    };
    let (a, b) = (
        start_with(node("pp-a")).await,
        start_with(node("pp-b")).await,
    );
    b.join(&[address(&a)]).await.expect("b joins a");
    wait_for(&b, PROMPT, "b sees a", |m| alive(m) == 2).await;
    let c = start_with(node("pp-c")).await;
    c.join(&[address(&a)]).await.expect("c joins a");
    let members = wait_for(&b, PROMPT, "b learns c", |m| alive(m) == 3).await;
    assert_eq!(status(&members, "pp-c"), Some(MemberStatus::Alive));
}
