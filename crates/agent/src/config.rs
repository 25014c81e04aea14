//! The settings a Senate agent runs with, merged from defaults, config files, `-hcl` snippets and flags.
//!
//! Sources are applied in Consul's order, later ones overriding earlier ones (lists append):
//! built-in defaults, dev-mode defaults (with `-dev`), list-valued flags, config files and
//! directories in command-line order, the other flags, then each `-hcl` snippet.

mod args;
mod build;
mod error;
mod hcl1;
mod keys;
mod sources;
#[cfg(test)]
mod test_support;

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

pub use args::{AgentArgs, ConfigPaths};
pub use error::ConfigError;
pub use sources::parse_hcl;

/// Everything the agent needs to start, fully merged and validated.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentConfig {
    /// `-dev`: a single in-memory server that elects itself leader at once.
    pub dev: bool,
    /// `server`: run as a server (Raft member) rather than a client agent.
    pub server: bool,
    /// `bootstrap`: this server may elect itself without peers. Set by `-dev` and by
    /// `bootstrap_expect = 1`, which Consul folds into bootstrap mode.
    pub bootstrap: bool,
    /// `bootstrap_expect`: servers to wait for before bootstrapping; 0 when unset (or folded into `bootstrap`).
    pub bootstrap_expect: u32,
    /// `data_dir`: where durable state lives; `None` in dev mode (everything in memory).
    pub data_dir: Option<PathBuf>,
    /// `node_name`: this node's name; defaults to the host name.
    pub node_name: String,
    /// `node_id`: this node's UUID (lower-case) if configured.
    pub node_id: Option<String>,
    /// `datacenter`: lower-cased; only `a-z`, `0-9`, `-` and `_`.
    pub datacenter: String,
    /// `primary_datacenter` (legacy `acl_datacenter`); defaults to `datacenter`.
    pub primary_datacenter: String,
    /// `domain`: the DNS domain, `consul.` by default.
    pub domain: String,
    /// `bind_addr`: the address for cluster traffic (`0.0.0.0` by default, `127.0.0.1` in dev mode).
    pub bind_addr: IpAddr,
    /// `advertise_addr`: the address other nodes should use to reach this one, if not `bind_addr`.
    pub advertise_addr: Option<IpAddr>,
    /// `client_addr`: the address the HTTP and DNS interfaces listen on (`127.0.0.1` by default).
    pub client_addr: IpAddr,
    /// `ports`: listener ports; `None` means the listener is disabled.
    pub ports: Ports,
    /// `log_level`: the most verbose level logged.
    pub log_level: LogLevel,
    /// `log_json`: log as JSON lines.
    pub log_json: bool,
    /// `pid_file`: where to write the agent's process id.
    pub pid_file: Option<PathBuf>,
    /// `performance.raft_multiplier`: scales Raft timing, 1 (fastest) to 10; Consul's default is 5, dev mode 1.
    pub raft_multiplier: u8,
    /// `enable_script_checks`: allow script checks registered through the HTTP API.
    pub enable_script_checks: bool,
    /// `enable_local_script_checks`: allow script checks from config files only.
    pub enable_local_script_checks: bool,
    /// `disable_update_check`: Consul's update check switch; Senate never phones home.
    pub disable_update_check: bool,
    /// `disable_host_node_id`: do not derive the node id from the host; true by default.
    pub disable_host_node_id: bool,
    /// `limits.http_max_conns_per_client`: concurrent HTTP connections allowed per client IP.
    pub http_max_conns_per_client: u32,
    /// `limits.kv_max_value_size`: the largest KV value accepted, in bytes.
    pub kv_max_value_size: u64,
    /// `limits.txn_max_req_len`: the largest transaction request accepted, in bytes.
    pub txn_max_req_len: u64,
    /// `session_ttl_min`: the shortest session TTL accepted.
    pub session_ttl_min: Duration,
    /// `check_update_interval`: how often unchanged check output is still synced to the servers.
    pub check_update_interval: Duration,
    /// `acl`: access control settings.
    pub acl: AclConfig,
    /// `services` and `service`: service definitions as written, one JSON object each.
    pub services: Vec<serde_json::Value>,
    /// `checks` and `check`: check definitions as written, one JSON object each.
    pub checks: Vec<serde_json::Value>,
    /// `start_join` (`-join`): agents to join at start.
    pub start_join: Vec<String>,
    /// `retry_join` (`-retry-join`): agents to join at start, retrying until one answers.
    pub retry_join: Vec<String>,
    /// `retry_interval`: the wait between `retry_join` attempts.
    pub retry_interval: Duration,
    /// `retry_max` (`-retry-max`): how many `retry_join` attempts before giving up; 0 is forever.
    pub retry_max: u32,
    /// `ui_config.enabled` (`-ui`, legacy `ui`): whether the web UI was asked for.
    pub ui: bool,
    /// `encrypt`: the gossip encryption key (base64), if configured.
    pub encrypt: Option<String>,
    /// LAN gossip timings: the `gossip_lan` block (`probe_interval`, `probe_timeout`,
    /// `suspicion_mult`, `gossip_interval`, `gossip_nodes`, `retransmit_mult`) over Consul's
    /// LAN defaults, and `reconnect_timeout` (how long failed members stay listed).
    pub gossip_lan: senate_gossip::GossipTiming,
    /// `leave_on_terminate`: leave gracefully on SIGTERM (default: client agents do).
    pub leave_on_terminate: bool,
    /// `skip_leave_on_interrupt`: exit without leaving on SIGINT (default: servers do).
    pub skip_leave_on_interrupt: bool,
    /// `rejoin_after_leave` (`-rejoin`): rejoin the last run's members even after a leave.
    pub rejoin_after_leave: bool,
    /// `encrypt_verify_incoming`: refuse unencrypted gossip once encryption is on.
    pub encrypt_verify_incoming: bool,
    /// `encrypt_verify_outgoing`: encrypt outgoing gossip once encryption is on.
    pub encrypt_verify_outgoing: bool,
    /// `node_meta`: free-form metadata for this node.
    pub node_meta: BTreeMap<String, String>,
    /// Problems found while loading that did not stop start-up (unsupported keys, deprecated
    /// names, ...). Log them with [`AgentConfig::log_warnings`] once logging is set up.
    pub warnings: Vec<String>,
}

