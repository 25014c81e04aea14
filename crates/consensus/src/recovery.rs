//! Outage recovery from `raft/peers.json`, as Consul's outage guide describes it: when a
//! cluster lost its quorum for good, the operator writes the surviving servers into
//! `<data-dir>/raft/peers.json` on each of them and restarts them. Each then applies every entry
//! its log holds, saves a snapshot whose membership is exactly the listed servers, drops the log
//! behind it, and deletes the file; the survivors elect a leader among themselves.
//!
//! The file is Consul's Raft-protocol-3 form: `[{"id": "<node ID>", "address": "ip:port",
//! "non_voter": false}, ...]`.

use crate::log_store::LogStore;
use crate::node::ConsensusError;
use crate::state_machine::StateMachine;
use crate::type_config::{raft_id, Membership, ServerNode};
use openraft::storage::{RaftLogReader, RaftLogStorage, RaftStateMachine};
use openraft::StoredMembership;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// One server listed in `peers.json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PeerEntry {
    id: String,
    address: String,
    #[serde(default)]
    non_voter: bool,
}

/// The configuration `peers.json` asks for.
#[derive(Debug, PartialEq, Eq)]
pub struct Recovery {
    pub servers: Vec<ServerNode>,
    pub voters: BTreeSet<u64>,
}

/// Reads `path` if it exists; a malformed file is an error naming it and the problem.
pub fn read_peers(path: &Path) -> Result<Option<Recovery>, ConsensusError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(recovery_error(path, &error.to_string())),
    };
    parse_peers(&text)
        .map(Some)
        .map_err(|problem| recovery_error(path, &problem))
}

fn recovery_error(path: &Path, problem: &str) -> ConsensusError {
    ConsensusError::Recovery(format!("{}: {problem}", path.display()))
}

/// Parses the text of `peers.json`.
pub fn parse_peers(text: &str) -> Result<Recovery, String> {
    let entries: Vec<PeerEntry> = serde_json::from_str(text).map_err(|e| {
        format!("expected a JSON list of {{\"id\", \"address\", \"non_voter\"}} objects: {e}")
    })?;
    if entries.is_empty() {
        return Err("lists no servers".into());
    }
    let mut seen = BTreeSet::new();
    let mut recovery = Recovery {
        servers: Vec::new(),
        voters: BTreeSet::new(),
    };
    for entry in entries {
        if uuid::Uuid::parse_str(&entry.id).is_err() {
            return Err(format!("{:?} is not a node ID (a UUID)", entry.id));
        }
        if entry.address.parse::<std::net::SocketAddr>().is_err() {
            return Err(format!("{:?} is not an ip:port address", entry.address));
        }
        let id = raft_id(&entry.id);
        if !seen.insert(id) {
            return Err(format!("lists server {} twice", entry.id));
        }
        if !entry.non_voter {
            recovery.voters.insert(id);
        }
        recovery.servers.push(ServerNode {
            id: entry.id,
            name: String::new(),
            address: entry.address,
        });
    }
    if recovery.voters.is_empty() {
        return Err("lists no voter".into());
    }
    Ok(recovery)
}

/// Applies the whole log, saves a snapshot with the recovered membership, and drops the log.
pub async fn recover(
    recovery: Recovery,
    log: &mut LogStore,
    machine: &mut StateMachine,
) -> Result<(), ConsensusError> {
    let storage = |e: openraft::StorageError<u64>| ConsensusError::Storage(e.to_string());
    let (applied, old_membership) = machine.applied_state().await.map_err(storage)?;
    let state = log.get_log_state().await.map_err(storage)?;
    let from = applied.map_or(0, |id| id.index + 1);
    let entries = log.try_get_log_entries(from..).await.map_err(storage)?;
    let count = entries.len();
    machine.apply(entries).await.map_err(storage)?;
    let last = state.last_log_id.max(applied).ok_or_else(|| {
        ConsensusError::Recovery(
            "there is no Raft state to recover: this server holds no log".into(),
        )
    })?;
    let membership = recovered_membership(recovery, old_membership.membership());
    machine.replace_membership(StoredMembership::new(Some(last), membership));
    machine.save_recovered_snapshot().await.map_err(storage)?;
    log.purge(last).await.map_err(storage)?;
    log.save_committed(Some(last)).await.map_err(storage)?;
    tracing::warn!(
        applied = count,
        last_index = last.index,
        "recovered the Raft configuration from peers.json"
    );
    Ok(())
}

/// The listed servers, named as the old configuration named them.
fn recovered_membership(recovery: Recovery, old: &Membership) -> Membership {
    let names: BTreeMap<&str, &str> = old
        .nodes()
        .map(|(_, node)| (node.id.as_str(), node.name.as_str()))
        .collect();
    let nodes: BTreeMap<u64, ServerNode> = recovery
        .servers
        .into_iter()
        .map(|mut server| {
            server.name = names
                .get(server.id.as_str())
                .copied()
                .unwrap_or("(unknown)")
                .to_string();
            (raft_id(&server.id), server)
        })
        .collect();
    Membership::new(vec![recovery.voters], nodes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID_A: &str = "adf4238a-882b-9ddc-4a9d-5b6758e4159e";
    const ID_B: &str = "8b6dda82-3103-11e7-93ae-92361f002671";

    #[test]
    fn reads_consuls_protocol_3_form() {
        let text = format!(
            r#"[{{"id": "{ID_A}", "address": "10.1.0.1:8300", "non_voter": false}},
                {{"id": "{ID_B}", "address": "10.1.0.2:8300", "non_voter": true}}]"#
        );
        let recovery = parse_peers(&text).unwrap();
        assert_eq!(recovery.servers.len(), 2);
        assert_eq!(recovery.voters, BTreeSet::from([raft_id(ID_A)]));
    }

    #[test]
    fn refuses_malformed_files_with_the_reason() {
        assert!(parse_peers("not json").unwrap_err().contains("JSON list"));
        assert!(parse_peers("[]").unwrap_err().contains("no servers"));
        let bad_id = r#"[{"id": "x", "address": "10.1.0.1:8300"}]"#;
        assert!(parse_peers(bad_id).unwrap_err().contains("UUID"));
        let bad_address = format!(r#"[{{"id": "{ID_A}", "address": "nowhere"}}]"#);
        assert!(parse_peers(&bad_address).unwrap_err().contains("ip:port"));
        let twice = format!(
            r#"[{{"id": "{ID_A}", "address": "10.1.0.1:8300"}}, {{"id": "{ID_A}", "address": "10.1.0.2:8300"}}]"#
        );
        assert!(parse_peers(&twice).unwrap_err().contains("twice"));
        let no_voter =
            format!(r#"[{{"id": "{ID_A}", "address": "10.1.0.1:8300", "non_voter": true}}]"#);
        assert!(parse_peers(&no_voter).unwrap_err().contains("no voter"));
    }
}
