//! Merges the config sources in Consul's order and turns the result into a validated [`AgentConfig`].

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use senate_gossip::GossipTiming;
use serde_json::{json, Value};

use super::keys::{decode_flags, decode_source, Settings};
use super::{sources, AclConfig, AclPolicy, AclTokens, AgentArgs, AgentConfig, ConfigError, Ports};

/// Consul's built-in defaults, written with the same keys a config file uses.
fn defaults() -> Value {
    json!({
        "server": false,
        "bootstrap": false,
        "bootstrap_expect": 0,
        "datacenter": "dc1",
        "domain": "consul.",
        "bind_addr": "0.0.0.0",
        "client_addr": "127.0.0.1",
        "ports": {
            "http": 8500, "https": -1, "dns": 8600, "serf_lan": 8301,
            "serf_wan": 8302, "server": 8300, "grpc": -1
        },
        "log_level": "info",
        "log_json": false,
        "performance": { "raft_multiplier": 5 },
        "enable_script_checks": false,
        "encrypt_verify_incoming": true,
        "encrypt_verify_outgoing": true,
        "enable_local_script_checks": false,
        "disable_update_check": false,
        "disable_host_node_id": true,
        "rejoin_after_leave": false,
        "limits": {
            "http_max_conns_per_client": 200,
            "kv_max_value_size": 524288,
            "txn_max_req_len": 524288
        },
        "session_ttl_min": "10s",
        "check_update_interval": "5m",
        "retry_interval": "30s",
        "reconnect_timeout": "72h",
        "retry_max": 0,
        "acl": { "default_policy": "allow", "down_policy": "extend-cache", "token_ttl": "30s" },
        "ui_config": { "enabled": false }
    })
}

/// What `-dev` changes, applied before any file so files may still override it.
fn dev_defaults() -> Value {
    json!({
        "server": true,
        "bind_addr": "127.0.0.1",
        "log_level": "debug",
        "ui_config": { "enabled": true },
        "performance": { "raft_multiplier": 1 },
        "ports": { "grpc": 8502 }
    })
}

/// Loads and validates the configuration `args` describes.
pub(super) fn build(args: &AgentArgs) -> Result<AgentConfig, ConfigError> {
    let settings = merge_sources(args)?;
    Builder {
        dev: args.dev,
        warnings: settings.warnings.clone(),
        settings,
    }
    .assemble()
}

/// Applies defaults, dev defaults, list flags, files, other flags and `-hcl` snippets in order.
fn merge_sources(args: &AgentArgs) -> Result<Settings, ConfigError> {
    let (flag_lists, flag_values) = decode_flags(&args.flag_settings())?.split_lists();
    let mut settings = decode_source("built-in defaults", &defaults())?;
    settings.warnings.extend(args.ignored_flag_warnings());
    if args.dev {
        settings.merge(decode_source("dev mode defaults", &dev_defaults())?);
    }
    settings.merge(flag_lists);
    let mut skipped = Vec::new();
    for source in sources::read_paths(&args.config.0, &mut skipped)? {
        settings.merge(decode_source(&source.origin, &source.value)?);
    }
    settings.warnings.extend(skipped);
    settings.merge(flag_values);
    for (index, text) in args.hcl.iter().enumerate() {
        let source = sources::parse_snippet(&format!("-hcl snippet #{}", index + 1), text)?;
        settings.merge(decode_source(&source.origin, &source.value)?);
    }
    Ok(settings)
}

struct Builder {
    dev: bool,
    settings: Settings,
    warnings: Vec<String>,
}

