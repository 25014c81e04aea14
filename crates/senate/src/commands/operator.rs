//! `senate operator raft list-peers`: the Raft peer set, as Consul's CLI tabulates it.

use std::process::ExitCode;

use anyhow::anyhow;
use clap::{Args, Subcommand};
use serde::Deserialize;

use super::block_on;
use super::table::columnize;
use crate::api_client::{ApiClient, HttpArgs};

/// The `operator` subcommands.
#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
    /// Provides cluster-level tools for Raft
    Raft {
        #[command(subcommand)]
        command: RaftCommand,
    },
}

/// The `operator raft` subcommands.
#[derive(Debug, Subcommand)]
pub enum RaftCommand {
    /// Display the current Raft peer configuration
    ListPeers(ListPeersArgs),
}

/// `operator raft list-peers [options]`
#[derive(Debug, Args)]
pub struct ListPeersArgs {
    /// Let any server answer, even if not the leader
    #[arg(long)]
    pub stale: bool,
    #[command(flatten)]
    pub http: HttpArgs,
}

/// `/v1/operator/raft/configuration`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct RaftConfiguration {
    servers: Vec<RaftServer>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct RaftServer {
    #[serde(rename = "ID")]
    id: String,
    node: String,
    address: String,
    leader: bool,
    voter: bool,
    protocol_version: String,
    last_index: u64,
}

/// Runs an `operator` subcommand.
pub fn run(command: OperatorCommand) -> anyhow::Result<ExitCode> {
    let OperatorCommand::Raft {
        command: RaftCommand::ListPeers(args),
    } = command;
    list_peers(args)
}

fn list_peers(args: ListPeersArgs) -> anyhow::Result<ExitCode> {
    let client =
        ApiClient::new(&args.http).map_err(|e| anyhow!("Error initializing client: {e:#}"))?;
    let query = if args.stale {
        vec![("stale", String::new())]
    } else {
        Vec::new()
    };
    let configuration: RaftConfiguration = block_on(async {
        client
            .get("/v1/operator/raft/configuration", &query)
            .await?
            .json()
    })
    .map_err(|e| anyhow!("Error getting peers: Failed to retrieve raft configuration: {e:#}"))?;
    println!("{}", columnize(&peer_rows(&configuration.servers)));
    Ok(ExitCode::SUCCESS)
}

/// Node, ID, Address, State, Voter, RaftProtocol, Commit Index, Trails Leader By.
fn peer_rows(servers: &[RaftServer]) -> Vec<Vec<String>> {
    let leader_index = servers
        .iter()
        .find(|server| server.leader)
        .map_or(0, |leader| leader.last_index);
    let header = [
        "Node",
        "ID",
        "Address",
        "State",
        "Voter",
        "RaftProtocol",
        "Commit Index",
        "Trails Leader By",
    ];
    let mut rows = vec![header.map(String::from).to_vec()];
    for server in servers {
        let protocol = match server.protocol_version.as_str() {
            "" => "<=1",
            version => version,
        };
        let state = if server.leader { "leader" } else { "follower" };
        rows.push(vec![
            server.node.clone(),
            server.id.clone(),
            server.address.clone(),
            state.to_string(),
            server.voter.to_string(),
            protocol.to_string(),
            server.last_index.to_string(),
            trail(server, leader_index),
        ]);
    }
    rows
}

/// How far a follower's log trails the leader's: `-` for the leader, `1 commit`, `N commits`.
fn trail(server: &RaftServer, leader_index: u64) -> String {
    if server.leader {
        return "-".to_string();
    }
    match leader_index.saturating_sub(server.last_index) {
        1 => "1 commit".to_string(),
        behind => format!("{behind} commits"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_consul() {
        let servers: RaftConfiguration = serde_json::from_str(
            r#"{"Servers": [
                {"ID": "id-1", "Node": "alice", "Address": "127.0.0.1:8300", "Leader": true,
                 "Voter": true, "ProtocolVersion": "3", "LastIndex": 12},
                {"ID": "id-2", "Node": "bob", "Address": "127.0.0.2:8300", "Leader": false,
                 "Voter": true, "ProtocolVersion": "3", "LastIndex": 11}
            ], "Index": 22}"#,
        )
        .unwrap();
        assert_eq!(
            columnize(&peer_rows(&servers.servers)),
            "Node   ID    Address         State     Voter  RaftProtocol  Commit Index  Trails Leader By\n\
             alice  id-1  127.0.0.1:8300  leader    true   3             12            -\n\
             bob    id-2  127.0.0.2:8300  follower  true   3             11            1 commit"
        );
    }
}
