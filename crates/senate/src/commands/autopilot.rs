//! `senate operator autopilot get-config|set-config|state`: autopilot's settings and its view of
//! server health, read and changed as Consul's CLI does.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail};
use clap::{Args, Subcommand};
use senate_types::duration;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::{block_on, emit};
use crate::api_client::{ApiClient, HttpArgs};

const CONFIGURATION_PATH: &str = "/v1/operator/autopilot/configuration";

/// The `operator autopilot` subcommands.
#[derive(Debug, Subcommand)]
pub enum AutopilotCommand {
    /// Display the current Autopilot configuration
    GetConfig(GetConfigArgs),
    /// Modify the current Autopilot configuration
    SetConfig(SetConfigArgs),
    /// Display the current Autopilot state
    State(StateArgs),
}

/// `operator autopilot get-config [options]`
#[derive(Debug, Args)]
pub struct GetConfigArgs {
    /// Let any server answer, even if not the leader
    #[arg(long)]
    pub stale: bool,
    #[command(flatten)]
    pub http: HttpArgs,
}

/// `operator autopilot set-config [options]`; only the given settings change.
#[derive(Debug, Args)]
pub struct SetConfigArgs {
    /// Remove dead servers automatically when new ones are added (true|false)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub cleanup_dead_servers: Option<String>,
    /// Longest a server may go without contact from the leader and stay healthy, such as 200ms
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub last_contact_threshold: Option<String>,
    /// Most log entries a server may trail the leader by and stay healthy
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub max_trailing_logs: Option<String>,
    /// Fewest servers the cluster must keep before autopilot may prune dead ones
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub min_quorum: Option<String>,
    /// How long a new server must stay healthy before it is promoted, such as 10s
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub server_stabilization_time: Option<String>,
    /// (Enterprise-only in Consul) node_meta tag that separates servers into redundancy zones
    #[arg(long, value_name = "TAG")]
    pub redundancy_zone_tag: Option<String>,
    /// (Enterprise-only in Consul) do not promote new servers until a migration can run (true|false)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub disable_upgrade_migration: Option<String>,
    /// (Enterprise-only in Consul) node_meta tag holding the version for upgrade migrations
    #[arg(long, value_name = "TAG")]
    pub upgrade_version_tag: Option<String>,
    #[command(flatten)]
    pub http: HttpArgs,
}

/// `operator autopilot state [options]`
#[derive(Debug, Args)]
pub struct StateArgs {
    /// Output format: pretty or json
    #[arg(long, default_value = "pretty", value_name = "pretty|json")]
    pub format: String,
    /// Let any server answer, even if not the leader
    #[arg(long)]
    pub stale: bool,
    #[command(flatten)]
    pub http: HttpArgs,
}

/// Autopilot's configuration as `/v1/operator/autopilot/configuration` reads and writes it.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
struct AutopilotConfiguration {
    cleanup_dead_servers: bool,
    #[serde(deserialize_with = "duration_text")]
    last_contact_threshold: String,
    max_trailing_logs: u64,
    min_quorum: u64,
    #[serde(deserialize_with = "duration_text")]
    server_stabilization_time: String,
    redundancy_zone_tag: String,
    disable_upgrade_migration: bool,
    upgrade_version_tag: String,
    create_index: u64,
    modify_index: u64,
}

/// The settings `set-config` was asked to change, checked.
#[derive(Debug, Default, PartialEq)]
struct ConfigChanges {
    cleanup_dead_servers: Option<bool>,
    last_contact_threshold: Option<Duration>,
    max_trailing_logs: Option<u64>,
    min_quorum: Option<u64>,
    server_stabilization_time: Option<Duration>,
    redundancy_zone_tag: Option<String>,
    disable_upgrade_migration: Option<bool>,
    upgrade_version_tag: Option<String>,
}

