//! Who is who in a running cluster, read over HTTP: each server's node name, RPC address and
//! leadership, and waiting until the servers agree on one leader with every server a voter.
//!
//! Works for Senate and Consul alike: `GET /v1/agent/self` gives `Member.Addr` with the RPC
//! port in `Member.Tags.port` (or `DebugConfig.ServerPort`, `Config.Ports.Server`) and
//! `Stats.consul.leader == "true"` only on the leader; `GET /v1/status/leader` names the
//! leader's RPC address; `GET /v1/operator/raft/configuration` lists the voters.

use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use crate::error::{BenchError, Result};
use crate::http1::Connection;
use crate::kv;
use crate::target::Target;

/// Pause between two looks at a cluster that has not settled yet.
const SETTLE_POLL: Duration = Duration::from_millis(200);

/// What one server says about itself and its leader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerStatus {
    pub node: String,
    /// `host:port` of the server's Raft RPC listener, when the agent reports it.
    pub rpc_address: Option<String>,
    /// `Stats.consul.leader` is `"true"`.
    pub claims_leadership: bool,
    /// The answer of `/v1/status/leader` (empty while there is none).
    pub leader: String,
    /// `Stats.raft.term`: the Raft term this server is in, when reported.
    pub term: Option<u64>,
}

/// The Raft configuration as the leader reports it, counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RaftView {
    pub servers: usize,
    pub voters: usize,
    pub leaders: usize,
}

/// Which server (by position in the address list) leads, and the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roles {
    pub leader: usize,
    pub followers: Vec<usize>,
}

/// Reads `/v1/agent/self` and `/v1/status/leader` of one server.
pub async fn status_of(target: &Target) -> Result<ServerStatus> {
    let mut connection = Connection::connect(target).await?;
    let agent = kv::get_json(&mut connection, "/v1/agent/self").await?;
    let leader = leader_named_by(&mut connection).await?;
    Ok(parse_agent_self(&agent, leader))
}

/// The leader RPC address `/v1/status/leader` names (empty while there is none).
pub async fn leader_named_by(connection: &mut Connection) -> Result<String> {
    let answer = kv::get_json(connection, "/v1/status/leader").await?;
    Ok(answer.as_str().unwrap_or_default().to_string())
}

/// Counts servers, voters and leaders in `/v1/operator/raft/configuration`.
pub async fn raft_view(target: &Target) -> Result<RaftView> {
    let mut connection = Connection::connect(target).await?;
    let configuration = kv::get_json(&mut connection, "/v1/operator/raft/configuration").await?;
    Ok(parse_raft_configuration(&configuration))
}

/// Polls every server until [`decide_roles`] accepts what they say, or `limit` passes.
///
/// `check` runs before every look and may abort the wait (e.g. when a started server died).
pub async fn wait_for_roles(
    targets: &[Target],
    limit: Duration,
    check: &dyn Fn() -> Result<()>,
) -> Result<(Vec<ServerStatus>, Roles)> {
    let deadline = Instant::now() + limit;
    loop {
        check()?;
        let reason = match survey(targets).await {
            Ok((statuses, Ok(roles))) => return Ok((statuses, roles)),
            Ok((_, Err(reason))) => reason,
            Err(error) => error.to_string(),
        };
        if Instant::now() >= deadline {
            return Err(BenchError::Setup(format!(
                "the cluster did not settle within {limit:?}: {reason}"
            )));
        }
        tokio::time::sleep(SETTLE_POLL).await;
    }
}

/// One look at every server and the leader's Raft configuration.
async fn survey(
    targets: &[Target],
) -> Result<(Vec<ServerStatus>, std::result::Result<Roles, String>)> {
    let mut statuses = Vec::with_capacity(targets.len());
    for target in targets {
        statuses.push(status_of(target).await?);
    }
    let roles = match decide_roles(&statuses) {
        Ok(roles) => roles,
        Err(reason) => return Ok((statuses, Err(reason))),
    };
    let raft = raft_view(&targets[roles.leader]).await?;
    let verdict = check_voters(raft, targets.len()).map(|()| roles);
    Ok((statuses, verdict))
}

/// Picks the leader: the one server claiming leadership, which must also be the address every
/// server names (when it reports its RPC address). Explains why not when the cluster has not
/// settled.
pub fn decide_roles(statuses: &[ServerStatus]) -> std::result::Result<Roles, String> {
    let named = statuses.first().map(|s| s.leader.as_str()).unwrap_or("");
    if named.is_empty() {
        return Err("no leader yet".to_string());
    }
    if let Some(other) = statuses.iter().find(|s| s.leader != named) {
        return Err(format!(
            "servers disagree on the leader ({named:?} vs {:?} on {})",
            other.leader, other.node
        ));
    }
    let leader = leader_index(statuses, named)?;
    let followers = (0..statuses.len()).filter(|&i| i != leader).collect();
    Ok(Roles { leader, followers })
}

fn leader_index(statuses: &[ServerStatus], named: &str) -> std::result::Result<usize, String> {
    let claimants: Vec<usize> = (0..statuses.len())
        .filter(|&i| statuses[i].claims_leadership)
        .collect();
    let by_address = statuses
        .iter()
        .position(|s| s.rpc_address.as_deref() == Some(named));
    match (claimants.as_slice(), by_address) {
        ([one], Some(matched)) if *one != matched => Err(format!(
            "{} claims leadership but {named} is {}",
            statuses[*one].node, statuses[matched].node
        )),
        ([one], _) => Ok(*one),
        ([], Some(matched)) => Ok(matched),
        ([], None) => Err(format!("no server is the named leader {named}")),
        (many, _) => Err(format!("{} servers claim leadership", many.len())),
    }
}

