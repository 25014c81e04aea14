//! The `senate agent` command-line flags (Consul's names) and the config keys each one sets.

use std::path::PathBuf;

use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches};
use serde_json::Value;

/// Flags of `senate agent`. Each flag that maps to a config key overrides config files when given.
#[derive(Debug, Clone, Default, Args)]
pub struct AgentArgs {
    /// Start a single in-memory server that is leader at once (development mode).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", action = ArgAction::Set)]
    pub dev: bool,
    /// Run as a server.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub server: Option<bool>,
    /// Let this server elect itself without peers.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub bootstrap: Option<bool>,
    /// Number of servers to wait for before bootstrapping.
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub bootstrap_expect: Option<i64>,
    /// Directory for durable state.
    #[arg(long, value_name = "PATH")]
    pub data_dir: Option<String>,
    /// Node name (default: the host name).
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,
    /// Node id, a UUID.
    #[arg(long, value_name = "UUID")]
    pub node_id: Option<String>,
    /// Datacenter name (default: dc1).
    #[arg(long, value_name = "DC")]
    pub datacenter: Option<String>,
    /// Address to bind cluster traffic to.
    #[arg(long, value_name = "IP")]
    pub bind: Option<String>,
    /// Address to advertise to other nodes.
    #[arg(long, value_name = "IP")]
    pub advertise: Option<String>,
    /// Address the HTTP and DNS interfaces listen on (default: 127.0.0.1).
    #[arg(long, value_name = "IP")]
    pub client: Option<String>,
    /// HTTP API port; -1 disables it.
    #[arg(long, value_name = "PORT", allow_negative_numbers = true)]
    pub http_port: Option<i64>,
    /// HTTPS API port; -1 disables it.
    #[arg(long, value_name = "PORT", allow_negative_numbers = true)]
    pub https_port: Option<i64>,
    /// DNS port; -1 disables it.
    #[arg(long, value_name = "PORT", allow_negative_numbers = true)]
    pub dns_port: Option<i64>,
    /// gRPC port; -1 disables it.
    #[arg(long, value_name = "PORT", allow_negative_numbers = true)]
    pub grpc_port: Option<i64>,
    /// Serf LAN port.
    #[arg(long, value_name = "PORT", allow_negative_numbers = true)]
    pub serf_lan_port: Option<i64>,
    /// Serf WAN port; -1 disables it.
    #[arg(long, value_name = "PORT", allow_negative_numbers = true)]
    pub serf_wan_port: Option<i64>,
    /// Server RPC (Raft) port.
    #[arg(long, value_name = "PORT", allow_negative_numbers = true)]
    pub server_port: Option<i64>,
    /// Log level: trace, debug, info, warn, err or error.
    #[arg(long, value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// Log as JSON lines.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub log_json: Option<bool>,
    /// Config files and directories, in the order given.
    #[command(flatten)]
    pub config: ConfigPaths,
    /// HCL text applied after files and flags; may be repeated.
    #[arg(long, value_name = "TEXT")]
    pub hcl: Vec<String>,
    /// Agent to join at start; may be repeated.
    #[arg(long, value_name = "ADDRESS")]
    pub join: Vec<String>,
    /// Agent to join at start, retrying until it answers; may be repeated.
    #[arg(long, value_name = "ADDRESS")]
    pub retry_join: Vec<String>,
    /// Time to wait between -retry-join attempts (default 30s).
    #[arg(long, value_name = "DURATION")]
    pub retry_interval: Option<String>,
    /// Number of -retry-join attempts before giving up (default 0: forever).
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub retry_max: Option<i64>,
    /// Enable the web UI.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub ui: Option<bool>,
    /// Allow script checks registered through the HTTP API.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub enable_script_checks: Option<bool>,
    /// Allow script checks from config files only.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub enable_local_script_checks: Option<bool>,
    /// Do not derive the node id from the host.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub disable_host_node_id: Option<bool>,
    /// Rejoin the members of the last run even after a graceful leave.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub rejoin: Option<bool>,
    /// Gossip encryption key: 16, 24 or 32 bytes, base64-encoded (`senate keygen` makes one).
    #[arg(long, value_name = "KEY")]
    pub encrypt: Option<String>,
    /// DNS domain (default: consul.).
    #[arg(long, value_name = "DOMAIN")]
    pub domain: Option<String>,
    /// File to write the agent's process id to.
    #[arg(long, value_name = "PATH")]
    pub pid_file: Option<String>,
}