/// `/v1/operator/autopilot/state`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct AutopilotState {
    healthy: bool,
    failure_tolerance: i64,
    // Consul's own test data spells the key this way, so both spellings are read.
    #[serde(alias = "OptimisitcFailureTolerance")]
    optimistic_failure_tolerance: i64,
    #[serde(deserialize_with = "nullable")]
    servers: BTreeMap<String, AutopilotServer>,
    leader: String,
    #[serde(deserialize_with = "nullable")]
    voters: Vec<String>,
    #[serde(deserialize_with = "nullable")]
    read_replicas: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct AutopilotServer {
    #[serde(rename = "ID")]
    id: String,
    name: String,
    address: String,
    node_status: String,
    version: String,
    #[serde(deserialize_with = "duration_text")]
    last_contact: String,
    last_term: u64,
    last_index: u64,
    healthy: bool,
    #[serde(deserialize_with = "nullable")]
    stable_since: String,
    status: String,
    #[serde(deserialize_with = "nullable")]
    meta: BTreeMap<String, String>,
    node_type: String,
    redundancy_zone: String,
    upgrade_version: String,
    read_replica: bool,
}

/// Runs an `operator autopilot` subcommand.
pub fn run(command: AutopilotCommand) -> anyhow::Result<ExitCode> {
    match command {
        AutopilotCommand::GetConfig(args) => get_config(args),
        AutopilotCommand::SetConfig(args) => set_config(args),
        AutopilotCommand::State(args) => state(args),
    }
}

fn client(http: &HttpArgs) -> anyhow::Result<ApiClient> {
    ApiClient::new(http).map_err(|e| anyhow!("Error initializing client: {e:#}"))
}

fn stale_query(stale: bool) -> Vec<(&'static str, String)> {
    if stale {
        vec![("stale", String::new())]
    } else {
        Vec::new()
    }
}

fn fetch_config(
    client: &ApiClient,
    query: &[(&str, String)],
) -> anyhow::Result<AutopilotConfiguration> {
    block_on(async { client.get(CONFIGURATION_PATH, query).await?.json() })
        .map_err(|e| anyhow!("Error querying Autopilot configuration: {e:#}"))
}

fn get_config(args: GetConfigArgs) -> anyhow::Result<ExitCode> {
    let client = client(&args.http)?;
    let config = fetch_config(&client, &stale_query(args.stale))?;
    emit(&render_config(&config))?;
    Ok(ExitCode::SUCCESS)
}

/// One `Name = value` line per setting, in Consul's order and formatting.
fn render_config(config: &AutopilotConfiguration) -> String {
    format!(
        "CleanupDeadServers = {}\n\
         LastContactThreshold = {}\n\
         MaxTrailingLogs = {}\n\
         MinQuorum = {}\n\
         ServerStabilizationTime = {}\n\
         RedundancyZoneTag = {:?}\n\
         DisableUpgradeMigration = {}\n\
         UpgradeVersionTag = {:?}\n",
        config.cleanup_dead_servers,
        go_duration(&config.last_contact_threshold),
        config.max_trailing_logs,
        config.min_quorum,
        go_duration(&config.server_stabilization_time),
        config.redundancy_zone_tag,
        config.disable_upgrade_migration,
        config.upgrade_version_tag,
    )
}

/// Reads the configuration, applies the flags, and writes it back with check-and-set on its
/// `ModifyIndex`; exits 1 if another write got there first.
fn set_config(args: SetConfigArgs) -> anyhow::Result<ExitCode> {
    let changes = ConfigChanges::from_args(&args)?;
    let client = client(&args.http)?;
    let mut config = fetch_config(&client, &[])?;
    changes.apply(&mut config);
    let body = serde_json::to_vec(&config)?;
    let query = [("cas", config.modify_index.to_string())];
    let updated: bool =
        block_on(async { client.put(CONFIGURATION_PATH, &query, body).await?.json() })
            .map_err(|e| anyhow!("Error setting Autopilot configuration: {e:#}"))?;
    if updated {
        println!("Configuration updated!");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("Configuration could not be atomically updated, please try again");
        Ok(ExitCode::FAILURE)
    }
}