impl Builder {
    fn assemble(mut self) -> Result<AgentConfig, ConfigError> {
        let s = &self.settings;
        let server: bool = s.value("server")?;
        let datacenter = basic_name("datacenter", s.value("datacenter")?)?;
        let primary_datacenter = self.primary_datacenter(&datacenter)?;
        let (bootstrap, bootstrap_expect) = self.bootstrap_mode(server)?;
        let config = AgentConfig {
            dev: self.dev,
            server,
            bootstrap,
            bootstrap_expect,
            data_dir: self.data_dir(server)?,
            node_name: self.node_name()?,
            node_id: self.node_id()?,
            datacenter,
            primary_datacenter,
            domain: self.settings.value("domain")?,
            bind_addr: self.settings.value("bind_addr")?,
            advertise_addr: self.advertise_addr()?,
            client_addr: self.client_addr()?,
            ports: self.ports()?,
            log_level: self.settings.value("log_level")?,
            log_json: self.settings.value("log_json")?,
            pid_file: self.settings.get::<String>("pid_file").map(PathBuf::from),
            raft_multiplier: self.settings.number("performance.raft_multiplier")?,
            enable_script_checks: self.settings.value("enable_script_checks")?,
            enable_local_script_checks: self.settings.value("enable_local_script_checks")?,
            disable_update_check: self.settings.value("disable_update_check")?,
            disable_host_node_id: self.settings.value("disable_host_node_id")?,
            http_max_conns_per_client: self.settings.number("limits.http_max_conns_per_client")?,
            kv_max_value_size: self.settings.number("limits.kv_max_value_size")?,
            txn_max_req_len: self.settings.number("limits.txn_max_req_len")?,
            session_ttl_min: self.settings.value("session_ttl_min")?,
            check_update_interval: self.settings.value("check_update_interval")?,
            acl: self.acl()?,
            services: self.settings.get("services").unwrap_or_default(),
            checks: self.settings.get("checks").unwrap_or_default(),
            start_join: self.settings.get("start_join").unwrap_or_default(),
            retry_join: self.settings.get("retry_join").unwrap_or_default(),
            retry_interval: self.settings.value("retry_interval")?,
            gossip_lan: self.gossip_lan()?,
            retry_max: self.settings.number("retry_max")?,
            ui: self.settings.value("ui_config.enabled")?,
            encrypt: self
                .settings
                .get::<String>("encrypt")
                .filter(|key| !key.is_empty()),
            leave_on_terminate: self.settings.get("leave_on_terminate").unwrap_or(!server),
            skip_leave_on_interrupt: self
                .settings
                .get("skip_leave_on_interrupt")
                .unwrap_or(server),
            rejoin_after_leave: self.settings.value("rejoin_after_leave")?,
            encrypt_verify_incoming: self.settings.value("encrypt_verify_incoming")?,
            encrypt_verify_outgoing: self.settings.value("encrypt_verify_outgoing")?,
            node_meta: self.settings.get("node_meta").unwrap_or_default(),
            warnings: Vec::new(),
        };
        Ok(AgentConfig {
            warnings: self.warnings,
            ..config
        })
    }

    /// `primary_datacenter`, else the legacy `acl_datacenter`, else the local datacenter.
    fn primary_datacenter(&mut self, datacenter: &str) -> Result<String, ConfigError> {
        let legacy = self.settings.get::<String>("acl_datacenter");
        if legacy.is_some() {
            self.warnings.push(
                "The 'acl_datacenter' field is deprecated. Use the 'primary_datacenter' field instead."
                    .to_string(),
            );
        }
        let primary = self.settings.get::<String>("primary_datacenter").or(legacy);
        match primary.filter(|name| !name.is_empty()) {
            Some(name) => basic_name("primary_datacenter", name),
            None => Ok(datacenter.to_string()),
        }
    }

    /// Checks Consul's bootstrap rules; `bootstrap_expect = 1` and `-dev` become bootstrap mode.
    fn bootstrap_mode(&mut self, server: bool) -> Result<(bool, u32), ConfigError> {
        let bootstrap: bool = self.settings.value("bootstrap")?;
        let expect: u32 = self.settings.number("bootstrap_expect")?;
        if bootstrap && !server {
            return invalid("'bootstrap = true' requires 'server = true'");
        }
        if expect > 0 && !server {
            return invalid("'bootstrap_expect > 0' requires 'server = true'");
        }
        if expect > 0 && self.dev {
            return invalid("'bootstrap_expect > 0' not allowed in dev mode");
        }
        if expect > 0 && bootstrap {
            return invalid("'bootstrap_expect > 0' and 'bootstrap = true' are mutually exclusive");
        }
        match expect {
            1 => {
                self.warnings.push(
                    "BootstrapExpect is set to 1; this is the same as Bootstrap mode.".to_string(),
                );
                return Ok((true, 0));
            }
            2 => self.warnings.push(
                "bootstrap_expect = 2: A cluster with 2 servers will provide no failure tolerance."
                    .to_string(),
            ),
            n if n > 2 && n % 2 == 0 => self.warnings.push(
                "bootstrap_expect is even number: A cluster with an even number of servers does not achieve optimum fault tolerance."
                    .to_string(),
            ),
            _ => {}
        }
        if expect > 1 {
            self.warnings
                .push(format!("bootstrap_expect > 0: expecting {expect} servers"));
        }
        if bootstrap && !self.dev {
            self.warnings
                .push("bootstrap = true: do not enable unless necessary".to_string());
        }
        Ok((bootstrap || self.dev, expect))
    }

