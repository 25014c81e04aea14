//! `senate keygen` and `senate keyring`: make a gossip encryption key, and list, install, use
//! or remove the keys of every member through the agent's `/v1/operator/keyring`.

use std::process::ExitCode;

use anyhow::anyhow;
use base64::Engine;
use clap::Args;
use serde_json::{json, Value};

use super::{block_on, usage_error};
use crate::api_client::{ApiClient, HttpArgs};

/// The bytes of a key `keygen` makes (AES-256).
const KEY_BYTES: usize = 32;

/// `keyring [options]`: exactly one of the operations.
#[derive(Debug, Args)]
pub struct KeyringArgs {
    /// List the keys installed on the members
    #[arg(long)]
    pub list: bool,
    /// Install a new key on every member
    #[arg(long, value_name = "KEY")]
    pub install: Option<String>,
    /// Make an installed key the primary one for encrypting gossip
    #[arg(long = "use", value_name = "KEY")]
    pub use_key: Option<String>,
    /// Remove a key from every member (not the primary one)
    #[arg(long, value_name = "KEY")]
    pub remove: Option<String>,
    /// With -list: list only the keys of the agent asked
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub local_only: Option<bool>,
    /// How many other members relay each answer (0 to 5)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub relay_factor: u8,
    #[command(flatten)]
    pub http: HttpArgs,
}

/// Runs `keygen`: prints a new random key, base64-encoded.
pub fn keygen() -> ExitCode {
    let key: [u8; KEY_BYTES] = rand::random();
    println!("{}", base64::engine::general_purpose::STANDARD.encode(key));
    ExitCode::SUCCESS
}

/// Runs `keyring`.
pub fn run(args: KeyringArgs) -> anyhow::Result<ExitCode> {
    let client = ApiClient::connect(&args.http)?;
    let mut query = vec![("relay-factor", args.relay_factor.to_string())];
    if args.local_only == Some(true) {
        query.push(("local-only", "1".to_string()));
    }
    let (method, key, doing) = match operation(&args)? {
        Operation::List => return list(&client, &query),
        Operation::Install(key) => ("POST", key, "Installing new gossip encryption key..."),
        Operation::Use(key) => ("PUT", key, "Changing primary gossip encryption key..."),
        Operation::Remove(key) => ("DELETE", key, "Removing gossip encryption key..."),
    };
    println!("==> {doing}");
    let body = json!({ "Key": key }).to_string().into_bytes();
    block_on(async {
        let reply = match method {
            "POST" => client.post("/v1/operator/keyring", &query, body).await?,
            "PUT" => client.put("/v1/operator/keyring", &query, body).await?,
            _ => {
                client
                    .delete_with_body("/v1/operator/keyring", &query, body)
                    .await?
            }
        };
        reply.into_ok_body()
    })
    .map_err(|e| anyhow!("error: {e:#}"))?;
    Ok(ExitCode::SUCCESS)
}

enum Operation {
    List,
    Install(String),
    Use(String),
    Remove(String),
}

/// The one operation the flags ask for.
fn operation(args: &KeyringArgs) -> anyhow::Result<Operation> {
    let mut asked = Vec::new();
    if args.list {
        asked.push(Operation::List);
    }
    if let Some(key) = &args.install {
        asked.push(Operation::Install(key.clone()));
    }
    if let Some(key) = &args.use_key {
        asked.push(Operation::Use(key.clone()));
    }
    if let Some(key) = &args.remove {
        asked.push(Operation::Remove(key.clone()));
    }
    match <[Operation; 1]>::try_from(asked) {
        Ok([one]) => Ok(one),
        Err(_) => Err(usage_error(
            &["keyring"],
            "Exactly one of -list, -install, -use, or -remove must be provided",
        )),
    }
}

fn list(client: &ApiClient, query: &[(&str, String)]) -> anyhow::Result<ExitCode> {
    println!("==> Gathering installed encryption keys...");
    let body = block_on(async {
        client
            .get("/v1/operator/keyring", query)
            .await?
            .into_ok_body()
    })
    .map_err(|e| anyhow!("error: {e:#}"))?;
    let pools: Vec<Value> = serde_json::from_slice(&body)?;
    for pool in &pools {
        print_pool(pool);
    }
    Ok(ExitCode::SUCCESS)
}

/// One pool's keys as Consul's CLI prints them.
fn print_pool(pool: &Value) {
    let scope = match pool["WAN"].as_bool() {
        Some(true) => "WAN".to_string(),
        _ => format!("{} (LAN)", pool["Datacenter"].as_str().unwrap_or("")),
    };
    let nodes = pool["NumNodes"].as_u64().unwrap_or(0);
    println!("\n{scope}:");
    for (key, count) in pool["Keys"].as_object().into_iter().flatten() {
        println!("  {key} [{}/{nodes}]", count.as_u64().unwrap_or(0));
    }
}