impl ConfigChanges {
    /// Checks every given flag value, failing with Go's flag-parsing message naming the flag.
    fn from_args(args: &SetConfigArgs) -> anyhow::Result<Self> {
        Ok(ConfigChanges {
            cleanup_dead_servers: parse_flag(
                "cleanup-dead-servers",
                args.cleanup_dead_servers.as_deref(),
                parse_bool_flag,
            )?,
            last_contact_threshold: parse_flag(
                "last-contact-threshold",
                args.last_contact_threshold.as_deref(),
                parse_duration_flag,
            )?,
            max_trailing_logs: parse_flag(
                "max-trailing-logs",
                args.max_trailing_logs.as_deref(),
                parse_uint_flag,
            )?,
            min_quorum: parse_flag("min-quorum", args.min_quorum.as_deref(), parse_uint_flag)?,
            server_stabilization_time: parse_flag(
                "server-stabilization-time",
                args.server_stabilization_time.as_deref(),
                parse_duration_flag,
            )?,
            redundancy_zone_tag: args.redundancy_zone_tag.clone(),
            disable_upgrade_migration: parse_flag(
                "disable-upgrade-migration",
                args.disable_upgrade_migration.as_deref(),
                parse_bool_flag,
            )?,
            upgrade_version_tag: args.upgrade_version_tag.clone(),
        })
    }

    /// Overwrites the settings that were given; the rest, and the indexes, stay as read.
    fn apply(self, config: &mut AutopilotConfiguration) {
        let text = |value: Option<Duration>| value.map(duration::format);
        replace(&mut config.cleanup_dead_servers, self.cleanup_dead_servers);
        replace(
            &mut config.last_contact_threshold,
            text(self.last_contact_threshold),
        );
        replace(&mut config.max_trailing_logs, self.max_trailing_logs);
        replace(&mut config.min_quorum, self.min_quorum);
        replace(
            &mut config.server_stabilization_time,
            text(self.server_stabilization_time),
        );
        replace(&mut config.redundancy_zone_tag, self.redundancy_zone_tag);
        replace(
            &mut config.disable_upgrade_migration,
            self.disable_upgrade_migration,
        );
        replace(&mut config.upgrade_version_tag, self.upgrade_version_tag);
    }
}

fn replace<T>(field: &mut T, change: Option<T>) {
    if let Some(value) = change {
        *field = value;
    }
}

/// Parses a flag's value, if given, with `parse`, which returns Go's whole message for a bad
/// value given the flag's name (without its dash) and the text.
fn parse_flag<T>(
    name: &str,
    value: Option<&str>,
    parse: fn(&str, &str) -> Result<T, String>,
) -> anyhow::Result<Option<T>> {
    value
        .map(|text| parse(name, text))
        .transpose()
        .map_err(|message| anyhow!("Failed to parse args: {message}"))
}

/// `true`/`false` and the other forms Go's `strconv.ParseBool` reads.
fn parse_bool_flag(name: &str, text: &str) -> Result<bool, String> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!(
            "invalid boolean value {text:?} for -{name}: strconv.ParseBool: parsing {text:?}: invalid syntax"
        )),
    }
}

/// A Go duration such as `200ms` or `10s`.
fn parse_duration_flag(name: &str, text: &str) -> Result<Duration, String> {
    duration::parse(text)
        .map_err(|error| format!("invalid value {text:?} for flag -{name}: time: {error}"))
}

/// An unsigned decimal integer.
fn parse_uint_flag(name: &str, text: &str) -> Result<u64, String> {
    text.parse().map_err(|_| {
        format!(
            "invalid value {text:?} for flag -{name}: strconv.ParseUint: parsing {text:?}: invalid syntax"
        )
    })
}

/// A duration the agent sent, as Go's `time.Duration.String()` prints it (`""` reads as zero).
fn go_duration(text: &str) -> String {
    if text.is_empty() {
        return duration::format(Duration::ZERO);
    }
    duration::parse(text).map_or_else(|_| text.to_string(), duration::format)
}

/// A duration field as text: Go's JSON sends a string, but a nanosecond count or null also reads.
fn duration_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::String(text) => text,
        Value::Number(number) => number
            .as_u64()
            .map(|nanos| duration::format(Duration::from_nanos(nanos)))
            .unwrap_or_default(),
        _ => String::new(),
    })
}

