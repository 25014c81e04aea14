//! `senate services register|deregister`: adds and removes the local agent's services, described by
//! flags or by Consul service definition files (JSON or HCL) turned into agent API request bodies.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use clap::{Args, Subcommand};
use serde_json::{Map, Value};

use super::block_on;
use crate::api_client::{escape_path, ApiClient, HttpArgs};
use crate::cli::key_value;

/// A service as the body of `PUT /v1/agent/service/register`.
type Registration = Map<String, Value>;

/// The `services` subcommands.
#[derive(Debug, Subcommand)]
pub enum ServicesCommand {
    /// Register services with the local agent
    Register(RegisterArgs),
    /// Deregister services with the local agent
    Deregister(DeregisterArgs),
}

/// `services register [options] [FILE...]`
#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// Service definition files (.json or .hcl) holding `service { ... }` or `services [...]`
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// ID of the service to register from flags (default: the -name value)
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,
    /// Name of the service to register from flags
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Address of the service (default: the agent's address)
    #[arg(long, value_name = "ADDRESS")]
    pub address: Option<String>,
    /// Port of the service
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// Tag to add to the service; may be given more than once
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Metadata to set on the service; may be given more than once
    #[arg(long, value_name = "KEY=VALUE", value_parser = key_value)]
    pub meta: Vec<(String, String)>,
    #[command(flatten)]
    pub http: HttpArgs,
}

/// `services deregister [options] [FILE...]`
#[derive(Debug, Args)]
pub struct DeregisterArgs {
    /// Service definition files (.json or .hcl) naming the services to remove
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// ID of the service to deregister (not with FILE arguments)
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,
    #[command(flatten)]
    pub http: HttpArgs,
}

/// Runs a `services` subcommand.
pub fn run(command: ServicesCommand) -> anyhow::Result<ExitCode> {
    match command {
        ServicesCommand::Register(args) => register(args),
        ServicesCommand::Deregister(args) => deregister(args),
    }?;
    Ok(ExitCode::SUCCESS)
}

fn register(args: RegisterArgs) -> anyhow::Result<()> {
    let named = args.name.as_deref().is_some_and(|name| !name.is_empty());
    match (args.files.is_empty(), named) {
        (true, false) => bail!("Service registration requires at least one argument or flags."),
        (false, true) => bail!("Service registration requires arguments or -id, not both."),
        _ => {}
    }
    let from_flags = flag_registration(&args);
    let registrations = if args.files.is_empty() {
        vec![from_flags]
    } else {
        let mut from_files = read_definitions(&args.files)?;
        for registration in &mut from_files {
            fill_from_flags(registration, &from_flags);
        }
        from_files
    };
    let client = ApiClient::connect(&args.http)?;
    for registration in registrations {
        let name = text_field(&registration, "Name").to_string();
        let body = serde_json::to_vec(&registration)?;
        block_on(async {
            client
                .put("/v1/agent/service/register", &[], body)
                .await?
                .into_ok_body()
        })
        .map_err(|e| anyhow!("Error registering service {name:?}: {e:#}"))?;
        println!("Registered service: {name}");
    }
    Ok(())
}

/// The service the flags describe, with unset fields left out.
fn flag_registration(args: &RegisterArgs) -> Registration {
    let mut registration = Registration::new();
    let texts = [
        ("ID", &args.id),
        ("Name", &args.name),
        ("Address", &args.address),
    ];
    for (key, value) in texts {
        if let Some(value) = value.as_deref().filter(|value| !value.is_empty()) {
            registration.insert(key.to_string(), Value::from(value));
        }
    }
    if let Some(port) = args.port.filter(|port| *port != 0) {
        registration.insert("Port".to_string(), Value::from(port));
    }
    if !args.tags.is_empty() {
        registration.insert("Tags".to_string(), Value::from(args.tags.clone()));
    }
    if !args.meta.is_empty() {
        let meta = args
            .meta
            .iter()
            .map(|(key, value)| (key.clone(), Value::from(value.as_str())))
            .collect();
        registration.insert("Meta".to_string(), Value::Object(meta));
    }
    registration
}

/// Gives a service read from a file what the flags set and the file does not: ID, name, address
/// and port if missing there; flag metadata overrides the file's, flag tags are appended.
fn fill_from_flags(registration: &mut Registration, flags: &Registration) {
    for key in ["ID", "Name", "Address", "Port"] {
        let missing = registration.get(key).is_none_or(is_unset);
        if let (true, Some(value)) = (missing, flags.get(key)) {
            registration.insert(key.to_string(), value.clone());
        }
    }
    for key in ["Meta", "Tags"] {
        let Some(extra) = flags.get(key) else {
            continue;
        };
        match (registration.entry(key).or_insert(Value::Null), extra) {
            (Value::Object(own), Value::Object(extra)) => own.extend(extra.clone()),
            (Value::Array(own), Value::Array(extra)) => own.extend(extra.iter().cloned()),
            (slot, extra) if slot.is_null() => *slot = extra.clone(),
            _ => {}
        }
    }
}

