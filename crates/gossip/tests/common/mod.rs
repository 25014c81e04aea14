//! Helpers for the gossip integration tests: nodes on 127.0.0.1 with port 0, and waiting on
//! the member list (through the change counter) instead of sleeping.

#![allow(dead_code)]

use senate_gossip::{EncryptionConfig, Gossip, GossipConfig, GossipTiming, Member, MemberStatus};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::time::Instant;

pub fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

/// A node on loopback with LAN timing and a `role` tag naming it.
pub async fn start(name: &str) -> Gossip {
    start_tagged(name, tags(&[("role", name)])).await
}

pub async fn start_tagged(name: &str, tags: BTreeMap<String, String>) -> Gossip {
    start_with(GossipConfig {
        tags,
        ..config(name, None)
    })
    .await
}

/// A node's configuration on loopback with LAN timing, a `role` tag naming it, and
/// `encryption`.
pub fn config(name: &str, encryption: Option<EncryptionConfig>) -> GossipConfig {
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    GossipConfig {
        node_name: name.to_string(),
        bind: loopback,
        advertise: loopback,
        tags: tags(&[("role", name)]),
        timing: GossipTiming::lan(),
        encryption,
    }
}

pub async fn start_with(config: GossipConfig) -> Gossip {
    Gossip::start(config).await.expect("gossip starts")
}

/// A node encrypting with `key`, verifying both ways.
pub async fn start_encrypted(name: &str, key: &str) -> Gossip {
    start_with(config(name, Some(EncryptionConfig::with_key(key)))).await
}

pub fn address(gossip: &Gossip) -> String {
    gossip.local_address().to_string()
}

pub fn status(members: &[Member], name: &str) -> Option<MemberStatus> {
    members.iter().find(|m| m.name == name).map(|m| m.status)
}

pub fn alive(members: &[Member]) -> usize {
    members
        .iter()
        .filter(|m| m.status == MemberStatus::Alive)
        .count()
}

/// Waits until `condition` holds for `gossip`'s member list, or panics after `within`.
pub async fn wait_for(
    gossip: &Gossip,
    within: Duration,
    what: &str,
    condition: impl Fn(&[Member]) -> bool,
) -> Vec<Member> {
    let deadline = Instant::now() + within;
    let mut changes = gossip.subscribe();
    loop {
        changes.borrow_and_update();
        let members = gossip.members();
        if condition(&members) {
            return members;
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            panic!(
                "{} never saw {what} within {within:?}; members: {members:#?}",
                gossip.local_member().name
            );
        }
        let _changed_or_timed_out = tokio::time::timeout(remaining, changes.changed()).await;
    }
}

/// Waits until member `name` has `wanted` status on `gossip`.
pub async fn wait_status(gossip: &Gossip, name: &str, wanted: MemberStatus, within: Duration) {
    let what = format!("{name} {wanted}");
    wait_for(gossip, within, &what, |members| {
        status(members, name) == Some(wanted)
    })
    .await;
}

/// Starts nodes with these names and joins all of them through the first.
pub async fn cluster(names: &[&str]) -> Vec<Gossip> {
    let configs = names.iter().map(|name| config(name, None)).collect();
    cluster_of(configs).await
}

/// Starts nodes with these configurations, joins all of them through the first, and waits
/// until everyone sees everyone alive.
pub async fn cluster_of(configs: Vec<GossipConfig>) -> Vec<Gossip> {
    let size = configs.len();
    let mut nodes = Vec::new();
    for config in configs {
        nodes.push(start_with(config).await);
    }
    let seed = vec![address(&nodes[0])];
    for node in &nodes[1..] {
        assert_eq!(node.join(&seed).await.expect("joins the seed"), 1);
    }
    for node in &nodes {
        wait_for(node, Duration::from_secs(5), "everyone alive", |members| {
            alive(members) == size
        })
        .await;
    }
    nodes
}
