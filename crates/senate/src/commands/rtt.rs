//! `senate rtt`: the estimated round-trip time between two nodes, from their network
//! coordinates (`/v1/coordinate/nodes`); the second node defaults to the agent's own.

use std::process::ExitCode;

use anyhow::{anyhow, bail};
use clap::Args;
use senate_coordinate::Coordinate;
use serde_json::Value;

use super::{block_on, usage_error};
use crate::api_client::{ApiClient, HttpArgs};

/// `rtt [options] node1 [node2]`
#[derive(Debug, Args)]
pub struct RttArgs {
    /// Use WAN coordinates (servers only)
    #[arg(long)]
    pub wan: bool,
    /// One or two node names
    #[arg(value_name = "NODE")]
    pub nodes: Vec<String>,
    #[command(flatten)]
    pub http: HttpArgs,
}

/// Runs `rtt`.
pub fn run(args: RttArgs) -> anyhow::Result<ExitCode> {
    if args.wan {
        bail!("WAN coordinates are not supported: Senate has no WAN pool yet");
    }
    if args.nodes.is_empty() || args.nodes.len() > 2 {
        return Err(usage_error(
            &["rtt"],
            "One or two node names must be specified",
        ));
    }
    let client = ApiClient::connect(&args.http)?;
    let (coordinates, me) = block_on(async {
        let nodes = client
            .get("/v1/coordinate/nodes", &[])
            .await?
            .into_ok_body()?;
        let me = client.get("/v1/agent/self", &[]).await?.into_ok_body()?;
        anyhow::Ok((nodes, me))
    })
    .map_err(|e| anyhow!("Error getting coordinates: {e:#}"))?;
    let coordinates: Vec<Value> = serde_json::from_slice(&coordinates)?;
    let me: Value = serde_json::from_slice(&me)?;
    let first = &args.nodes[0];
    let second = match args.nodes.get(1) {
        Some(node) => node.clone(),
        None => me["Config"]["NodeName"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    };
    let rtt =
        coordinate_of(&coordinates, first)?.distance_to(&coordinate_of(&coordinates, &second)?);
    println!(
        "Estimated {first} <-> {second} rtt: {:.3} ms (using LAN coordinates)",
        rtt.as_secs_f64() * 1000.0
    );
    Ok(ExitCode::SUCCESS)
}

fn coordinate_of(coordinates: &[Value], node: &str) -> anyhow::Result<Coordinate> {
    let entry = coordinates
        .iter()
        .find(|c| c["Node"] == node && c["Segment"].as_str().unwrap_or("").is_empty())
        .ok_or_else(|| anyhow!("Could not find a coordinate for node {node:?}"))?;
    Ok(serde_json::from_value(entry["Coord"].clone())?)
}
