//! The config keys Senate reads, their value types, and decoding of one source into typed settings.
//!
//! Decoding is weakly typed as Consul's is (`"8500"` is a fine port, `"true"` a fine boolean).
//! Keys Senate does not implement are reported as warnings and skipped.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use serde_json::Value;

use super::{ConfigError, LogLevel};

/// The type of value a key holds.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Bool,
    Text,
    Int {
        min: i64,
        max: i64,
    },
    /// A port number; `<= 0` disables the listener.
    Port,
    /// A Go duration string such as `"10s"` or `"1.5m"`.
    Duration,
    Ip,
    /// Space-separated IP addresses.
    IpList,
    Level,
    OneOf(&'static [&'static str]),
    /// A list of strings; a single string counts as a one-element list.
    TextList,
    /// A list of objects; a single object counts as a one-element list.
    ObjectList,
    /// An object whose values are all strings.
    TextMap,
}

const U32_MAX: i64 = u32::MAX as i64;

/// Every key Senate reads, by its canonical dotted path.
const KEYS: &[(&str, Kind)] = &[
    ("server", Kind::Bool),
    ("bootstrap", Kind::Bool),
    (
        "bootstrap_expect",
        Kind::Int {
            min: 0,
            max: U32_MAX,
        },
    ),
    ("data_dir", Kind::Text),
    ("node_name", Kind::Text),
    ("node_id", Kind::Text),
    ("node_meta", Kind::TextMap),
    ("datacenter", Kind::Text),
    ("primary_datacenter", Kind::Text),
    ("acl_datacenter", Kind::Text),
    ("domain", Kind::Text),
    ("bind_addr", Kind::Ip),
    ("advertise_addr", Kind::Ip),
    ("client_addr", Kind::IpList),
    ("ports.http", Kind::Port),
    ("ports.https", Kind::Port),
    ("ports.dns", Kind::Port),
    ("ports.serf_lan", Kind::Port),
    ("ports.serf_wan", Kind::Port),
    ("ports.server", Kind::Port),
    ("ports.grpc", Kind::Port),
    ("log_level", Kind::Level),
    ("log_json", Kind::Bool),
    ("pid_file", Kind::Text),
    ("performance.raft_multiplier", Kind::Int { min: 1, max: 10 }),
    ("enable_script_checks", Kind::Bool),
    ("enable_local_script_checks", Kind::Bool),
    ("disable_update_check", Kind::Bool),
    ("disable_host_node_id", Kind::Bool),
    ("leave_on_terminate", Kind::Bool),
    ("skip_leave_on_interrupt", Kind::Bool),
    ("rejoin_after_leave", Kind::Bool),
    (
        "limits.http_max_conns_per_client",
        Kind::Int {
            min: 0,
            max: U32_MAX,
        },
    ),
    (
        "limits.kv_max_value_size",
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
    ),
    (
        "limits.txn_max_req_len",
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
    ),
    ("session_ttl_min", Kind::Duration),
    ("check_update_interval", Kind::Duration),
    ("acl.enabled", Kind::Bool),
    ("acl.default_policy", Kind::OneOf(&["allow", "deny"])),
    (
        "acl.down_policy",
        Kind::OneOf(&["allow", "deny", "extend-cache", "async-cache"]),
    ),
    ("acl.token_ttl", Kind::Duration),
    ("acl.tokens.initial_management", Kind::Text),
    ("acl.tokens.agent", Kind::Text),
    ("acl.tokens.agent_recovery", Kind::Text),
    ("acl.tokens.default", Kind::Text),
    ("services", Kind::ObjectList),
    ("checks", Kind::ObjectList),
    ("start_join", Kind::TextList),
    ("retry_join", Kind::TextList),
    ("retry_interval", Kind::Duration),
    ("reconnect_timeout", Kind::Duration),
    ("gossip_lan.probe_interval", Kind::Duration),
    ("gossip_lan.probe_timeout", Kind::Duration),
    ("gossip_lan.gossip_interval", Kind::Duration),
    ("gossip_lan.gossip_nodes", Kind::Int { min: 1, max: 64 }),
    ("gossip_lan.retransmit_mult", Kind::Int { min: 1, max: 64 }),
    ("gossip_lan.suspicion_mult", Kind::Int { min: 1, max: 64 }),
    (
        "retry_max",
        Kind::Int {
            min: 0,
            max: u32::MAX as i64,
        },
    ),
    ("ui_config.enabled", Kind::Bool),
    ("encrypt", Kind::Text),
    ("encrypt_verify_incoming", Kind::Bool),
    ("encrypt_verify_outgoing", Kind::Bool),
];

