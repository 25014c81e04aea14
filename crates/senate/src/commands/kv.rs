//! `senate kv get|put|delete`: the key-value store from the command line, with Consul's output and messages.

use std::io::{Read, Write};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use base64::Engine;
use clap::{Args, Subcommand};
use serde::Deserialize;

use super::block_on;
use crate::api_client::{escape_path, ApiClient, HttpArgs};

/// The `kv` subcommands.
#[derive(Debug, Subcommand)]
pub enum KvCommand {
    /// Retrieves or lists data from the KV store
    Get(GetArgs),
    /// Sets or updates data in the KV store
    Put(PutArgs),
    /// Removes data from the KV store
    Delete(DeleteArgs),
}

/// `kv get [options] [KEY_OR_PREFIX]`
#[derive(Debug, Args)]
pub struct GetArgs {
    /// Key to read, or prefix with -recurse/-keys (default: the root)
    pub key: Option<String>,
    /// List all keys with the given prefix and their values
    #[arg(long)]
    pub recurse: bool,
    /// Show the key's metadata (indexes, flags, session) as well as its value
    #[arg(long)]
    pub detailed: bool,
    /// List the keys with the given prefix, not their values
    #[arg(long)]
    pub keys: bool,
    /// With -keys, list keys only up to the next occurrence of this separator
    #[arg(long, default_value = "/", value_name = "SEP")]
    pub separator: String,
    /// Print values base64-encoded
    #[arg(long)]
    pub base64: bool,
    /// Let any server answer, even if not the leader
    #[arg(long)]
    pub stale: bool,
    #[command(flatten)]
    pub http: HttpArgs,
}

/// `kv put [options] KEY [DATA]` (DATA `-` reads stdin, `@path` reads a file)
#[derive(Debug, Args)]
pub struct PutArgs {
    /// Key to write
    pub key: Option<String>,
    /// Value to write: text, `-` for stdin, or `@path` for a file's contents
    #[arg(allow_hyphen_values = true)]
    pub data: Option<String>,
    /// Unsigned integer stored with the pair for the client's own use
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub flags: u64,
    /// Check-and-set: write only if the key's ModifyIndex equals -modify-index
    #[arg(long)]
    pub cas: bool,
    /// ModifyIndex the key must have, for -cas
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub modify_index: u64,
    /// Take the lock on the key for -session
    #[arg(long)]
    pub acquire: bool,
    /// Release the lock -session holds on the key
    #[arg(long)]
    pub release: bool,
    /// Session id, for -acquire and -release
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,
    /// The data is base64-encoded
    #[arg(long)]
    pub base64: bool,
    #[command(flatten)]
    pub http: HttpArgs,
}

/// `kv delete [options] KEY_OR_PREFIX`
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Key to delete, or prefix with -recurse
    pub key: Option<String>,
    /// Delete every key with the given prefix
    #[arg(long)]
    pub recurse: bool,
    /// Check-and-set: delete only if the key's ModifyIndex equals -modify-index
    #[arg(long)]
    pub cas: bool,
    /// ModifyIndex the key must have, for -cas
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub modify_index: u64,
    #[command(flatten)]
    pub http: HttpArgs,
}

/// A KV entry as `/v1/kv` returns it.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct KvPair {
    key: String,
    flags: u64,
    value: Option<String>,
    create_index: u64,
    modify_index: u64,
    lock_index: u64,
    session: Option<String>,
}

impl KvPair {
    /// The value as the CLI prints it: its bytes, or with `-base64` the encoded text as received.
    fn printed_value(&self, base64: bool) -> anyhow::Result<Vec<u8>> {
        let encoded = self.value.as_deref().unwrap_or_default();
        if base64 {
            return Ok(encoded.as_bytes().to_vec());
        }
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .with_context(|| format!("invalid base64 value for key {}", self.key))
    }
}

/// Runs a `kv` subcommand.
pub fn run(command: KvCommand) -> anyhow::Result<ExitCode> {
    match command {
        KvCommand::Get(args) => get(args),
        KvCommand::Put(args) => put(args),
        KvCommand::Delete(args) => delete(args),
    }?;
    Ok(ExitCode::SUCCESS)
}

fn get(args: GetArgs) -> anyhow::Result<()> {
    let key = without_leading_slash(args.key.as_deref().unwrap_or_default());
    if key.is_empty() && !(args.recurse || args.keys) {
        bail!("Error! Missing KEY argument");
    }
    let client = connect(&args.http)?;
    let mut query = Vec::new();
    if args.stale {
        query.push(("stale", String::new()));
    }
    let path = kv_path(key);
    block_on(async {
        if args.keys {
            query.extend([
                ("keys", String::new()),
                ("separator", args.separator.clone()),
            ]);
            let keys: Vec<String> = list_or_empty(client.get(&path, &query).await)?;
            let mut out = std::io::stdout().lock();
            keys.iter().try_for_each(|key| writeln!(out, "{key}"))?;
        } else if args.recurse {
            query.push(("recurse", String::new()));
            let pairs: Vec<KvPair> = list_or_empty(client.get(&path, &query).await)?;
            print_pairs(&pairs, &args)?;
        } else {
            let reply = client.get(&path, &query).await.map_err(querying)?;
            if reply.status == 404 {
                bail!("Error! No key exists at: {key}");
            }
            let pairs: Vec<KvPair> = reply.json().map_err(querying)?;
            let pair = pairs
                .first()
                .ok_or_else(|| anyhow!("Error! No key exists at: {key}"))?;
            print_single(pair, &args)?;
        }
        Ok(())
    })
}

