//! `senate watch -type=event`: watches the user events the agent received, with blocking
//! queries, and on every change prints them as JSON or runs a handler with the JSON on its
//! standard input, as Consul's `watch` does. Other watch types are refused.

use std::io::Write;
use std::process::{Command, ExitCode, Stdio};

use anyhow::{anyhow, bail, Context};
use clap::Args;

use super::{block_on, usage_error};
use crate::api_client::{ApiClient, HttpArgs};

/// `watch [options] [handler ...]`
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// What to watch; Senate supports `event`
    #[arg(long = "type", value_name = "TYPE")]
    pub watch_type: Option<String>,
    /// With -type=event: only events of this name
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// A command to run on every change, given the JSON on its standard input
    #[arg(value_name = "HANDLER", trailing_var_arg = true)]
    pub handler: Vec<String>,
    #[command(flatten)]
    pub http: HttpArgs,
}

/// Runs `watch` until interrupted (or until the agent cannot be reached).
pub fn run(args: WatchArgs) -> anyhow::Result<ExitCode> {
    match args.watch_type.as_deref() {
        None => return Err(usage_error(&["watch"], "Watch type must be specified")),
        Some("event") => {}
        Some(other) => bail!("Unsupported watch type: {other:?} (Senate supports -type=event)"),
    }
    let client = ApiClient::connect(&args.http)?;
    let mut index = 0;
    loop {
        let mut query = vec![("index", index.to_string()), ("wait", "5m".to_string())];
        if let Some(name) = &args.name {
            query.push(("name", name.clone()));
        }
        let reply = block_on(client.get("/v1/event/list", &query))
            .map_err(|e| anyhow!("Error watching events: {e:#}"))?;
        let next = reply.index.unwrap_or(index);
        let body = reply
            .into_ok_body()
            .map_err(|e| anyhow!("Error watching events: {e:#}"))?;
        if next != index {
            index = next;
            deliver(&args.handler, &body)?;
        }
    }
}

/// Prints the events, or hands them to the handler.
fn deliver(handler: &[String], body: &[u8]) -> anyhow::Result<()> {
    let events: serde_json::Value = serde_json::from_slice(body)?;
    let json = serde_json::to_string_pretty(&events)?;
    if handler.is_empty() {
        println!("{json}");
        return Ok(());
    }
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(handler.join(" "))
        .stdin(Stdio::piped())
        .spawn()
        .context("starting the watch handler")?;
    if let Some(mut stdin) = child.stdin.take() {
        let _handler_may_ignore_input = stdin.write_all(json.as_bytes());
    }
    let status = child.wait().context("waiting for the watch handler")?;
    if !status.success() {
        eprintln!("Error running handler: {status}");
    }
    Ok(())
}