/// Other names Consul accepts for a key: `(name, canonical, deprecated)`.
const ALIASES: &[(&str, &str, bool)] = &[
    ("service", "services", false),
    ("check", "checks", false),
    ("ui", "ui_config.enabled", true),
    ("acl.tokens.master", "acl.tokens.initial_management", true),
    ("acl.tokens.agent_master", "acl.tokens.agent_recovery", true),
    ("acl_master_token", "acl.tokens.initial_management", true),
    ("acl_agent_master_token", "acl.tokens.agent_recovery", true),
    ("acl_agent_token", "acl.tokens.agent", true),
    ("acl_token", "acl.tokens.default", true),
    ("acl_default_policy", "acl.default_policy", true),
    ("acl_down_policy", "acl.down_policy", true),
    ("acl_ttl", "acl.token_ttl", true),
];

/// One decoded value.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Setting {
    Bool(bool),
    Text(String),
    Int(i64),
    Port(Option<u16>),
    Duration(Duration),
    Ip(IpAddr),
    IpList(Vec<IpAddr>),
    Level(LogLevel),
    TextList(Vec<String>),
    ObjectList(Vec<Value>),
    TextMap(BTreeMap<String, String>),
}

impl Setting {
    fn is_list(&self) -> bool {
        matches!(self, Setting::TextList(_) | Setting::ObjectList(_))
    }

    /// Adds `later` to this value: lists append, maps merge, anything else is replaced.
    fn absorb(&mut self, later: Setting) {
        match (self, later) {
            (Setting::TextList(items), Setting::TextList(more)) => items.extend(more),
            (Setting::ObjectList(items), Setting::ObjectList(more)) => items.extend(more),
            (Setting::TextMap(entries), Setting::TextMap(more)) => entries.extend(more),
            (current, later) => *current = later,
        }
    }
}

/// Conversion from a decoded [`Setting`] to the Rust type a field wants.
pub(super) trait FromSetting: Sized {
    fn from_setting(setting: &Setting) -> Option<Self>;
}

macro_rules! from_setting {
    ($type:ty, $variant:ident) => {
        impl FromSetting for $type {
            fn from_setting(setting: &Setting) -> Option<Self> {
                match setting {
                    Setting::$variant(value) => Some(value.clone()),
                    _ => None,
                }
            }
        }
    };
}

from_setting!(bool, Bool);
from_setting!(String, Text);
from_setting!(i64, Int);
from_setting!(Option<u16>, Port);
from_setting!(Duration, Duration);
from_setting!(IpAddr, Ip);
from_setting!(Vec<IpAddr>, IpList);
from_setting!(LogLevel, Level);
from_setting!(Vec<String>, TextList);
from_setting!(Vec<Value>, ObjectList);
from_setting!(BTreeMap<String, String>, TextMap);

/// Typed values by canonical key, plus the warnings met while decoding them.
#[derive(Debug, Clone, Default)]
pub(super) struct Settings {
    values: BTreeMap<&'static str, Setting>,
    pub(super) warnings: Vec<String>,
}

impl Settings {
    fn put(&mut self, key: &'static str, setting: Setting) {
        match self.values.get_mut(key) {
            Some(current) => current.absorb(setting),
            None => {
                self.values.insert(key, setting);
            }
        }
    }

    /// Applies a later source on top of this one.
    pub(super) fn merge(&mut self, later: Settings) {
        for (key, setting) in later.values {
            self.put(key, setting);
        }
        self.warnings.extend(later.warnings);
    }

    /// Splits into (list-valued settings, everything else), as Consul orders flag sources.
    pub(super) fn split_lists(self) -> (Settings, Settings) {
        let (lists, values) = self.values.into_iter().partition(|(_, s)| s.is_list());
        let lists = Settings {
            values: lists,
            warnings: Vec::new(),
        };
        let values = Settings {
            values,
            warnings: self.warnings,
        };
        (lists, values)
    }

    /// The value of `key`, if any source set it.
    pub(super) fn get<T: FromSetting>(&self, key: &str) -> Option<T> {
        debug_assert!(kind_of(key).is_some(), "{key} is not a config key");
        self.values.get(key).and_then(T::from_setting)
    }

