//! `senate maint`: turns node or service maintenance mode on and off, or shows what is under maintenance.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{anyhow, bail};
use clap::Args;
use serde::Deserialize;

use super::block_on;
use crate::api_client::{escape_path, ApiClient, HttpArgs};

/// The check the agent adds while the whole node is in maintenance.
const NODE_MAINTENANCE_CHECK: &str = "_node_maintenance";
/// The prefix of the check the agent adds while one service is in maintenance.
const SERVICE_MAINTENANCE_PREFIX: &str = "_service_maintenance:";

/// `maint [options]`; with neither -enable nor -disable, lists what is under maintenance.
#[derive(Debug, Args)]
pub struct MaintArgs {
    /// Enable maintenance mode
    #[arg(long)]
    pub enable: bool,
    /// Disable maintenance mode
    #[arg(long)]
    pub disable: bool,
    /// Text describing the maintenance reason (only with -enable)
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Control maintenance mode for this service ID rather than the whole node
    #[arg(long, value_name = "ID")]
    pub service: Option<String>,
    #[command(flatten)]
    pub http: HttpArgs,
}

/// The fields of a `/v1/agent/checks` entry the listing needs.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Check {
    #[serde(rename = "CheckID")]
    check_id: String,
    #[serde(rename = "ServiceID")]
    service_id: String,
    notes: String,
}

/// The part of `/v1/agent/self` that names the node.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct AgentSelf {
    config: AgentConfig,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct AgentConfig {
    node_name: String,
}

/// Runs `maint`.
pub fn run(args: MaintArgs) -> anyhow::Result<ExitCode> {
    let reason = args.reason.clone().unwrap_or_default();
    if args.enable && args.disable {
        bail!("Only one of -enable or -disable may be provided");
    }
    if !args.enable && !reason.is_empty() {
        bail!("Reason may only be provided with -enable");
    }
    if !args.enable && !args.disable && args.service.is_some() {
        bail!("Service requires either -enable or -disable");
    }
    let client = ApiClient::connect(&args.http)?;
    let node_name = block_on(async {
        let agent: AgentSelf = client.get("/v1/agent/self", &[]).await?.json()?;
        Ok(agent.config.node_name)
    })
    .map_err(|e| anyhow!("Error querying Consul agent: {e:#}"))?;
    if args.enable || args.disable {
        set(&client, args.enable, &reason, args.service.as_deref())?;
    } else {
        list(&client, &node_name)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints a block per maintenance check: the node's first, then each service's.
fn list(client: &ApiClient, node_name: &str) -> anyhow::Result<()> {
    let checks: BTreeMap<String, Check> =
        block_on(async { client.get("/v1/agent/checks", &[]).await?.json() })
            .map_err(|e| anyhow!("Error getting checks: {e:#}"))?;
    print!("{}", maintenance_listing(checks.values(), node_name));
    Ok(())
}

fn maintenance_listing<'a>(checks: impl Iterator<Item = &'a Check>, node_name: &str) -> String {
    let mut text = String::new();
    for check in checks {
        if check.check_id == NODE_MAINTENANCE_CHECK {
            text += &format!("Node:\n  Name:   {node_name}\n");
        } else if check.check_id.starts_with(SERVICE_MAINTENANCE_PREFIX) {
            text += &format!("Service:\n  ID:     {}\n", check.service_id);
        } else {
            continue;
        }
        text += &format!("  Reason: {}\n\n", check.notes);
    }
    text
}

/// Enables or disables maintenance for the node, or for one service, and reports the change.
fn set(
    client: &ApiClient,
    enable: bool,
    reason: &str,
    service: Option<&str>,
) -> anyhow::Result<()> {
    let mut query = vec![("enable", enable.to_string())];
    if enable {
        query.push(("reason", reason.to_string()));
    }
    let path = match service {
        Some(id) => format!("/v1/agent/service/maintenance/{}", escape_path(id)),
        None => "/v1/agent/maintenance".to_string(),
    };
    let state = if enable { "enabled" } else { "disabled" };
    let action = if enable { "enabling" } else { "disabling" };
    let target = if service.is_some() { "service" } else { "node" };
    block_on(async { client.put(&path, &query, Vec::new()).await?.into_ok_body() })
        .map_err(|e| anyhow!("Error {action} {target} maintenance: {e:#}"))?;
    match service {
        Some(id) => println!("Service maintenance is now {state} for {id:?}"),
        None => println!("Node maintenance is now {state}"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(id: &str, service: &str, notes: &str) -> Check {
        Check {
            check_id: id.to_string(),
            service_id: service.to_string(),
            notes: notes.to_string(),
        }
    }

    #[test]
    fn listing_matches_consul() {
        let checks = [
            check("_node_maintenance", "", "patching"),
            check("_service_maintenance:web", "web", "deploy"),
            check("service:web", "web", ""),
        ];
        assert_eq!(
            maintenance_listing(checks.iter(), "n1"),
            "Node:\n  Name:   n1\n  Reason: patching\n\n\
             Service:\n  ID:     web\n  Reason: deploy\n\n"
        );
    }
}
