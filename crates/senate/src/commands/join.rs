//! `senate join`: asks the agent to join a cluster through one or more existing members.

use std::process::ExitCode;

use anyhow::bail;
use clap::Args;

use super::{block_on, usage_error};
use crate::api_client::{escape_segment, ApiClient, HttpArgs};

/// `join [options] address ...`
#[derive(Debug, Args)]
pub struct JoinArgs {
    /// Gossip addresses (host or host:port) of existing members to contact
    #[arg(value_name = "ADDRESS")]
    pub addresses: Vec<String>,
    /// Join a server to another server in the WAN pool
    #[arg(long)]
    pub wan: bool,
    #[command(flatten)]
    pub http: HttpArgs,
}

/// Runs `join`: one `PUT /v1/agent/join/<address>` per address; fails only if none succeeded.
pub fn run(args: JoinArgs) -> anyhow::Result<ExitCode> {
    if args.addresses.is_empty() {
        return Err(usage_error(
            &["join"],
            "At least one address to join must be specified.",
        ));
    }
    let client = ApiClient::connect(&args.http)?;
    let query = if args.wan {
        vec![("wan", "1".to_string())]
    } else {
        Vec::new()
    };
    let mut joined = 0;
    for address in &args.addresses {
        match join_one(&client, address, &query) {
            Ok(()) => joined += 1,
            Err(error) => eprintln!("Error joining address '{address}': {error:#}"),
        }
    }
    if joined == 0 {
        bail!("Failed to join any nodes.");
    }
    println!("Successfully joined cluster by contacting {joined} nodes.");
    Ok(ExitCode::SUCCESS)
}

fn join_one(client: &ApiClient, address: &str, query: &[(&str, String)]) -> anyhow::Result<()> {
    let path = format!("/v1/agent/join/{}", escape_segment(address));
    block_on(async { client.put(&path, query, Vec::new()).await?.into_ok_body() })?;
    Ok(())
}