    /// The value of a key that has a built-in default.
    pub(super) fn value<T: FromSetting>(&self, key: &str) -> Result<T, ConfigError> {
        self.get(key)
            .ok_or_else(|| ConfigError::Invalid(format!("{key} has no value")))
    }

    /// The value of an integer key without a built-in default, if set, in the type the field wants.
    pub(super) fn optional_number<T: TryFrom<i64>>(
        &self,
        key: &str,
    ) -> Result<Option<T>, ConfigError> {
        match self.get::<i64>(key) {
            None => Ok(None),
            Some(_) => self.number(key).map(Some),
        }
    }

    /// The value of an integer key with a built-in default, in the type the field wants.
    pub(super) fn number<T: TryFrom<i64>>(&self, key: &str) -> Result<T, ConfigError> {
        let number: i64 = self.value(key)?;
        T::try_from(number)
            .map_err(|_| ConfigError::Invalid(format!("{key} is out of range: {number}")))
    }
}

fn kind_of(key: &str) -> Option<(&'static str, Kind)> {
    KEYS.iter()
        .find(|(name, _)| *name == key)
        .map(|&(name, kind)| (name, kind))
}

/// True if some key lives under `path` (`ports`, `acl.tokens`, ...).
fn is_section(path: &str) -> bool {
    KEYS.iter().any(|(name, _)| {
        name.strip_prefix(path)
            .is_some_and(|rest| rest.starts_with('.'))
    })
}

/// Decodes one parsed file or snippet; `origin` names it in messages.
pub(super) fn decode_source(origin: &str, root: &Value) -> Result<Settings, ConfigError> {
    let mut decoder = Decoder {
        origin,
        settings: Settings::default(),
    };
    decoder.section("", root)?;
    Ok(decoder.settings)
}

/// Decodes command-line flags given as `(flag, canonical key, value)`; errors name the flag.
pub(super) fn decode_flags(flags: &[(&str, &str, Value)]) -> Result<Settings, ConfigError> {
    let mut settings = Settings::default();
    for (flag, key, value) in flags {
        let (key, kind) = kind_of(key).ok_or_else(|| {
            ConfigError::Invalid(format!("flag {flag} maps to unknown key {key}"))
        })?;
        let setting = decode_value(kind, value).map_err(|reason| ConfigError::Value {
            origin: "command line".to_string(),
            key: flag.to_string(),
            reason,
        })?;
        settings.put(key, setting);
    }
    Ok(settings)
}

struct Decoder<'a> {
    origin: &'a str,
    settings: Settings,
}

impl Decoder<'_> {
    /// Walks an object (or a list of objects: repeated HCL blocks) found at `prefix`.
    fn section(&mut self, prefix: &str, value: &Value) -> Result<(), ConfigError> {
        match value {
            Value::Object(entries) => {
                for (name, value) in entries {
                    let path = match prefix {
                        "" => name.clone(),
                        _ => format!("{prefix}.{name}"),
                    };
                    self.entry(&path, value)?;
                }
                Ok(())
            }
            Value::Array(blocks) => blocks
                .iter()
                .try_for_each(|block| self.section(prefix, block)),
            other => Err(self.invalid(
                prefix,
                format!("expected an object, got {}", describe(other)),
            )),
        }
    }

    fn entry(&mut self, path: &str, value: &Value) -> Result<(), ConfigError> {
        let canonical = self.resolve_alias(path);
        if let Some((key, kind)) = kind_of(canonical) {
            let setting = decode_value(kind, value).map_err(|reason| self.invalid(path, reason))?;
            self.settings.put(key, setting);
            Ok(())
        } else if is_section(canonical) {
            self.section(canonical, value)
        } else {
            self.settings.warnings.push(format!(
                "config key {path:?} in {} is not supported by Senate and was ignored",
                self.origin
            ));
            Ok(())
        }
    }

    fn resolve_alias<'p>(&mut self, path: &'p str) -> &'p str {
        let Some(&(_, canonical, deprecated)) = ALIASES.iter().find(|(name, _, _)| *name == path)
        else {
            return path;
        };
        if deprecated {
            self.settings.warnings.push(format!(
                "The '{path}' field in {} is deprecated. Use the '{canonical}' field instead.",
                self.origin
            ));
        }
        canonical
    }

    fn invalid(&self, key: &str, reason: String) -> ConfigError {
        ConfigError::Value {
            origin: self.origin.to_string(),
            key: key.to_string(),
            reason,
        }
    }
}

