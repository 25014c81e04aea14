//! `senate event`: fires a user event through the agent (`PUT /v1/event/fire/<name>`).

use std::process::ExitCode;

use anyhow::anyhow;
use clap::Args;

use super::{block_on, usage_error};
use crate::api_client::{escape_segment, ApiClient, HttpArgs};

/// `event [options] [payload]`
#[derive(Debug, Args)]
pub struct EventArgs {
    /// Name of the event
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Regular expression the names of the nodes that should handle it must match
    #[arg(long, value_name = "REGEX")]
    pub node: Option<String>,
    /// Regular expression the services of the nodes that should handle it must match
    #[arg(long, value_name = "REGEX")]
    pub service: Option<String>,
    /// Regular expression the service's tags must match (needs -service)
    #[arg(long, value_name = "REGEX")]
    pub tag: Option<String>,
    /// The event's payload
    #[arg(value_name = "PAYLOAD")]
    pub payload: Vec<String>,
    #[command(flatten)]
    pub http: HttpArgs,
}

/// Runs `event`, printing the new event's ID.
pub fn run(args: EventArgs) -> anyhow::Result<ExitCode> {
    let Some(name) = args.name.clone().filter(|n| !n.is_empty()) else {
        return Err(usage_error(&["event"], "Event name must be specified"));
    };
    if args.tag.is_some() && args.service.is_none() {
        return Err(usage_error(
            &["event"],
            "Cannot provide tag filter without service filter.",
        ));
    }
    if args.payload.len() > 1 {
        return Err(usage_error(&["event"], "Too many command line arguments."));
    }
    let filters = [
        ("node", &args.node),
        ("service", &args.service),
        ("tag", &args.tag),
    ];
    let query: Vec<(&str, String)> = filters
        .into_iter()
        .filter_map(|(key, value)| Some((key, value.clone()?)))
        .collect();
    let payload = args
        .payload
        .first()
        .cloned()
        .unwrap_or_default()
        .into_bytes();
    let client = ApiClient::connect(&args.http)?;
    let path = format!("/v1/event/fire/{}", escape_segment(&name));
    let body = block_on(async { client.put(&path, &query, payload).await?.into_ok_body() })
        .map_err(|e| anyhow!("Error firing event: {e:#}"))?;
    let event: serde_json::Value = serde_json::from_slice(&body)?;
    println!("Event ID: {}", event["ID"].as_str().unwrap_or_default());
    Ok(ExitCode::SUCCESS)
}