impl AgentConfig {
    /// Builds the configuration described by `args`: defaults, files, `-hcl` snippets and flags.
    pub fn load(args: &AgentArgs) -> Result<Self, ConfigError> {
        build::build(args)
    }

    /// Logs every entry of [`AgentConfig::warnings`] at `warn` level.
    pub fn log_warnings(&self) {
        for warning in &self.warnings {
            tracing::warn!("{warning}");
        }
    }
}

/// Listener ports. `None` disables a listener (Consul's `-1`, or any value `<= 0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    /// `ports.http` (`-http-port`), 8500 by default.
    pub http: Option<u16>,
    /// `ports.https` (`-https-port`), disabled by default.
    pub https: Option<u16>,
    /// `ports.dns` (`-dns-port`), 8600 by default.
    pub dns: Option<u16>,
    /// `ports.serf_lan` (`-serf-lan-port`), 8301 by default; required.
    pub serf_lan: Option<u16>,
    /// `ports.serf_wan` (`-serf-wan-port`), 8302 by default.
    pub serf_wan: Option<u16>,
    /// `ports.server` (`-server-port`), the server RPC/Raft port, 8300 by default; required.
    pub server: Option<u16>,
    /// `ports.grpc` (`-grpc-port`), disabled by default, 8502 in dev mode.
    pub grpc: Option<u16>,
}

/// ACL settings (`acl { ... }` plus Consul's legacy top-level `acl_*` keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclConfig {
    /// `acl.enabled`; legacy configs enable ACLs implicitly by setting `acl_datacenter`.
    pub enabled: bool,
    /// `acl.default_policy` (`acl_default_policy`): what a request without a matching rule may do.
    pub default_policy: AclPolicy,
    /// `acl.down_policy` (`acl_down_policy`): `allow`, `deny`, `extend-cache` (default) or `async-cache`.
    pub down_policy: String,
    /// `acl.token_ttl` (`acl_ttl`): how long resolved tokens are cached.
    pub token_ttl: Duration,
    /// `acl.tokens`: the agent's well-known tokens.
    pub tokens: AclTokens,
}

/// The tokens under `acl.tokens`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AclTokens {
    /// `initial_management` (aliases `master`, `acl_master_token`): the bootstrap management token.
    pub initial_management: Option<String>,
    /// `agent` (`acl_agent_token`): the token the agent uses for its own requests.
    pub agent: Option<String>,
    /// `agent_recovery` (aliases `agent_master`, `acl_agent_master_token`): local recovery token.
    pub agent_recovery: Option<String>,
    /// `default` (`acl_token`): used for requests that carry no token.
    pub default: Option<String>,
}

/// `acl.default_policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclPolicy {
    /// Everything not denied is allowed.
    Allow,
    /// Everything not allowed is denied.
    Deny,
}

/// How verbose the agent's log is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// `trace`
    Trace,
    /// `debug`
    Debug,
    /// `info`
    Info,
    /// `warn`
    Warn,
    /// `err` or `error`
    Error,
}

impl LogLevel {
    /// The level's name as a `tracing` filter directive (`"debug"`, `"error"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text of a log level that is not one of Consul's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid log level {0:?}; valid log levels are trace, debug, info, warn, err and error")]
pub struct UnknownLogLevel(String);

impl FromStr for LogLevel {
    type Err = UnknownLogLevel;

    /// Reads Consul's level names, ignoring case: `trace`, `debug`, `info`, `warn`, `err`, `error`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "trace" => Ok(LogLevel::Trace),
            "debug" => Ok(LogLevel::Debug),
            "info" => Ok(LogLevel::Info),
            "warn" => Ok(LogLevel::Warn),
            "err" | "error" => Ok(LogLevel::Error),
            _ => Err(UnknownLogLevel(text.to_string())),
        }
    }
}