fn is_unset(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(text) => text.is_empty(),
        Value::Number(number) => number.as_u64() == Some(0),
        _ => false,
    }
}

fn text_field<'a>(registration: &'a Registration, key: &str) -> &'a str {
    registration
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn deregister(args: DeregisterArgs) -> anyhow::Result<()> {
    let by_id = args.id.as_deref().is_some_and(|id| !id.is_empty());
    match (args.files.is_empty(), by_id) {
        (true, false) => bail!("Service deregistration requires at least one argument or -id."),
        (false, true) => bail!("Service deregistration requires arguments or -id, not both."),
        _ => {}
    }
    let ids: Vec<String> = if args.files.is_empty() {
        args.id.into_iter().collect()
    } else {
        read_definitions(&args.files)?
            .iter()
            .filter_map(service_id)
            .collect()
    };
    let client = ApiClient::connect(&args.http)?;
    for id in ids {
        let path = format!("/v1/agent/service/deregister/{}", escape_path(&id));
        block_on(async { client.put(&path, &[], Vec::new()).await?.into_ok_body() })
            .map_err(|e| anyhow!("Error deregistering service {id:?}: {e:#}"))?;
        println!("Deregistered service: {id}");
    }
    Ok(())
}

/// The ID a registration goes by: its `ID`, else its `Name`; `None` if it has neither.
fn service_id(registration: &Registration) -> Option<String> {
    [
        text_field(registration, "ID"),
        text_field(registration, "Name"),
    ]
    .into_iter()
    .find(|id| !id.is_empty())
    .map(str::to_string)
}

/// Every service the files define, in order, as API request bodies.
fn read_definitions(files: &[PathBuf]) -> anyhow::Result<Vec<Registration>> {
    let mut registrations = Vec::new();
    for file in files {
        let root = parse_file(file).map_err(|e| anyhow!("Error: {e:#}"))?;
        let services =
            service_entries(root).map_err(|e| anyhow!("Error: {}: {e}", file.display()))?;
        registrations.extend(services);
    }
    Ok(registrations)
}

/// A `.json` or `.hcl` file as a JSON tree.
fn parse_file(path: &Path) -> anyhow::Result<Value> {
    let extension = path.extension().and_then(|ext| ext.to_str());
    if !matches!(extension, Some("json" | "hcl")) {
        bail!(
            "{}: a service definition file must end in .json or .hcl",
            path.display()
        );
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read {}", path.display()))?;
    let parsed = if extension == Some("json") {
        serde_json::from_str(&text).map_err(|e| e.to_string())
    } else {
        senate_agent::config::parse_hcl(&text)
    };
    parsed.map_err(|message| anyhow!("failed to parse {}: {message}", path.display()))
}

/// The `service` and `services` entries at the top of a definition file (either spelling case),
/// each converted to the API's field names. Other top-level keys are ignored.
fn service_entries(root: Value) -> Result<Vec<Registration>, String> {
    let Value::Object(root) = root else {
        return Err("expected an object at the top level".to_string());
    };
    let mut registrations = Vec::new();
    for (key, value) in root {
        if !matches!(folded(&key).as_str(), "service" | "services") {
            continue;
        }
        for entry in one_or_many(value) {
            match entry {
                Value::Object(fields) => registrations.push(api_object(fields, Fields::Plain)),
                other => return Err(format!("{key}: expected an object, got {other}")),
            }
        }
    }
    Ok(registrations)
}

/// Which API struct an object's keys belong to; check blocks name a few fields differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fields {
    Plain,
    Check,
}

/// Renames an object's config-file keys (`snake_case`) to the API's (`PascalCase`), recursing
/// into nested blocks but leaving user-chosen keys (`meta`, `header`, ...) alone.
fn api_object(object: Map<String, Value>, fields: Fields) -> Map<String, Value> {
    object
        .into_iter()
        .map(|(key, value)| {
            let value = match folded(&key).as_str() {
                "meta" | "nodemeta" | "header" | "config" => value,
                "taggedaddresses" => keyed_by_user(value),
                "check" => api_value(value, Fields::Check),
                "checks" => Value::Array(
                    one_or_many(value)
                        .into_iter()
                        .map(|check| api_value(check, Fields::Check))
                        .collect(),
                ),
                _ => api_value(value, Fields::Plain),
            };
            (api_key(&key, fields), value)
        })
        .collect()
}

fn api_value(value: Value, fields: Fields) -> Value {
    match value {
        Value::Object(object) => Value::Object(api_object(object, fields)),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|item| api_value(item, fields))
                .collect(),
        ),
        scalar => scalar,
    }
}

/// A map whose keys the user chose but whose values are API objects (`tagged_addresses`).
fn keyed_by_user(value: Value) -> Value {
    match value {
        Value::Object(object) => Value::Object(
            object
                .into_iter()
                .map(|(key, value)| (key, api_value(value, Fields::Plain)))
                .collect(),
        ),
        other => other,
    }
}