/// Every one of `expected` servers must be a voter, with one leader among them.
pub fn check_voters(raft: RaftView, expected: usize) -> std::result::Result<(), String> {
    if raft.servers == expected && raft.voters == expected && raft.leaders == 1 {
        Ok(())
    } else {
        Err(format!(
            "raft configuration has {} servers, {} voters, {} leaders (want {expected}, {expected}, 1)",
            raft.servers, raft.voters, raft.leaders
        ))
    }
}

/// Extracts a [`ServerStatus`] from a `/v1/agent/self` answer.
pub fn parse_agent_self(agent: &Value, leader: String) -> ServerStatus {
    ServerStatus {
        node: node_name(agent),
        rpc_address: rpc_address(agent),
        claims_leadership: agent["Stats"]["consul"]["leader"].as_str() == Some("true"),
        leader,
        term: agent["Stats"]["raft"]["term"]
            .as_str()
            .and_then(|t| t.parse().ok()),
    }
}

/// The agent's node name in a `/v1/agent/self` answer (`?` when it names none).
pub fn node_name(agent: &Value) -> String {
    agent["Member"]["Name"]
        .as_str()
        .or_else(|| agent["Config"]["NodeName"].as_str())
        .unwrap_or("?")
        .to_string()
}

fn rpc_address(agent: &Value) -> Option<String> {
    let host = agent["Member"]["Addr"].as_str()?;
    let port = agent["Member"]["Tags"]["port"]
        .as_str()
        .and_then(|p| p.parse::<u64>().ok())
        .or_else(|| agent["DebugConfig"]["ServerPort"].as_u64())
        .or_else(|| agent["Config"]["Ports"]["Server"].as_u64())?;
    Some(format!("{host}:{port}"))
}

fn parse_raft_configuration(configuration: &Value) -> RaftView {
    let servers = configuration["Servers"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let count = |field: &str| {
        servers
            .iter()
            .filter(|s| s[field].as_bool() == Some(true))
            .count()
    };
    RaftView {
        servers: servers.len(),
        voters: count("Voter"),
        leaders: count("Leader"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn status(node: &str, port: u16, leads: bool, named: &str) -> ServerStatus {
        ServerStatus {
            node: node.to_string(),
            rpc_address: Some(format!("127.0.0.1:{port}")),
            claims_leadership: leads,
            leader: named.to_string(),
            term: None,
        }
    }

    #[test]
    fn reads_senate_and_consul_agent_self() {
        let senate = json!({
            "Member": {"Name": "s2", "Addr": "127.0.0.1", "Tags": {"port": "18302"}},
            "Stats": {"consul": {"leader": "false"}, "raft": {"term": "5"}},
        });
        let parsed = parse_agent_self(&senate, "127.0.0.1:18303".to_string());
        assert_eq!(parsed.term, Some(5));
        assert_eq!(parsed.node, "s2");
        assert_eq!(parsed.rpc_address.as_deref(), Some("127.0.0.1:18302"));
        assert!(!parsed.claims_leadership);
        let consul = json!({
            "Config": {"NodeName": "c1"},
            "DebugConfig": {"ServerPort": 8300},
            "Member": {"Addr": "10.0.0.1", "Tags": {}},
            "Stats": {"consul": {"leader": "true"}},
        });
        let parsed = parse_agent_self(&consul, String::new());
        assert_eq!(parsed.node, "c1");
        assert_eq!(parsed.rpc_address.as_deref(), Some("10.0.0.1:8300"));
        assert!(parsed.claims_leadership);
    }

    #[test]
    fn picks_the_leader_everyone_names() {
        let named = "127.0.0.1:2";
        let statuses = [
            status("a", 1, false, named),
            status("b", 2, true, named),
            status("c", 3, false, named),
        ];
        assert_eq!(
            decide_roles(&statuses),
            Ok(Roles {
                leader: 1,
                followers: vec![0, 2]
            })
        );
        let mut unclaimed = statuses.clone();
        unclaimed[1].claims_leadership = false;
        assert_eq!(decide_roles(&unclaimed).map(|r| r.leader), Ok(1));
    }

    #[test]
    fn refuses_an_unsettled_cluster() {
        let none = [status("a", 1, false, ""), status("b", 2, false, "")];
        assert!(decide_roles(&none).is_err());
        let split = [
            status("a", 1, true, "127.0.0.1:1"),
            status("b", 2, false, "127.0.0.1:2"),
        ];
        assert!(decide_roles(&split).is_err());
        let stale_claim = [
            status("a", 1, true, "127.0.0.1:2"),
            status("b", 2, false, "127.0.0.1:2"),
        ];
        assert!(decide_roles(&stale_claim).is_err());
    }

    #[test]
    fn counts_voters() {
        let configuration = json!({"Servers": [
            {"Address": "127.0.0.1:1", "Leader": true, "Voter": true},
            {"Address": "127.0.0.1:2", "Leader": false, "Voter": true},
            {"Address": "127.0.0.1:3", "Leader": false, "Voter": false},
        ]});
        let view = parse_raft_configuration(&configuration);
        assert_eq!(
            view,
            RaftView {
                servers: 3,
                voters: 2,
                leaders: 1
            }
        );
        assert!(check_voters(view, 3).is_err());
        assert!(check_voters(RaftView { voters: 3, ..view }, 3).is_ok());
    }
}