/// A field Go may send as `null` (an unset slice or map), read as its empty value.
fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Option::unwrap_or_default)
}

fn state(args: StateArgs) -> anyhow::Result<ExitCode> {
    if !matches!(args.format.as_str(), "pretty" | "json") {
        bail!("Unknown format: {}", args.format);
    }
    let client = client(&args.http)?;
    let query = stale_query(args.stale);
    let state: Value = block_on(async {
        client
            .get("/v1/operator/autopilot/state", &query)
            .await?
            .json()
    })
    .map_err(|e| anyhow!("Error querying Autopilot state: {e:#}"))?;
    if args.format == "json" {
        emit(&format!("{}\n", json_with_four_spaces(&state)?))?;
    } else {
        let state: AutopilotState = serde_json::from_value(state)
            .map_err(|e| anyhow!("Error querying Autopilot state: {e}"))?;
        emit(&render_state(&state))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// JSON indented by four spaces, as Consul's `-format=json` prints it.
fn json_with_four_spaces(value: &Value) -> anyhow::Result<String> {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    value.serialize(&mut serializer)?;
    Ok(String::from_utf8(out)?)
}

/// Consul's `pretty` format: the cluster summary, then each server by ID.
fn render_state(state: &AutopilotState) -> String {
    let mut text = format!(
        "Healthy:                      {}\n\
         Failure Tolerance:            {}\n\
         Optimistic Failure Tolerance: {}\n\
         Leader:                       {}\n\
         Voters:\n",
        state.healthy, state.failure_tolerance, state.optimistic_failure_tolerance, state.leader
    );
    text += &indented_list("   ", &state.voters);
    if !state.read_replicas.is_empty() {
        text += "Read Replicas:\n";
        text += &indented_list("   ", &state.read_replicas);
    }
    text += "Servers:\n";
    for server in state.servers.values() {
        text += &render_server(server);
    }
    text
}

fn indented_list(indent: &str, items: &[String]) -> String {
    items
        .iter()
        .map(|item| format!("{indent}{item}\n"))
        .collect()
}

fn render_server(server: &AutopilotServer) -> String {
    let mut text = format!(
        "   {}\n\
         \x20     Name:            {}\n\
         \x20     Address:         {}\n\
         \x20     Version:         {}\n\
         \x20     Status:          {}\n\
         \x20     Node Type:       {}\n\
         \x20     Node Status:     {}\n\
         \x20     Healthy:         {}\n\
         \x20     Last Contact:    {}\n\
         \x20     Last Term:       {}\n\
         \x20     Last Index:      {}\n",
        server.id,
        server.name,
        server.address,
        server.version,
        server.status,
        server.node_type,
        server.node_status,
        server.healthy,
        go_duration(&server.last_contact),
        server.last_term,
        server.last_index,
    );
    let optional = [
        ("Stable Since:   ", server.stable_since.as_str()),
        ("Redundancy Zone:", server.redundancy_zone.as_str()),
        ("Upgrade Version:", server.upgrade_version.as_str()),
    ];
    for (label, value) in optional {
        if !value.is_empty() {
            text += &format!("      {label} {value}\n");
        }
    }
    if server.read_replica {
        text += "      Read Replica:    true\n";
    }
    if !server.meta.is_empty() {
        text += "      Meta\n";
        for (key, value) in &server.meta {
            text += &format!("         {key:?}: {value:?}\n");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_lines_match_consul() {
        let config: AutopilotConfiguration = serde_json::from_str(
            r#"{"CleanupDeadServers": true, "LastContactThreshold": "200ms",
                "MaxTrailingLogs": 250, "MinQuorum": 0, "ServerStabilizationTime": "10s",
                "RedundancyZoneTag": "", "DisableUpgradeMigration": false,
                "UpgradeVersionTag": "", "CreateIndex": 4, "ModifyIndex": 4}"#,
        )
        .unwrap();
        assert_eq!(
            render_config(&config),
            "CleanupDeadServers = true\nLastContactThreshold = 200ms\nMaxTrailingLogs = 250\n\
             MinQuorum = 0\nServerStabilizationTime = 10s\nRedundancyZoneTag = \"\"\n\
             DisableUpgradeMigration = false\nUpgradeVersionTag = \"\"\n"
        );
    }

    #[test]
    fn durations_are_reformatted_as_go_prints_them() {
        assert_eq!(go_duration("1m"), "1m0s");
        assert_eq!(go_duration(""), "0s");
        assert_eq!(go_duration("weird"), "weird");
    }

    fn set_args(flags: &[&str]) -> SetConfigArgs {
        use clap::Parser;
        #[derive(Parser)]
        struct Wrapper {
            #[command(flatten)]
            args: SetConfigArgs,
        }
        let argv = std::iter::once("set-config").chain(flags.iter().copied());
        Wrapper::try_parse_from(argv).unwrap().args
    }

    #[test]
    fn only_given_settings_change() {
        let changes = ConfigChanges::from_args(&set_args(&[
            "--cleanup-dead-servers=false",
            "--last-contact-threshold",
            "1.5s",
            "--min-quorum=3",
            "--disable-upgrade-migration",
        ]))
        .unwrap();
        let mut config = AutopilotConfiguration {
            cleanup_dead_servers: true,
            last_contact_threshold: "200ms".to_string(),
            max_trailing_logs: 250,
            server_stabilization_time: "10s".to_string(),
            modify_index: 9,
            ..AutopilotConfiguration::default()
        };
        changes.apply(&mut config);
        assert!(!config.cleanup_dead_servers);
        assert!(config.disable_upgrade_migration);
        assert_eq!(config.last_contact_threshold, "1.5s");
        assert_eq!(config.server_stabilization_time, "10s");
        assert_eq!((config.max_trailing_logs, config.min_quorum), (250, 3));
        assert_eq!(config.modify_index, 9);
    }

    #[test]
    fn bad_values_name_their_flag() {
        let error = |flags: &[&str]| {
            ConfigChanges::from_args(&set_args(flags))
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            error(&["--last-contact-threshold=abc"]),
            "Failed to parse args: invalid value \"abc\" for flag -last-contact-threshold: \
             time: invalid duration \"abc\""
        );
        assert!(error(&["--server-stabilization-time=10"]).contains("-server-stabilization-time"));
        assert!(error(&["--max-trailing-logs=-1"]).contains("flag -max-trailing-logs"));
        assert!(error(&["--cleanup-dead-servers=maybe"]).contains("for -cleanup-dead-servers"));
    }

    #[test]
    fn state_matches_consul_pretty_format() {
        let state: AutopilotState = serde_json::from_str(
            r#"{"Healthy": true, "FailureTolerance": 0, "OptimisticFailureTolerance": 0,
                "Leader": "id-1", "Voters": ["id-1"], "ReadReplicas": null,
                "Servers": {"id-1": {"ID": "id-1", "Name": "node1", "Address": "10.0.0.1:8300",
                  "NodeStatus": "alive", "Version": "1.21.0", "LastContact": "0s",
                  "LastTerm": 3, "LastIndex": 42, "Healthy": true,
                  "StableSince": "2020-11-06T14:51:00Z", "Status": "leader",
                  "Meta": {"foo": "bar"}, "NodeType": "voter"}}}"#,
        )
        .unwrap();
        assert_eq!(
            render_state(&state),
            "Healthy:                      true\n\
             Failure Tolerance:            0\n\
             Optimistic Failure Tolerance: 0\n\
             Leader:                       id-1\n\
             Voters:\n   id-1\n\
             Servers:\n   id-1\n\
             \x20     Name:            node1\n\
             \x20     Address:         10.0.0.1:8300\n\
             \x20     Version:         1.21.0\n\
             \x20     Status:          leader\n\
             \x20     Node Type:       voter\n\
             \x20     Node Status:     alive\n\
             \x20     Healthy:         true\n\
             \x20     Last Contact:    0s\n\
             \x20     Last Term:       3\n\
             \x20     Last Index:      42\n\
             \x20     Stable Since:    2020-11-06T14:51:00Z\n\
             \x20     Meta\n\
             \x20        \"foo\": \"bar\"\n"
        );
    }
}