    /// `data_dir`: ignored in dev mode (everything is in memory), required for a server otherwise.
    fn data_dir(&mut self, server: bool) -> Result<Option<PathBuf>, ConfigError> {
        let data_dir = self
            .settings
            .get::<String>("data_dir")
            .filter(|dir| !dir.is_empty())
            .map(PathBuf::from);
        if self.dev {
            if let Some(dir) = data_dir {
                self.warnings.push(format!(
                    "dev mode keeps all state in memory; data_dir {} is ignored",
                    dir.display()
                ));
            }
            return Ok(None);
        }
        match data_dir {
            None if server => {
                invalid("data_dir cannot be empty: a server needs one unless -dev is given")
            }
            Some(dir) if dir.exists() && !dir.is_dir() => invalid(&format!(
                "data_dir {:?} is not a directory",
                dir.display().to_string()
            )),
            dir => Ok(dir),
        }
    }

    fn node_name(&mut self) -> Result<String, ConfigError> {
        let name = match self.settings.get::<String>("node_name") {
            Some(name) => name,
            None => host_name()?,
        };
        if name.is_empty() {
            return invalid("node_name cannot be empty");
        }
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            self.warnings.push(format!(
                "Node name {name:?} will not be discoverable via DNS due to invalid characters. Valid characters include all alpha-numerics and dashes."
            ));
        } else if name.len() > 63 {
            self.warnings.push(format!(
                "Node name {name:?} will not be discoverable via DNS due to it being too long. Valid lengths are between 1 and 63 bytes."
            ));
        }
        Ok(name)
    }

    fn node_id(&self) -> Result<Option<String>, ConfigError> {
        let Some(text) = self
            .settings
            .get::<String>("node_id")
            .filter(|id| !id.is_empty())
        else {
            return Ok(None);
        };
        match uuid::Uuid::try_parse(&text) {
            Ok(id) => Ok(Some(id.hyphenated().to_string())),
            Err(_) => invalid(&format!("node_id {text:?} is not a valid UUID")),
        }
    }

    fn advertise_addr(&self) -> Result<Option<IpAddr>, ConfigError> {
        let advertise = self.settings.get::<IpAddr>("advertise_addr");
        if advertise.is_some_and(|ip| ip.is_unspecified()) {
            return invalid("Advertise address cannot be 0.0.0.0, :: or [::]");
        }
        Ok(advertise)
    }

    /// The first of the `client_addr` addresses; Senate listens on one address.
    fn client_addr(&mut self) -> Result<IpAddr, ConfigError> {
        let addrs: Vec<IpAddr> = self.settings.value("client_addr")?;
        let Some(&first) = addrs.first() else {
            return invalid("client_addr cannot be empty");
        };
        if addrs.len() > 1 {
            self.warnings.push(format!(
                "client_addr lists {} addresses; Senate listens on the first one, {first}",
                addrs.len()
            ));
        }
        Ok(first)
    }

    fn ports(&self) -> Result<Ports, ConfigError> {
        let port = |key: &str| self.settings.value::<Option<u16>>(key);
        let ports = Ports {
            http: port("ports.http")?,
            https: port("ports.https")?,
            dns: port("ports.dns")?,
            serf_lan: port("ports.serf_lan")?,
            serf_wan: port("ports.serf_wan")?,
            server: port("ports.server")?,
            grpc: port("ports.grpc")?,
        };
        if ports.server.is_none() {
            return invalid("server-port must be greater than zero");
        }
        if ports.serf_lan.is_none() {
            return invalid("serf-lan-port must be greater than zero");
        }
        Ok(ports)
    }

    /// ACL settings; setting the legacy `acl_datacenter` enables ACLs unless `acl.enabled` says otherwise.
    fn acl(&self) -> Result<AclConfig, ConfigError> {
        let s = &self.settings;
        let legacy_enabled = s.get::<String>("acl_datacenter").is_some();
        let default_policy = match s.value::<String>("acl.default_policy")?.as_str() {
            "deny" => AclPolicy::Deny,
            _ => AclPolicy::Allow,
        };
        Ok(AclConfig {
            enabled: s.get("acl.enabled").unwrap_or(legacy_enabled),
            default_policy,
            down_policy: s.value("acl.down_policy")?,
            token_ttl: s.value("acl.token_ttl")?,
            tokens: AclTokens {
                initial_management: s.get("acl.tokens.initial_management"),
                agent: s.get("acl.tokens.agent"),
                agent_recovery: s.get("acl.tokens.agent_recovery"),
                default: s.get("acl.tokens.default"),
            },
        })
    }
}