/// The API's name for a config-file key; keys already in API style (no `_`, some capitals) stay.
fn api_key(key: &str, fields: Fields) -> String {
    if !key.contains('_') && key.chars().any(|c| c.is_ascii_uppercase()) {
        return key.to_string();
    }
    let lower = key.to_ascii_lowercase();
    let special = match (fields, lower.as_str()) {
        (Fields::Check, "id") => Some("CheckID"),
        (Fields::Check, "args" | "script_args") => Some("ScriptArgs"),
        (_, "h2ping") => Some("H2PING"),
        (_, "h2ping_use_tls") => Some("H2PingUseTLS"),
        _ => None,
    };
    match special {
        Some(name) => name.to_string(),
        None => lower.split('_').map(pascal_word).collect(),
    }
}

/// `http` → `HTTP` for the acronyms the API spells in capitals, else `word` → `Word`.
fn pascal_word(word: &str) -> String {
    const ACRONYMS: [&str; 8] = ["id", "http", "tcp", "ttl", "tls", "grpc", "udp", "os"];
    if ACRONYMS.contains(&word) {
        return word.to_ascii_uppercase();
    }
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// A key compared without regard to case or underscores: `Tagged_Addresses` → `taggedaddresses`.
fn folded(key: &str) -> String {
    key.chars()
        .filter(|c| *c != '_')
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// A block written once is an object, written repeatedly (or as a list) an array.
fn one_or_many(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items,
        Value::Null => Vec::new(),
        single => vec![single],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entries(value: Value) -> Vec<Value> {
        service_entries(value)
            .unwrap()
            .into_iter()
            .map(Value::Object)
            .collect()
    }

    #[test]
    fn config_keys_become_api_names() {
        let file = json!({
            "datacenter": "ignored",
            "service": {
                "name": "web", "id": "web-1", "port": 80, "enable_tag_override": true,
                "meta": {"some_key": "v"},
                "tagged_addresses": {"lan_ipv4": {"address": "10.0.0.1", "port": 80}},
                "check": {"id": "web-http", "http": "http://x", "interval": "10s",
                          "tls_skip_verify": true, "header": {"x_custom": ["1"]}},
                "checks": {"args": ["/bin/true"], "deregister_critical_service_after": "1m"}
            }
        });
        assert_eq!(
            entries(file),
            [json!({
                "Name": "web", "ID": "web-1", "Port": 80, "EnableTagOverride": true,
                "Meta": {"some_key": "v"},
                "TaggedAddresses": {"lan_ipv4": {"Address": "10.0.0.1", "Port": 80}},
                "Check": {"CheckID": "web-http", "HTTP": "http://x", "Interval": "10s",
                          "TLSSkipVerify": true, "Header": {"x_custom": ["1"]}},
                "Checks": [{"ScriptArgs": ["/bin/true"], "DeregisterCriticalServiceAfter": "1m"}]
            })]
        );
    }

    #[test]
    fn api_style_keys_and_service_lists_are_accepted() {
        let file = json!({
            "Service": {"Name": "a", "Check": {"TTL": "10s"}},
            "services": [{"name": "b"}, {"name": "c", "socket_path": "/s"}]
        });
        assert_eq!(
            entries(file),
            [
                json!({"Name": "a", "Check": {"TTL": "10s"}}),
                json!({"Name": "b"}),
                json!({"Name": "c", "SocketPath": "/s"}),
            ]
        );
        assert!(service_entries(json!({"service": "web"})).is_err());
    }

    #[test]
    fn hcl_blocks_parse_like_json() {
        let hcl = "service {\n  name = \"web\"\n  port = 80\n  tags = [\"a\"]\n  \
                   check {\n    ttl = \"30s\"\n  }\n}\n";
        let value: Value = hcl::from_str(hcl).unwrap();
        assert_eq!(
            entries(value),
            [json!({"Name": "web", "Port": 80, "Tags": ["a"], "Check": {"TTL": "30s"}})]
        );
    }

    #[test]
    fn flags_fill_what_the_file_leaves_out() {
        let mut from_file = json!({"Name": "web", "Port": 0, "Tags": ["a"], "Meta": {"k": "file"}});
        let flags = json!({"Name": "x", "ID": "web-9", "Port": 8080, "Tags": ["b"],
                           "Meta": {"k": "flag", "other": "1"}});
        let (Value::Object(registration), Value::Object(flags)) = (&mut from_file, flags) else {
            unreachable!()
        };
        fill_from_flags(registration, &flags);
        assert_eq!(
            from_file,
            json!({"Name": "web", "ID": "web-9", "Port": 8080, "Tags": ["a", "b"],
                   "Meta": {"k": "flag", "other": "1"}})
        );
    }

    #[test]
    fn deregistration_ids_fall_back_to_the_name() {
        let entries =
            service_entries(json!({"services": [{"name": "a"}, {"id": "b-1", "name": "b"}, {}]}))
                .unwrap();
        let ids: Vec<String> = entries.iter().filter_map(service_id).collect();
        assert_eq!(ids, ["a", "b-1"]);
    }
}