fn decode_value(kind: Kind, value: &Value) -> Result<Setting, String> {
    match kind {
        Kind::Bool => as_bool(value).map(Setting::Bool),
        Kind::Text => as_text(value).map(Setting::Text),
        Kind::Int { min, max } => as_int(value, "an integer")
            .and_then(|n| in_range(n, min, max))
            .map(Setting::Int),
        Kind::Port => as_int(value, "a port number")
            .and_then(port)
            .map(Setting::Port),
        Kind::Duration => as_text(value)
            .and_then(|text| senate_types::duration::parse(&text).map_err(|e| e.to_string()))
            .map(Setting::Duration),
        Kind::Ip => as_text(value).and_then(|text| ip(&text)).map(Setting::Ip),
        Kind::IpList => as_text(value)
            .and_then(|text| text.split_whitespace().map(ip).collect())
            .map(Setting::IpList),
        Kind::Level => as_text(value)
            .and_then(|text| text.parse::<LogLevel>().map_err(|e| e.to_string()))
            .map(Setting::Level),
        Kind::OneOf(choices) => as_text(value)
            .and_then(|text| one_of(text, choices))
            .map(Setting::Text),
        Kind::TextList => as_text_list(value).map(Setting::TextList),
        Kind::ObjectList => as_object_list(value).map(Setting::ObjectList),
        Kind::TextMap => as_text_map(value).map(Setting::TextMap),
    }
}

/// Names a JSON value for error messages: strings quoted, containers by kind.
fn describe(value: &Value) -> String {
    match value {
        Value::Array(_) => "a list".to_string(),
        Value::Object(_) => "an object".to_string(),
        Value::Null => "null".to_string(),
        other => other.to_string(),
    }
}

fn as_bool(value: &Value) -> Result<bool, String> {
    let parsed = match value {
        Value::Bool(flag) => Some(*flag),
        Value::Number(n) => n.as_f64().map(|n| n != 0.0),
        Value::String(text) => match text.as_str() {
            "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
            "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
            _ => None,
        },
        _ => None,
    };
    parsed.ok_or_else(|| format!("expected a boolean, got {}", describe(value)))
}

fn as_text(value: &Value) -> Result<String, String> {
    match value {
        Value::String(text) => Ok(text.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(flag) => Ok(flag.to_string()),
        other => Err(format!("expected a string, got {}", describe(other))),
    }
}

fn as_int(value: &Value, what: &str) -> Result<i64, String> {
    let parsed = match value {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    };
    parsed.ok_or_else(|| format!("expected {what}, got {}", describe(value)))
}

fn in_range(number: i64, min: i64, max: i64) -> Result<i64, String> {
    if (min..=max).contains(&number) {
        Ok(number)
    } else {
        Err(format!(
            "{number} is out of range; must be between {min} and {max}"
        ))
    }
}

fn port(number: i64) -> Result<Option<u16>, String> {
    if number <= 0 {
        return Ok(None);
    }
    u16::try_from(number)
        .map(Some)
        .map_err(|_| format!("invalid port: {number}"))
}

fn ip(text: &str) -> Result<IpAddr, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a valid IP address"))
}

fn one_of(text: String, choices: &[&str]) -> Result<String, String> {
    if choices.contains(&text.as_str()) {
        Ok(text)
    } else {
        Err(format!("{text:?} is not one of {}", choices.join(", ")))
    }
}

fn as_text_list(value: &Value) -> Result<Vec<String>, String> {
    match value {
        Value::Array(items) => items.iter().map(as_text).collect(),
        single => as_text(single).map(|text| vec![text]),
    }
}

fn as_object_list(value: &Value) -> Result<Vec<Value>, String> {
    let items = match value {
        Value::Array(items) => items.as_slice(),
        single => std::slice::from_ref(single),
    };
    items
        .iter()
        .map(|item| match item {
            Value::Object(_) => Ok(item.clone()),
            other => Err(format!("expected an object, got {}", describe(other))),
        })
        .collect()
}

