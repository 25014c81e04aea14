//! On the leader: every gossip member of this datacenter has its node in the catalog with a
//! `serfHealth` check that follows gossip — passing while alive, critical once failed (which
//! invalidates the node's sessions) — and a member that left is deregistered. Reconciled on
//! every gossip change, every few seconds, and whenever a server becomes leader.

use crate::server::ClusterServer;
use senate_gossip::{Member, MemberStatus};
use senate_state::{Command, Tables};
use senate_types::catalog::{
    CheckStatus, Deregistration, HealthCheck, Node, Registration, SERF_HEALTH_CHECK,
};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

const RECHECK: Duration = Duration::from_secs(2);

/// The commands that bring the catalog in line with `members`.
pub fn plan(tables: &Tables, members: &[Member], datacenter: &str) -> Vec<Command> {
    members
        .iter()
        .filter(|m| m.tags.get("dc").map(String::as_str) == Some(datacenter))
        .filter_map(|member| reconcile(tables, member, datacenter))
        .collect()
}

fn reconcile(tables: &Tables, member: &Member, datacenter: &str) -> Option<Command> {
    let registered = tables.node(&member.name);
    match member.status {
        MemberStatus::Left => {
            registered.map(|_| Command::Deregister(Deregistration::Node(member.name.clone())))
        }
        MemberStatus::Alive | MemberStatus::Failed => {
            let alive = member.status == MemberStatus::Alive;
            let wanted = if alive {
                CheckStatus::Passing
            } else {
                CheckStatus::Critical
            };
            let (_, checks) = tables.node_checks(&member.name);
            let current = checks
                .iter()
                .find(|c| c.check_id == SERF_HEALTH_CHECK)
                .map(|c| c.status);
            if registered.is_some() && current == Some(wanted) {
                return None;
            }
            let node = match registered {
                Some(node) => node.clone(),
                None => node_from_gossip(member, datacenter),
            };
            Some(Command::Register(Registration {
                node,
                skip_node_update: registered.is_some(),
                service: None,
                checks: vec![HealthCheck::serf_health(&member.name, alive)],
            }))
        }
        MemberStatus::None | MemberStatus::Leaving => None,
    }
}

fn node_from_gossip(member: &Member, datacenter: &str) -> Node {
    let address = member.addr.to_string();
    let tagged_addresses: BTreeMap<String, String> = ["lan", "lan_ipv4", "wan", "wan_ipv4"]
        .into_iter()
        .map(|kind| (kind.to_string(), address.clone()))
        .collect();
    Node {
        id: member.tags.get("id").cloned().unwrap_or_default(),
        node: member.name.clone(),
        address,
        datacenter: datacenter.to_string(),
        tagged_addresses,
        meta: BTreeMap::from([("consul-network-segment".to_string(), String::new())]),
        create_index: 0,
        modify_index: 0,
    }
}

/// Runs the reconciliation on whichever server leads, until the process ends.
pub async fn run(server: Arc<ClusterServer>) {
    let mut changes = server.gossip().subscribe();
    loop {
        if server.is_leader() {
            let commands = plan(
                &server.store().snapshot(),
                &server.gossip().members(),
                server.datacenter(),
            );
            if !commands.is_empty() {
                tracing::debug!(
                    changes = commands.len(),
                    "reconciling serfHealth with gossip"
                );
                if let Err(error) = server.raft().propose(Command::Batch(commands)).await {
                    tracing::warn!(%error, "could not reconcile serfHealth with gossip");
                }
            }
        }
        let _changed_or_tick = tokio::time::timeout(RECHECK, changes.changed()).await;
    }
}
