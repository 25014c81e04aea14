//! `senate info`: the agent's `Stats` from `/v1/agent/self`, one section per subsystem, as
//! Consul's `consul info` prints them.

use std::process::ExitCode;

use anyhow::{anyhow, bail};
use clap::Args;
use serde_json::{Map, Value};

use super::{block_on, emit};
use crate::api_client::{ApiClient, HttpArgs};

/// `info [options]`
#[derive(Debug, Args)]
pub struct InfoArgs {
    #[command(flatten)]
    pub http: HttpArgs,
}

/// Runs `info`.
pub fn run(args: InfoArgs) -> anyhow::Result<ExitCode> {
    let client = ApiClient::connect(&args.http)?;
    let agent: Map<String, Value> =
        block_on(async { client.get("/v1/agent/self", &[]).await?.json() })
            .map_err(|e| anyhow!("Error querying agent: {e:#}"))?;
    let Some(Value::Object(stats)) = agent.get("Stats") else {
        bail!(
            "Agent response did not contain 'Stats' key: {}",
            Value::Object(agent)
        );
    };
    emit(&render(stats)?)?;
    Ok(ExitCode::SUCCESS)
}

/// `section:` then `\tkey = value` per entry, sections and keys in sorted order.
fn render(stats: &Map<String, Value>) -> anyhow::Result<String> {
    let mut sections: Vec<(&String, &Value)> = stats.iter().collect();
    sections.sort_by_key(|(name, _)| *name);
    let mut text = String::new();
    for (name, section) in sections {
        let Value::Object(entries) = section else {
            bail!("Got invalid subkey in stats: {section}");
        };
        text += &format!("{name}:\n");
        let mut entries: Vec<(&String, &Value)> = entries.iter().collect();
        entries.sort_by_key(|(key, _)| *key);
        for (key, value) in entries {
            text += &format!("\t{key} = {}\n", plain(value));
        }
    }
    Ok(text)
}

/// A stats value as text: strings as they are, anything else as JSON.
fn plain(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_and_keys_are_sorted() {
        let stats: Map<String, Value> = serde_json::from_str(
            r#"{"raft": {"state": "Leader", "applied_index": "12"},
                "agent": {"services": "1", "checks": "0"}}"#,
        )
        .unwrap();
        assert_eq!(
            render(&stats).unwrap(),
            "agent:\n\tchecks = 0\n\tservices = 1\nraft:\n\tapplied_index = 12\n\tstate = Leader\n"
        );
    }

    #[test]
    fn a_section_that_is_not_an_object_is_an_error() {
        let stats: Map<String, Value> = serde_json::from_str(r#"{"agent": "x"}"#).unwrap();
        assert!(render(&stats).is_err());
    }
}