impl Builder {
    /// The `gossip_lan` block and `reconnect_timeout` over Consul's LAN defaults; timings the
    /// protocol cannot run with stop start-up.
    fn gossip_lan(&mut self) -> Result<GossipTiming, ConfigError> {
        let defaults = GossipTiming::lan();
        let s = &self.settings;
        let timing = GossipTiming {
            probe_interval: s
                .get("gossip_lan.probe_interval")
                .unwrap_or(defaults.probe_interval),
            probe_timeout: s
                .get("gossip_lan.probe_timeout")
                .unwrap_or(defaults.probe_timeout),
            gossip_interval: s
                .get("gossip_lan.gossip_interval")
                .unwrap_or(defaults.gossip_interval),
            gossip_nodes: s
                .optional_number("gossip_lan.gossip_nodes")?
                .unwrap_or(defaults.gossip_nodes),
            retransmit_multiplier: s
                .optional_number("gossip_lan.retransmit_mult")?
                .unwrap_or(defaults.retransmit_multiplier),
            suspicion_multiplier: s
                .optional_number("gossip_lan.suspicion_mult")?
                .unwrap_or(defaults.suspicion_multiplier),
            push_pull_interval: defaults.push_pull_interval,
            reconnect_timeout: self.reconnect_timeout()?,
        };
        timing
            .validate()
            .map_err(|error| ConfigError::Invalid(format!("gossip_lan: {error}")))?;
        Ok(timing)
    }

    /// `reconnect_timeout`: at least 8 hours, as Consul requires.
    fn reconnect_timeout(&mut self) -> Result<Duration, ConfigError> {
        let timeout: Duration = self.settings.value("reconnect_timeout")?;
        if timeout < MIN_RECONNECT_TIMEOUT {
            return invalid("reconnect_timeout must be >= 8h");
        }
        Ok(timeout)
    }
}

/// Consul's shortest `reconnect_timeout`.
const MIN_RECONNECT_TIMEOUT: Duration = Duration::from_secs(8 * 60 * 60);

fn invalid<T>(message: &str) -> Result<T, ConfigError> {
    Err(ConfigError::Invalid(message.to_string()))
}

/// Lower-cases `value` and checks it holds only `a-z`, `0-9`, `-` and `_`, as Consul requires.
fn basic_name(field: &str, value: String) -> Result<String, ConfigError> {
    let value = value.to_lowercase();
    if value.is_empty() {
        return invalid(&format!("{field} cannot be empty"));
    }
    let valid = value
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !valid {
        return invalid(&format!(
            "{field} can only contain lowercase alphanumeric, - or _ characters. received: {value:?}"
        ));
    }
    Ok(value)
}