impl AgentArgs {
    /// The flags that were given, as `(flag, config key, value)`.
    pub(super) fn flag_settings(&self) -> Vec<(&'static str, &'static str, Value)> {
        let texts = [
            ("-data-dir", "data_dir", &self.data_dir),
            ("-node", "node_name", &self.node),
            ("-node-id", "node_id", &self.node_id),
            ("-datacenter", "datacenter", &self.datacenter),
            ("-bind", "bind_addr", &self.bind),
            ("-advertise", "advertise_addr", &self.advertise),
            ("-client", "client_addr", &self.client),
            ("-log-level", "log_level", &self.log_level),
            ("-encrypt", "encrypt", &self.encrypt),
            ("-domain", "domain", &self.domain),
            ("-pid-file", "pid_file", &self.pid_file),
            ("-retry-interval", "retry_interval", &self.retry_interval),
        ];
        let numbers = [
            (
                "-bootstrap-expect",
                "bootstrap_expect",
                self.bootstrap_expect,
            ),
            ("-http-port", "ports.http", self.http_port),
            ("-https-port", "ports.https", self.https_port),
            ("-dns-port", "ports.dns", self.dns_port),
            ("-grpc-port", "ports.grpc", self.grpc_port),
            ("-serf-lan-port", "ports.serf_lan", self.serf_lan_port),
            ("-serf-wan-port", "ports.serf_wan", self.serf_wan_port),
            ("-server-port", "ports.server", self.server_port),
            ("-retry-max", "retry_max", self.retry_max),
        ];
        let switches = [
            ("-server", "server", self.server),
            ("-bootstrap", "bootstrap", self.bootstrap),
            ("-log-json", "log_json", self.log_json),
            ("-ui", "ui_config.enabled", self.ui),
            (
                "-enable-script-checks",
                "enable_script_checks",
                self.enable_script_checks,
            ),
            (
                "-enable-local-script-checks",
                "enable_local_script_checks",
                self.enable_local_script_checks,
            ),
            (
                "-disable-host-node-id",
                "disable_host_node_id",
                self.disable_host_node_id,
            ),
            ("-rejoin", "rejoin_after_leave", self.rejoin),
        ];
        let lists = [
            ("-join", "start_join", &self.join),
            ("-retry-join", "retry_join", &self.retry_join),
        ];
        let texts = texts
            .into_iter()
            .filter_map(|(flag, key, value)| Some((flag, key, Value::from(value.clone()?))));
        let numbers = numbers
            .into_iter()
            .filter_map(|(flag, key, value)| Some((flag, key, Value::from(value?))));
        let switches = switches
            .into_iter()
            .filter_map(|(flag, key, value)| Some((flag, key, Value::from(value?))));
        let lists = lists
            .into_iter()
            .filter(|(_, _, items)| !items.is_empty())
            .map(|(flag, key, items)| (flag, key, Value::from(items.clone())));
        texts.chain(numbers).chain(switches).chain(lists).collect()
    }

    /// Warnings for flags that are accepted for compatibility but change nothing in Senate.
    pub(super) fn ignored_flag_warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.ui == Some(true) {
            warnings.push(
                "-ui: Senate does not serve Consul's web UI; the flag is ignored".to_string(),
            );
        }
        warnings
    }
}

/// `-config-file` and `-config-dir` paths in command-line order (Consul treats both alike:
/// a directory contributes its `*.json` and `*.hcl` files, a file itself).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigPaths(pub Vec<PathBuf>);

const CONFIG_FILE: &str = "config_file";
const CONFIG_DIR: &str = "config_dir";

impl FromArgMatches for ConfigPaths {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut found: Vec<(usize, PathBuf)> = [CONFIG_FILE, CONFIG_DIR]
            .into_iter()
            .flat_map(|id| indexed_paths(matches, id))
            .collect();
        found.sort_by_key(|(index, _)| *index);
        Ok(ConfigPaths(
            found.into_iter().map(|(_, path)| path).collect(),
        ))
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

fn indexed_paths(matches: &ArgMatches, id: &str) -> Vec<(usize, PathBuf)> {
    let (Some(indices), Some(paths)) = (matches.indices_of(id), matches.get_many::<PathBuf>(id))
    else {
        return Vec::new();
    };
    indices.zip(paths.cloned()).collect()
}

impl Args for ConfigPaths {
    fn augment_args(command: Command) -> Command {
        command
            .arg(
                path_arg(CONFIG_FILE, "config-file", "FILE")
                    .help("Config file (.json or .hcl) to load; may be repeated"),
            )
            .arg(path_arg(CONFIG_DIR, "config-dir", "DIR").help(
                "Directory whose .json and .hcl files are loaded in lexical order; may be repeated",
            ))
    }

    fn augment_args_for_update(command: Command) -> Command {
        Self::augment_args(command)
    }
}

fn path_arg(id: &'static str, long: &'static str, value_name: &'static str) -> Arg {
    Arg::new(id)
        .long(long)
        .value_name(value_name)
        .action(ArgAction::Append)
        .value_parser(clap::value_parser!(PathBuf))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: AgentArgs,
    }

    /// Parses double-dash agent flags as clap sees them after argv normalization.
    pub(crate) fn parse(flags: &[&str]) -> AgentArgs {
        Wrapper::try_parse_from(std::iter::once("agent").chain(flags.iter().copied()))
            .unwrap()
            .args
    }

    #[test]
    fn config_paths_keep_command_line_order() {
        let args = parse(&[
            "--config-dir",
            "d1",
            "--config-file=f1.json",
            "--config-dir=d2",
            "--config-file",
            "f2.hcl",
        ]);
        let paths: Vec<_> = args
            .config
            .0
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        assert_eq!(paths, ["d1", "f1.json", "d2", "f2.hcl"]);
    }

    #[test]
    fn switches_take_optional_values_and_ports_take_negatives() {
        let args = parse(&["--dev", "--server=false", "--ui", "--dns-port", "-1"]);
        assert!(args.dev);
        assert_eq!(args.server, Some(false));
        assert_eq!(args.ui, Some(true));
        assert_eq!(args.dns_port, Some(-1));
        assert_eq!(args.bootstrap, None);
    }

    #[test]
    fn only_given_flags_become_settings() {
        let args = parse(&["--node", "n1", "--http-port=8501", "--retry-join", "a"]);
        let keys: Vec<_> = args
            .flag_settings()
            .iter()
            .map(|(_, key, _)| *key)
            .collect();
        assert_eq!(keys, ["node_name", "ports.http", "retry_join"]);
    }
}
