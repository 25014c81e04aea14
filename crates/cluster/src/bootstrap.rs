//! `-bootstrap-expect=N`: the first configuration is formed only once N servers of this
//! datacenter see each other in gossip, all expecting N, and none of them already belongs to a
//! Raft configuration — never a smaller cluster. Every one of the N then bootstraps the same
//! configuration, which openraft accepts as one cluster.

use crate::members::GossipServer;
use crate::server::ClusterServer;
use crate::wire::{self, PeerStatus, PEER_STATUS};
use senate_consensus::ServerNode;
use senate_gossip::MemberStatus;
use std::sync::Arc;
use std::time::Duration;

/// What the servers seen so far allow.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// Fewer than the expected servers are alive.
    Wait { seen: usize },
    /// Servers disagree on how many to expect: bootstrapping would risk a split.
    Conflict(String),
    /// Bootstrap with these servers (sorted by node ID).
    Ready(Vec<ServerNode>),
}

/// Decides from the live servers gossip shows (this one included).
pub fn decide(expect: u32, servers: &[GossipServer]) -> Decision {
    let alive: Vec<&GossipServer> = servers
        .iter()
        .filter(|s| s.status == MemberStatus::Alive)
        .collect();
    let disagreeing: Vec<String> = alive
        .iter()
        .filter(|s| s.expect != 0 && s.expect != expect)
        .map(|s| format!("{} expects {}", s.node.name, s.expect))
        .collect();
    if !disagreeing.is_empty() {
        return Decision::Conflict(format!(
            "servers disagree on bootstrap_expect (this one expects {expect}; {}); not bootstrapping",
            disagreeing.join(", ")
        ));
    }
    if alive.len() < expect as usize {
        return Decision::Wait { seen: alive.len() };
    }
    let mut nodes: Vec<ServerNode> = alive.iter().map(|s| s.node.clone()).collect();
    nodes.sort_by(|a, b| a.id.cmp(&b.id));
    Decision::Ready(nodes)
}

/// How often the expectation is checked again, besides on every gossip change.
const RECHECK: Duration = Duration::from_secs(1);

/// Waits for the expected servers and bootstraps; returns once this server has a configuration.
pub async fn run(server: Arc<ClusterServer>, expect: u32) {
    let mut changes = server.gossip().subscribe();
    let mut last_problem = String::new();
    loop {
        match try_once(&server, expect).await {
            Ok(true) => return,
            Ok(false) => {}
            Err(problem) if problem != last_problem => {
                tracing::error!("{problem}");
                last_problem = problem;
            }
            Err(_) => {}
        }
        let _changed_or_timeout = tokio::time::timeout(RECHECK, changes.changed()).await;
    }
}

/// One look: `Ok(true)` once this server has a configuration (made now or found).
async fn try_once(server: &ClusterServer, expect: u32) -> Result<bool, String> {
    if server
        .raft()
        .is_initialized()
        .await
        .map_err(|e| e.to_string())?
    {
        return Ok(true);
    }
    let nodes = match decide(expect, &server.gossip_servers()) {
        Decision::Wait { seen } => {
            tracing::debug!(seen, expect, "waiting for servers before bootstrapping");
            return Ok(false);
        }
        Decision::Conflict(problem) => return Err(problem),
        Decision::Ready(nodes) => nodes,
    };
    let me = server.raft().server().id.clone();
    for node in nodes.iter().filter(|n| n.id != me) {
        if peer_is_initialized(server, node).await? {
            tracing::info!(
                peer = %node.name,
                "found an existing Raft configuration; waiting to be added by its leader"
            );
            return Ok(true);
        }
    }
    let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
    tracing::info!(servers = ?names, "bootstrapping the Raft configuration");
    server
        .raft()
        .bootstrap(&nodes)
        .await
        .map_err(|e| format!("bootstrapping failed: {e}"))?;
    Ok(true)
}

async fn peer_is_initialized(server: &ClusterServer, node: &ServerNode) -> Result<bool, String> {
    let timeout = server.raft().timing().hold_timeout();
    let reply = server
        .rpc()
        .call(&node.address, PEER_STATUS, Default::default(), timeout)
        .await
        .map_err(|e| {
            format!(
                "asking {} for its Raft status before bootstrapping: {e}",
                node.name
            )
        })?;
    let status: PeerStatus = wire::decode(&reply)?;
    Ok(status.initialized)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(name: &str, expect: u32, status: MemberStatus) -> GossipServer {
        GossipServer {
            node: ServerNode {
                id: format!("id-{name}"),
                name: name.into(),
                address: format!("127.0.0.1:{}", 8300 + name.len()),
            },
            datacenter: "dc1".into(),
            status,
            expect,
        }
    }

    #[test]
    fn waits_until_the_expected_servers_are_alive() {
        let servers = [
            server("a", 3, MemberStatus::Alive),
            server("b", 3, MemberStatus::Alive),
            server("c", 3, MemberStatus::Failed),
        ];
        assert_eq!(decide(3, &servers), Decision::Wait { seen: 2 });
    }

    #[test]
    fn bootstraps_every_live_server_in_one_order() {
        let servers = [
            server("c", 3, MemberStatus::Alive),
            server("a", 3, MemberStatus::Alive),
            server("b", 0, MemberStatus::Alive),
        ];
        let Decision::Ready(nodes) = decide(3, &servers) else {
            panic!("expected Ready");
        };
        let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
    }

    #[test]
    fn conflicting_expectations_never_bootstrap() {
        let servers = [
            server("a", 3, MemberStatus::Alive),
            server("b", 5, MemberStatus::Alive),
            server("c", 3, MemberStatus::Alive),
        ];
        assert!(
            matches!(decide(3, &servers), Decision::Conflict(text) if text.contains("b expects 5"))
        );
    }
}