/// The machine's host name, the default node name.
fn host_name() -> Result<String, ConfigError> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .map(|text| text.trim().to_string())
        .chain(std::env::var("HOSTNAME").ok())
        .find(|name| !name.is_empty())
        .ok_or_else(|| {
            ConfigError::Invalid(
                "Error determining node name: the host name is unknown; set node_name".to_string(),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::args::tests::parse;
    use crate::config::test_support::TempDir;
    use crate::config::LogLevel;
    use std::time::Duration;

    fn load(flags: &[&str]) -> Result<AgentConfig, ConfigError> {
        AgentConfig::load(&parse(flags))
    }

    #[test]
    fn defaults_match_consul() {
        let config = load(&["--node", "n1"]).unwrap();
        assert!(!config.dev && !config.server && !config.bootstrap);
        assert_eq!(config.datacenter, "dc1");
        assert_eq!(config.primary_datacenter, "dc1");
        assert_eq!(config.domain, "consul.");
        assert_eq!(config.client_addr.to_string(), "127.0.0.1");
        assert_eq!(config.bind_addr.to_string(), "0.0.0.0");
        assert_eq!(
            config.ports,
            Ports {
                http: Some(8500),
                https: None,
                dns: Some(8600),
                serf_lan: Some(8301),
                serf_wan: Some(8302),
                server: Some(8300),
                grpc: None,
            }
        );
        assert_eq!(config.log_level, LogLevel::Info);
        assert_eq!(config.raft_multiplier, 5);
        assert_eq!(config.http_max_conns_per_client, 200);
        assert_eq!(config.session_ttl_min, Duration::from_secs(10));
        assert_eq!(config.acl.default_policy, AclPolicy::Allow);
        assert_eq!(config.acl.down_policy, "extend-cache");
        assert!(!config.acl.enabled);
        assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    }

    #[test]
    fn dev_mode_is_an_in_memory_bootstrapped_server() {
        let config = load(&["--dev"]).unwrap();
        assert!(config.dev && config.server && config.bootstrap);
        assert_eq!(config.data_dir, None);
        assert_eq!(config.ports.grpc, Some(8502));
        assert_eq!(config.log_level, LogLevel::Debug);
        assert_eq!(config.raft_multiplier, 1);
        assert_eq!(config.bind_addr.to_string(), "127.0.0.1");
        assert!(!config.node_name.is_empty());
    }

    #[test]
    fn later_sources_override_earlier_ones() {
        let dir = TempDir::new("precedence");
        let first = dir.write(
            "1.json",
            r#"{"datacenter": "file1", "node_name": "file1", "log_level": "warn", "retry_join": ["a"], "ports": {"http": 1}}"#,
        );
        let second = dir.write(
            "2.hcl",
            "datacenter = \"file2\"\nnode_name = \"file2\"\nretry_join = [\"b\"]\nports {\n  dns = 2\n}\n",
        );
        let config = load(&[
            "--config-file",
            first.to_str().unwrap(),
            "--config-file",
            second.to_str().unwrap(),
            "--node",
            "flag",
            "--retry-join",
            "c",
            "--log-level",
            "ERR",
            "--hcl",
            "node_name = \"snippet\"",
        ])
        .unwrap();
        assert_eq!(config.datacenter, "file2");
        assert_eq!(config.node_name, "snippet");
        assert_eq!(config.log_level, LogLevel::Error);
        assert_eq!(config.retry_join, ["c", "a", "b"]);
        assert_eq!(config.ports.http, Some(1));
        assert_eq!(config.ports.dns, Some(2));
    }

    #[test]
    fn gossip_lan_timings_override_the_lan_defaults() {
        let defaults = load(&["--dev"]).unwrap().gossip_lan;
        assert_eq!(defaults, GossipTiming::lan());
        let hcl = r#"gossip_lan { probe_interval = "500ms" probe_timeout = "200ms" suspicion_mult = 1 gossip_nodes = 4 }"#;
        let tuned = load(&["--dev", "--hcl", hcl]).unwrap().gossip_lan;
        assert_eq!(tuned.probe_interval, Duration::from_millis(500));
        assert_eq!(tuned.probe_timeout, Duration::from_millis(200));
        assert_eq!((tuned.suspicion_multiplier, tuned.gossip_nodes), (1, 4));
        assert_eq!(tuned.retransmit_multiplier, defaults.retransmit_multiplier);
        let slow_probe = r#"gossip_lan { probe_interval = "400ms" }"#;
        let error = load(&["--dev", "--hcl", slow_probe])
            .unwrap_err()
            .to_string();
        assert!(error.contains("probe timeout"), "{error}");
    }

    #[test]
    fn files_override_dev_defaults() {
        let config = load(&["--dev", "--hcl", "log_level = \"info\""]).unwrap();
        assert_eq!(config.log_level, LogLevel::Info);
    }

    #[test]
    fn hcl_and_json_files_give_the_same_config() {
        let dir = TempDir::new("parity");
        let json = dir.write(
            "a.json",
            r#"{"server": true, "bootstrap_expect": 3, "data_dir": "/tmp/x", "node_name": "n",
                "acl": {"enabled": true, "default_policy": "deny", "tokens": {"master": "m"}},
                "services": [{"name": "web", "port": 80}], "ports": {"grpc": 8502},
                "performance": {"raft_multiplier": 2}, "session_ttl_min": "1.5m"}"#,
        );
        let hcl = dir.write(
            "a.hcl",
            r#"
server = true
bootstrap_expect = 3
data_dir = "/tmp/x"
node_name = "n"
acl {
  enabled = true
  default_policy = "deny"
  tokens {
    master = "m"
  }
}
service {
  name = "web"
  port = 80
}
ports {
  grpc = 8502
}
performance {
  raft_multiplier = 2
}
session_ttl_min = "1.5m"
"#,
        );
        let from_json = load(&["--config-file", json.to_str().unwrap()]).unwrap();
        let from_hcl = load(&["--config-file", hcl.to_str().unwrap()]).unwrap();
        assert_eq!(
            from_json.acl.tokens.initial_management.as_deref(),
            Some("m")
        );
        assert_eq!(from_json.session_ttl_min, Duration::from_secs(90));
        assert_eq!(from_json.services, from_hcl.services);
        assert_eq!(
            AgentConfig {
                warnings: Vec::new(),
                ..from_json
            },
            AgentConfig {
                warnings: Vec::new(),
                ..from_hcl
            }
        );
    }

    #[test]
    fn unknown_keys_are_warned_about_and_ignored() {
        let config = load(&["--node", "n", "--hcl", "telemetry_thing = 1"]).unwrap();
        assert_eq!(config.warnings.len(), 1);
        assert!(config.warnings[0].contains("telemetry_thing"));
    }

    #[test]
    fn bad_values_stop_loading_with_key_and_origin() {
        let dir = TempDir::new("bad");
        let file = dir.write("bad.hcl", "ports {\n  http = \"abc\"\n}\n");
        let error = load(&["--config-file", file.to_str().unwrap()])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("ports.http") && error.contains("bad.hcl"),
            "{error}"
        );
        let error = load(&["--log-level", "nope"]).unwrap_err().to_string();
        assert!(error.contains("-log-level"), "{error}");
        let error = load(&["--bind", "999.1.1.1"]).unwrap_err().to_string();
        assert!(error.contains("-bind"), "{error}");
    }

    #[test]
    fn validation_rules() {
        let cases: &[(&[&str], &str)] = &[
            (&["--server"], "data_dir cannot be empty"),
            (&["--node", "n", "--bootstrap"], "requires 'server = true'"),
            (
                &["--dev", "--bootstrap-expect=3"],
                "not allowed in dev mode",
            ),
            (
                &["--node", "n", "--datacenter", "dc 1"],
                "datacenter can only contain",
            ),
            (&["--node", "n", "--node-id", "xyz"], "not a valid UUID"),
            (
                &["--node", "n", "--server-port", "-1"],
                "server-port must be greater than zero",
            ),
            (
                &["--node", "n", "--advertise", "0.0.0.0"],
                "Advertise address",
            ),
            (
                &["--node", "n", "--bootstrap-expect", "-2"],
                "-bootstrap-expect",
            ),
        ];
        for (flags, expected) in cases {
            let error = load(flags).unwrap_err().to_string();
            assert!(error.contains(expected), "{flags:?}: {error}");
        }
    }

    #[test]
    fn bootstrap_expect_one_is_bootstrap_mode() {
        let config = load(&[
            "--server",
            "--bootstrap-expect=1",
            "--data-dir",
            "/tmp/senate-x",
        ])
        .unwrap();
        assert!(config.bootstrap);
        assert_eq!(config.bootstrap_expect, 0);
        let config = load(&[
            "--server",
            "--bootstrap-expect=3",
            "--data-dir",
            "/tmp/senate-x",
        ])
        .unwrap();
        assert!(!config.bootstrap);
        assert_eq!(config.bootstrap_expect, 3);
    }

    #[test]
    fn datacenter_is_lower_cased_and_node_id_normalized() {
        let config = load(&[
            "--node",
            "n",
            "--datacenter",
            "DC-East",
            "--node-id",
            "ADF4238A-882B-9DDC-4A9D-5B6758E4159E",
        ])
        .unwrap();
        assert_eq!(config.datacenter, "dc-east");
        assert_eq!(
            config.node_id.as_deref(),
            Some("adf4238a-882b-9ddc-4a9d-5b6758e4159e")
        );
    }

    #[test]
    fn legacy_acl_keys_still_work() {
        let config = load(&[
            "--node",
            "n",
            "--hcl",
            "acl_datacenter = \"dc1\"\nacl_master_token = \"root\"\nacl_token = \"anon\"\nacl_default_policy = \"deny\"",
        ])
        .unwrap();
        assert!(config.acl.enabled);
        assert_eq!(config.acl.default_policy, AclPolicy::Deny);
        assert_eq!(
            config.acl.tokens.initial_management.as_deref(),
            Some("root")
        );
        assert_eq!(config.acl.tokens.default.as_deref(), Some("anon"));
        assert!(config
            .warnings
            .iter()
            .any(|w| w.contains("acl_master_token")));
    }
}