fn as_text_map(value: &Value) -> Result<BTreeMap<String, String>, String> {
    match value {
        Value::Object(entries) => entries
            .iter()
            .map(|(key, value)| {
                as_text(value)
                    .map(|text| (key.clone(), text))
                    .map_err(|reason| format!("{key}: {reason}"))
            })
            .collect(),
        Value::Array(blocks) => blocks.iter().try_fold(BTreeMap::new(), |mut map, block| {
            map.extend(as_text_map(block)?);
            Ok(map)
        }),
        other => Err(format!("expected an object, got {}", describe(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decode(value: Value) -> Result<Settings, ConfigError> {
        decode_source("test.json", &value)
    }

    #[test]
    fn decodes_nested_keys_with_weak_types() {
        let settings = decode(json!({
            "server": "true",
            "ports": {"http": "8501", "dns": -1},
            "bootstrap_expect": 3.0,
        }))
        .unwrap();
        assert_eq!(settings.get::<bool>("server"), Some(true));
        assert_eq!(settings.get::<Option<u16>>("ports.http"), Some(Some(8501)));
        assert_eq!(settings.get::<Option<u16>>("ports.dns"), Some(None));
        assert_eq!(settings.get::<i64>("bootstrap_expect"), Some(3));
    }

    #[test]
    fn bad_port_names_key_and_file() {
        let error = decode(json!({"ports": {"http": "abc"}}))
            .unwrap_err()
            .to_string();
        assert!(error.contains("ports.http"), "{error}");
        assert!(error.contains("test.json"), "{error}");
        assert!(error.contains("\"abc\""), "{error}");
        let error = decode(json!({"ports": {"dns": 70000}}))
            .unwrap_err()
            .to_string();
        assert!(error.contains("invalid port: 70000"), "{error}");
    }

    #[test]
    fn bad_values_are_errors() {
        for bad in [
            json!({"log_level": "nope"}),
            json!({"bind_addr": "not-an-ip"}),
            json!({"session_ttl_min": "10"}),
            json!({"performance": {"raft_multiplier": 11}}),
            json!({"acl": {"default_policy": "maybe"}}),
            json!({"server": "perhaps"}),
            json!({"ports": 8500}),
            json!({"retry_join": {"a": 1}}),
        ] {
            assert!(decode(bad.clone()).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn unknown_keys_warn_and_are_skipped() {
        let settings = decode(json!({"telemetry": {"x": 1}, "ports": {"grpc_tls": 8503}})).unwrap();
        assert_eq!(settings.warnings.len(), 2);
        assert!(settings.warnings[0].contains("\"ports.grpc_tls\""));
        assert!(settings.warnings[1].contains("\"telemetry\""));
    }

    #[test]
    fn aliases_map_to_canonical_keys_with_deprecation_warnings() {
        let settings = decode(json!({
            "acl_master_token": "root",
            "acl": {"tokens": {"agent_master": "recover"}},
            "service": {"name": "web"},
        }))
        .unwrap();
        assert_eq!(
            settings.get::<String>("acl.tokens.initial_management"),
            Some("root".to_string())
        );
        assert_eq!(
            settings.get::<String>("acl.tokens.agent_recovery"),
            Some("recover".to_string())
        );
        assert_eq!(
            settings.get::<Vec<Value>>("services"),
            Some(vec![json!({"name": "web"})])
        );
        assert_eq!(settings.warnings.len(), 2);
    }

    #[test]
    fn lists_append_and_scalars_override() {
        let mut settings = decode(json!({"retry_join": ["a"], "datacenter": "one"})).unwrap();
        settings.merge(decode(json!({"retry_join": "b", "datacenter": "two"})).unwrap());
        assert_eq!(
            settings.get::<Vec<String>>("retry_join"),
            Some(vec!["a".to_string(), "b".to_string()])
        );
        assert_eq!(
            settings.get::<String>("datacenter"),
            Some("two".to_string())
        );
    }

    #[test]
    fn maps_merge_key_by_key() {
        let mut settings = decode(json!({"node_meta": {"a": "1", "b": "1"}})).unwrap();
        settings.merge(decode(json!({"node_meta": {"b": 2}})).unwrap());
        let meta: BTreeMap<String, String> = settings.get("node_meta").unwrap();
        assert_eq!(meta["a"], "1");
        assert_eq!(meta["b"], "2");
    }

    #[test]
    fn flag_errors_name_the_flag() {
        let error = decode_flags(&[("-log-level", "log_level", json!("nope"))])
            .unwrap_err()
            .to_string();
        assert!(error.contains("-log-level"), "{error}");
        assert!(error.contains("nope"), "{error}");
    }
}
