//! `senate monitor`: streams the agent's log lines at the level asked for (as JSON with
//! `-log-json`) until interrupted.

use std::io::Write;
use std::process::ExitCode;

use anyhow::anyhow;
use clap::Args;

use super::block_on;
use crate::api_client::{ApiClient, HttpArgs};

/// `monitor [options]`
#[derive(Debug, Args)]
pub struct MonitorArgs {
    /// Log level to stream: trace, debug, info, warn or err
    #[arg(long, value_name = "LEVEL", default_value = "info")]
    pub log_level: String,
    /// Stream each line as a JSON object
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub log_json: Option<bool>,
    #[command(flatten)]
    pub http: HttpArgs,
}

/// Runs `monitor`: `GET /v1/agent/monitor?loglevel=`, printing lines as they come.
pub fn run(args: MonitorArgs) -> anyhow::Result<ExitCode> {
    let client = ApiClient::connect(&args.http)?;
    let mut query = vec![("loglevel", args.log_level.clone())];
    if args.log_json == Some(true) {
        query.push(("logjson", String::new()));
    }
    let mut stdout = std::io::stdout();
    block_on(client.stream("/v1/agent/monitor", &query, |data| {
        let _reader_gone = stdout.write_all(data).and_then(|()| stdout.flush());
    }))
    .map_err(|e| anyhow!("Error starting monitor: {e:#}"))?;
    Ok(ExitCode::SUCCESS)
}
