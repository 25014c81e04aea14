//! `senate operator raft list-peers|remove-peer|transfer-leader`: the Raft peer set, as Consul's
//! CLI tabulates and changes it.

use std::process::ExitCode;

use anyhow::{anyhow, bail};
use clap::{Args, Subcommand};
use serde::Deserialize;

use super::table::columnize;
use super::{block_on, emit};
use crate::api_client::{ApiClient, HttpArgs};

/// The `operator raft` subcommands.
#[derive(Debug, Subcommand)]
pub enum RaftCommand {
    /// Display the current Raft peer configuration
    ListPeers(ListPeersArgs),
    /// Remove a server from the Raft configuration
    RemovePeer(RemovePeerArgs),
    /// Transfer Raft leadership to another server
    TransferLeader(TransferLeaderArgs),
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

/// `operator raft remove-peer -address=IP:PORT | -id=ID`
#[derive(Debug, Args)]
pub struct RemovePeerArgs {
    /// The address (IP:port) to remove from the Raft configuration
    #[arg(long, value_name = "IP:PORT")]
    pub address: Option<String>,
    /// The ID to remove from the Raft configuration
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,
    #[command(flatten)]
    pub http: HttpArgs,
}

/// `operator raft transfer-leader [options]`
#[derive(Debug, Args)]
pub struct TransferLeaderArgs {
    /// The ID of the server to transfer leadership to (default: any other voter)
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,
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
    last_index: Option<u64>,
}

/// `/v1/operator/raft/transfer-leader`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct TransferLeaderReply {
    success: bool,
}

/// Runs an `operator raft` subcommand.
pub fn run(command: RaftCommand) -> anyhow::Result<ExitCode> {
    match command {
        RaftCommand::ListPeers(args) => list_peers(args),
        RaftCommand::RemovePeer(args) => remove_peer(args),
        RaftCommand::TransferLeader(args) => transfer_leader(args),
    }
}

fn client(http: &HttpArgs) -> anyhow::Result<ApiClient> {
    ApiClient::new(http).map_err(|e| anyhow!("Error initializing client: {e:#}"))
}

fn stale_query(stale: bool) -> Vec<(&'static str, String)> {
    if stale {
        vec![("stale", String::new())]
    } else {
        Vec::new()
    }
}

fn list_peers(args: ListPeersArgs) -> anyhow::Result<ExitCode> {
    let client = client(&args.http)?;
    let query = stale_query(args.stale);
    let configuration: RaftConfiguration = block_on(async {
        client
            .get("/v1/operator/raft/configuration", &query)
            .await?
            .json()
    })
    .map_err(|e| anyhow!("Error getting peers: Failed to retrieve raft configuration: {e:#}"))?;
    emit(&format!(
        "{}\n",
        columnize(&peer_rows(&configuration.servers))
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// Node, ID, Address, State, Voter, RaftProtocol, Commit Index, Trails Leader By.
fn peer_rows(servers: &[RaftServer]) -> Vec<Vec<String>> {
    let leader_index = servers
        .iter()
        .find(|server| server.leader)
        .and_then(|leader| leader.last_index);
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
        let commit_index = server
            .last_index
            .map_or_else(|| "-".to_string(), |index| index.to_string());
        rows.push(vec![
            server.node.clone(),
            server.id.clone(),
            server.address.clone(),
            state.to_string(),
            server.voter.to_string(),
            protocol.to_string(),
            commit_index,
            trail(server, leader_index),
        ]);
    }
    rows
}

/// How far a follower's log trails the leader's, as `N commits`; `-` for the leader itself or
/// when either index is unknown.
fn trail(server: &RaftServer, leader_index: Option<u64>) -> String {
    match (server.leader, leader_index, server.last_index) {
        (false, Some(leader), Some(own)) => format!("{} commits", leader.saturating_sub(own)),
        _ => "-".to_string(),
    }
}

/// `DELETE /v1/operator/raft/peer?address=` or `?id=`; exactly one of the two flags.
fn remove_peer(args: RemovePeerArgs) -> anyhow::Result<ExitCode> {
    let address = args.address.as_deref().filter(|text| !text.is_empty());
    let id = args.id.as_deref().filter(|text| !text.is_empty());
    let (name, value) = match (address, id) {
        (Some(address), None) => ("address", address),
        (None, Some(id)) => ("id", id),
        (None, None) => {
            bail!("Error removing peer: an -address or -id is required for the peer to remove")
        }
        (Some(_), Some(_)) => bail!("Error removing peer: cannot give both an -address and -id"),
    };
    let client = client(&args.http)?;
    let query = [(name, value.to_string())];
    block_on(async {
        client
            .delete("/v1/operator/raft/peer", &query)
            .await?
            .into_ok_body()
    })
    .map_err(|e| anyhow!("Error removing peer: {e:#}"))?;
    println!("Removed peer with {name} {value:?}");
    Ok(ExitCode::SUCCESS)
}

/// `POST /v1/operator/raft/transfer-leader[?id=]`; prints `Success` when the server says so.
fn transfer_leader(args: TransferLeaderArgs) -> anyhow::Result<ExitCode> {
    let client = client(&args.http)?;
    let mut query = stale_query(args.stale);
    if let Some(id) = args.id.as_deref().filter(|id| !id.is_empty()) {
        query.push(("id", id.to_string()));
    }
    // Consul's wording, spelling included, so scripts matching its messages still match.
    let reply: TransferLeaderReply = block_on(async {
        client
            .post("/v1/operator/raft/transfer-leader", &query, Vec::new())
            .await?
            .json()
    })
    .map_err(|e| anyhow!("Error transfering leadership: Failed to transfer leadership {e:#}"))?;
    if !reply.success {
        bail!("Error transfering leadership: Failed to transfer leadership");
    }
    println!("Success");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn configuration(json: &str) -> RaftConfiguration {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn table_matches_consul() {
        let servers = configuration(
            r#"{"Servers": [
                {"ID": "id-1", "Node": "alice", "Address": "127.0.0.1:8300", "Leader": true,
                 "Voter": true, "ProtocolVersion": "3", "LastIndex": 12},
                {"ID": "id-2", "Node": "bob", "Address": "127.0.0.2:8300", "Leader": false,
                 "Voter": true, "ProtocolVersion": "3", "LastIndex": 12},
                {"ID": "id-3", "Node": "carol", "Address": "127.0.0.3:8300", "Leader": false,
                 "Voter": false, "ProtocolVersion": "", "LastIndex": 4}
            ], "Index": 22}"#,
        );
        assert_eq!(
            columnize(&peer_rows(&servers.servers)),
            "Node   ID    Address         State     Voter  RaftProtocol  Commit Index  Trails Leader By\n\
             alice  id-1  127.0.0.1:8300  leader    true   3             12            -\n\
             bob    id-2  127.0.0.2:8300  follower  true   3             12            0 commits\n\
             carol  id-3  127.0.0.3:8300  follower  false  <=1           4             8 commits"
        );
    }

    #[test]
    fn missing_indexes_print_dashes() {
        let servers = configuration(
            r#"{"Servers": [
                {"ID": "id-1", "Node": "alice", "Address": "a:1", "Leader": true, "Voter": true},
                {"ID": "id-2", "Node": "bob", "Address": "b:1", "Voter": true, "LastIndex": 3}
            ]}"#,
        );
        let rows = peer_rows(&servers.servers);
        assert_eq!(rows[1][6..], ["-", "-"]);
        assert_eq!(rows[2][6..], ["3", "-"]);
    }
}
