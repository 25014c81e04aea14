//! `senate leave` and `senate force-leave`: a graceful leave of the local agent, or forcing
//! another member into the "left" state.

use std::process::ExitCode;

use anyhow::anyhow;
use clap::Args;

use super::{block_on, usage_error};
use crate::api_client::{escape_segment, ApiClient, HttpArgs};

/// `leave [options]`
#[derive(Debug, Args)]
pub struct LeaveArgs {
    /// Nothing: `leave` takes no arguments (any given are reported as unexpected)
    #[arg(hide = true)]
    pub unexpected: Vec<String>,
    #[command(flatten)]
    pub http: HttpArgs,
}

/// `force-leave [options] name`
#[derive(Debug, Args)]
pub struct ForceLeaveArgs {
    /// Name of the member to force into the "left" state
    #[arg(value_name = "NAME")]
    pub nodes: Vec<String>,
    /// Remove the member from the member list at once instead of letting it be reaped later
    #[arg(long)]
    pub prune: bool,
    /// Force the member out of the WAN pool only
    #[arg(long)]
    pub wan: bool,
    #[command(flatten)]
    pub http: HttpArgs,
}

/// Runs `leave`: `PUT /v1/agent/leave`.
pub fn leave(args: LeaveArgs) -> anyhow::Result<ExitCode> {
    if !args.unexpected.is_empty() {
        let message = format!(
            "Error found unexpected args: [{}]",
            args.unexpected.join(" ")
        );
        return Err(usage_error(&["leave"], &message));
    }
    let client = ApiClient::connect(&args.http)?;
    block_on(async {
        client
            .put("/v1/agent/leave", &[], Vec::new())
            .await?
            .into_ok_body()
    })
    .map_err(|e| anyhow!("Error leaving: {e:#}"))?;
    println!("Graceful leave complete");
    Ok(ExitCode::SUCCESS)
}

/// Runs `force-leave`: `PUT /v1/agent/force-leave/<name>`, silent on success as in Consul.
pub fn force_leave(args: ForceLeaveArgs) -> anyhow::Result<ExitCode> {
    let [node] = args.nodes.as_slice() else {
        return Err(usage_error(
            &["force-leave"],
            "A single node name must be specified to force leave.",
        ));
    };
    let client = ApiClient::connect(&args.http)?;
    let mut query = Vec::new();
    if args.prune {
        query.push(("prune", "1".to_string()));
    }
    if args.wan {
        query.push(("wan", "1".to_string()));
    }
    let path = format!("/v1/agent/force-leave/{}", escape_segment(node));
    block_on(async { client.put(&path, &query, Vec::new()).await?.into_ok_body() })
        .map_err(|e| anyhow!("Error force leaving: {e:#}"))?;
    Ok(ExitCode::SUCCESS)
}