/// A listing: 404 means nothing matched.
fn list_or_empty<T: serde::de::DeserializeOwned>(
    reply: anyhow::Result<crate::api_client::Reply>,
) -> anyhow::Result<Vec<T>> {
    let reply = reply.map_err(querying)?;
    if reply.status == 404 {
        return Ok(Vec::new());
    }
    reply.json().map_err(querying)
}

fn querying(error: anyhow::Error) -> anyhow::Error {
    anyhow!("Error querying Consul agent: {error:#}")
}

fn print_single(pair: &KvPair, args: &GetArgs) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if args.detailed {
        out.write_all(&detailed(pair, args.base64)?)?;
    } else {
        out.write_all(&pair.printed_value(args.base64)?)?;
    }
    writeln!(out)?;
    Ok(())
}

/// `key:value` lines, or detailed blocks separated by blank lines.
fn print_pairs(pairs: &[KvPair], args: &GetArgs) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    for (index, pair) in pairs.iter().enumerate() {
        if args.detailed {
            if index > 0 {
                writeln!(out)?;
            }
            out.write_all(&detailed(pair, args.base64)?)?;
        } else {
            write!(out, "{}:", pair.key)?;
            out.write_all(&pair.printed_value(args.base64)?)?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// The `-detailed` block: one `Field<padding>value` line per field, without a final newline.
fn detailed(pair: &KvPair, base64: bool) -> anyhow::Result<Vec<u8>> {
    let session = pair
        .session
        .as_deref()
        .filter(|s| !s.is_empty())
        .unwrap_or("-");
    let fields = [
        ("CreateIndex", pair.create_index.to_string()),
        ("Flags", pair.flags.to_string()),
        ("Key", pair.key.clone()),
        ("LockIndex", pair.lock_index.to_string()),
        ("ModifyIndex", pair.modify_index.to_string()),
        ("Session", session.to_string()),
    ];
    let mut text = Vec::new();
    for (name, value) in fields {
        writeln!(text, "{name:<17}{value}")?;
    }
    write!(text, "{:<17}", "Value")?;
    text.extend(pair.printed_value(base64)?);
    Ok(text)
}

fn put(args: PutArgs) -> anyhow::Result<()> {
    let Some(key) = args.key.clone() else {
        bail!("Error! Missing KEY argument");
    };
    let data = read_data(args.data.as_deref()).map_err(|e| anyhow!("Error! {e:#}"))?;
    let data = if args.base64 {
        base64::engine::general_purpose::STANDARD
            .decode(data.trim_ascii())
            .map_err(|e| anyhow!("Error! Cannot base 64 decode data: {e}"))?
    } else {
        data
    };
    let session = args.session.clone().filter(|s| !s.is_empty());
    if (args.release || args.acquire) && session.is_none() {
        bail!("Error! Missing -session (required with -acquire and -release)");
    }
    if args.cas && args.modify_index == 0 {
        bail!("Must specify -modify-index with -cas!");
    }
    let client = connect(&args.http)?;
    let mut query = Vec::new();
    if args.flags != 0 {
        query.push(("flags", args.flags.to_string()));
    }
    let session = session.unwrap_or_default();
    let (operation, outcome) = if args.cas {
        (
            Some(("cas", args.modify_index.to_string())),
            PutOutcome::Cas,
        )
    } else if args.acquire {
        (Some(("acquire", session)), PutOutcome::Acquire)
    } else if args.release {
        (Some(("release", session)), PutOutcome::Release)
    } else {
        (None, PutOutcome::Write)
    };
    query.extend(operation);
    let path = kv_path(&key);
    let written = block_on(async {
        let reply = client.put(&path, &query, data).await?;
        let body = reply.into_ok_body()?;
        Ok(body.trim_ascii() == b"true")
    });
    outcome.report(&key, written)
}

/// Which kind of `kv put` ran, for its success and failure messages.
enum PutOutcome {
    Write,
    Cas,
    Acquire,
    Release,
}

impl PutOutcome {
    fn report(self, key: &str, written: anyhow::Result<bool>) -> anyhow::Result<()> {
        let message = match (self, written) {
            (PutOutcome::Write, Ok(_)) => format!("Success! Data written to: {key}"),
            (PutOutcome::Write, Err(e)) => bail!("Error! Failed writing data: {e:#}"),
            (PutOutcome::Cas, Ok(true)) => format!("Success! Data written to: {key}"),
            (PutOutcome::Cas, Ok(false)) => bail!("Error! Did not write to {key}: CAS failed"),
            (PutOutcome::Cas, Err(e)) => bail!("Error! Did not write to {key}: {e:#}"),
            (PutOutcome::Acquire, Ok(true)) => format!("Success! Lock acquired on: {key}"),
            (PutOutcome::Acquire, Ok(false)) => bail!("Error! Did not acquire lock"),
            (PutOutcome::Release, Ok(true)) => format!("Success! Lock released on: {key}"),
            (PutOutcome::Release, Ok(false)) => bail!("Error! Did not release lock"),
            (PutOutcome::Acquire | PutOutcome::Release, Err(e)) => {
                bail!("Error! Failed writing data: {e:#}")
            }
        };
        println!("{message}");
        Ok(())
    }
}

/// The DATA argument: empty if absent, stdin for `-`, a file's contents for `@path`.
fn read_data(data: Option<&str>) -> anyhow::Result<Vec<u8>> {
    match data {
        None => Ok(Vec::new()),
        Some("-") => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .context("Failed to read stdin")?;
            Ok(bytes)
        }
        Some(text) => match text.strip_prefix('@') {
            Some(path) => std::fs::read(path).context("Failed to read file"),
            None => Ok(text.as_bytes().to_vec()),
        },
    }
}

fn delete(args: DeleteArgs) -> anyhow::Result<()> {
    let key = without_leading_slash(args.key.as_deref().unwrap_or_default());
    if key.is_empty() && !args.recurse {
        bail!("Error! Missing KEY argument");
    }
    if args.cas && args.modify_index == 0 {
        bail!(
            "Cannot delete a key that does not exist. Provide a -modify-index greater than than 0."
        );
    }
    if args.modify_index != 0 && !args.cas {
        bail!("Cannot specify -modify-index without -cas!");
    }
    if args.recurse && args.cas {
        bail!("Cannot specify both -cas and -recurse!");
    }
    let client = connect(&args.http)?;
    let path = kv_path(key);
    let query = if args.recurse {
        vec![("recurse", String::new())]
    } else if args.cas {
        vec![("cas", args.modify_index.to_string())]
    } else {
        Vec::new()
    };
    let deleted = block_on(async {
        let body = client.delete(&path, &query).await?.into_ok_body()?;
        Ok(body.trim_ascii() == b"true")
    });
    let message = match (args.recurse, args.cas, deleted) {
        (true, _, Ok(_)) => format!("Success! Deleted keys with prefix: {key}"),
        (true, _, Err(e)) => bail!("Error! Did not delete prefix {key}: {e:#}"),
        (_, true, Ok(false)) => bail!("Error! Did not delete key {key}: CAS failed"),
        (_, true, Err(e)) => bail!("Error! Did not delete key {key}: {e:#}"),
        (_, false, Err(e)) => bail!("Error deleting key {key}: {e:#}"),
        (_, _, Ok(_)) => format!("Success! Deleted key: {key}"),
    };
    println!("{message}");
    Ok(())
}

fn connect(http: &HttpArgs) -> anyhow::Result<ApiClient> {
    ApiClient::new(http).map_err(|e| anyhow!("Error connecting to Consul agent: {e:#}"))
}

fn kv_path(key: &str) -> String {
    format!("/v1/kv/{}", escape_path(key))
}

/// Keys cannot start with `/`; like Consul's CLI, accept `/foo` as `foo`.
fn without_leading_slash(key: &str) -> &str {
    key.strip_prefix('/').unwrap_or(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detailed_output_aligns_like_consul() {
        let pair = KvPair {
            key: "foo".into(),
            flags: 42,
            value: Some("YmFy".into()),
            create_index: 5,
            modify_index: 6,
            lock_index: 0,
            session: None,
        };
        let text = String::from_utf8(detailed(&pair, false).unwrap()).unwrap();
        assert_eq!(
            text,
            "CreateIndex      5\nFlags            42\nKey              foo\nLockIndex        0\n\
             ModifyIndex      6\nSession          -\nValue            bar"
        );
    }

    #[test]
    fn data_argument_forms() {
        assert_eq!(read_data(None).unwrap(), b"");
        assert_eq!(read_data(Some("plain")).unwrap(), b"plain");
        let path = std::env::temp_dir().join(format!("senate-kv-data-{}", std::process::id()));
        std::fs::write(&path, "from file").unwrap();
        let arg = format!("@{}", path.display());
        assert_eq!(read_data(Some(&arg)).unwrap(), b"from file");
        std::fs::remove_file(path).unwrap();
        assert!(read_data(Some("@/nonexistent/senate")).is_err());
    }
}
