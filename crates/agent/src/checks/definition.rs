//! Check definitions as clients and config files write them (`PUT /v1/agent/check/register`, a service's
//! `Check`/`Checks`, a config file's `check`/`checks`), and their validation into a runnable [`CheckSpec`].

use super::decode::{null_as_default, DurationValue};
use super::spec::{
    CheckKind, CheckSpec, HttpCheck, ScriptCheck, ScriptCommand, TcpCheck, Thresholds,
    DEFAULT_NETWORK_TIMEOUT, DEFAULT_OUTPUT_MAX_SIZE, DEFAULT_SCRIPT_TIMEOUT, MIN_INTERVAL,
};
use senate_types::catalog::CheckStatus;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// One check definition. Field names follow Consul's JSON (matched without regard to case when decoded
/// with `senate_types::json`), and the snake_case spellings config files use are accepted too.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CheckDefinition {
    #[serde(
        rename = "ID",
        alias = "CheckID",
        alias = "check_id",
        deserialize_with = "null_as_default"
    )]
    pub id: String,
    #[serde(deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(deserialize_with = "null_as_default")]
    pub notes: String,
    #[serde(
        rename = "ServiceID",
        alias = "service_id",
        deserialize_with = "null_as_default"
    )]
    pub service_id: String,
    /// Initial status: `passing`, `warning` or `critical` (the default).
    #[serde(deserialize_with = "null_as_default")]
    pub status: String,
    #[serde(rename = "TTL")]
    pub ttl: Option<DurationValue>,
    /// Legacy shell command line, run by `/bin/sh -c`.
    #[serde(deserialize_with = "null_as_default")]
    pub script: String,
    /// Program and arguments, run directly.
    #[serde(
        alias = "ScriptArgs",
        alias = "script_args",
        deserialize_with = "null_as_default"
    )]
    pub args: Vec<String>,
    #[serde(rename = "HTTP", deserialize_with = "null_as_default")]
    pub http: String,
    #[serde(deserialize_with = "null_as_default")]
    pub method: String,
    #[serde(deserialize_with = "null_as_default")]
    pub header: BTreeMap<String, Vec<String>>,
    #[serde(deserialize_with = "null_as_default")]
    pub body: String,
    #[serde(rename = "TCP", deserialize_with = "null_as_default")]
    pub tcp: String,
    pub interval: Option<DurationValue>,
    pub timeout: Option<DurationValue>,
    #[serde(
        rename = "TLSSkipVerify",
        alias = "tls_skip_verify",
        deserialize_with = "null_as_default"
    )]
    pub tls_skip_verify: bool,
    #[serde(
        rename = "TLSServerName",
        alias = "tls_server_name",
        deserialize_with = "null_as_default"
    )]
    pub tls_server_name: String,
    #[serde(alias = "disable_redirects", deserialize_with = "null_as_default")]
    pub disable_redirects: bool,
    #[serde(alias = "deregister_critical_service_after")]
    pub deregister_critical_service_after: Option<DurationValue>,
    #[serde(alias = "success_before_passing", deserialize_with = "null_as_default")]
    pub success_before_passing: u32,
    #[serde(alias = "failures_before_warning")]
    pub failures_before_warning: Option<u32>,
    #[serde(
        alias = "failures_before_critical",
        deserialize_with = "null_as_default"
    )]
    pub failures_before_critical: u32,
    #[serde(alias = "output_max_size", deserialize_with = "null_as_default")]
    pub output_max_size: i64,
}

/// Why a definition cannot be run. `Display` gives the text the HTTP API answers with (status 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DefinitionError {
    #[error("Request decode failed: {field}: {reason}")]
    BadDuration { field: &'static str, reason: String },
    #[error("Missing check name")]
    MissingName,
    #[error("Bad check status")]
    BadStatus,
    #[error("Invalid check: Must provide TTL or Script/Args/HTTP/TCP and Interval")]
    MissingType,
    #[error("Invalid check: Interval and TTL cannot both be specified")]
    IntervalAndTtl,
    #[error("Invalid check: Interval must be > 0 for Script, HTTP, or TCP checks")]
    MissingInterval,
    #[error("Invalid check: TTL must be > 0 for TTL checks")]
    MissingTtl,
    #[error("Invalid check: MaxOutputMaxSize must be positive")]
    NegativeOutputMaxSize,
    #[error("Invalid check: FailuresBeforeWarning can't be higher than FailuresBeforeCritical")]
    WarningAfterCritical,
    #[error("Scripts are disabled on this agent; to enable, configure 'enable_script_checks' or 'enable_local_script_checks' to true")]
    ScriptsDisabled,
}

/// The definition's durations, read and checked.
struct Durations {
    ttl: Option<Duration>,
    interval: Option<Duration>,
    timeout: Option<Duration>,
    deregister_critical_after: Option<Duration>,
}

impl CheckDefinition {
    /// Checks the definition and turns it into a runnable spec. `script_checks_allowed` says whether
    /// script checks may be registered from where this definition came (API or config file).
    pub fn validate(&self, script_checks_allowed: bool) -> Result<CheckSpec, DefinitionError> {
        let durations = self.durations()?;
        let (id, name) = self.identity()?;
        let initial_status = self.initial_status()?;
        let kind = self.kind(&id, &durations, script_checks_allowed)?;
        Ok(CheckSpec {
            id,
            name,
            notes: self.notes.clone(),
            service_id: non_empty(&self.service_id),
            initial_status,
            kind,
            deregister_critical_after: durations.deregister_critical_after,
            output_max_size: self.output_max_size()?,
            thresholds: self.thresholds()?,
        })
    }

    fn durations(&self) -> Result<Durations, DefinitionError> {
        Ok(Durations {
            ttl: read_duration("TTL", &self.ttl)?,
            interval: read_duration("Interval", &self.interval)?,
            timeout: read_duration("Timeout", &self.timeout)?,
            deregister_critical_after: read_duration(
                "DeregisterCriticalServiceAfter",
                &self.deregister_critical_service_after,
            )?,
        })
    }

    /// The check's ID and name, each standing in for the other when left out.
    fn identity(&self) -> Result<(String, String), DefinitionError> {
        match (self.id.is_empty(), self.name.is_empty()) {
            (true, true) => Err(DefinitionError::MissingName),
            (true, false) => Ok((self.name.clone(), self.name.clone())),
            (false, true) => Ok((self.id.clone(), self.id.clone())),
            (false, false) => Ok((self.id.clone(), self.name.clone())),
        }
    }

    fn initial_status(&self) -> Result<CheckStatus, DefinitionError> {
        match self.status.as_str() {
            "" | "critical" => Ok(CheckStatus::Critical),
            "passing" => Ok(CheckStatus::Passing),
            "warning" => Ok(CheckStatus::Warning),
            _ => Err(DefinitionError::BadStatus),
        }
    }

    fn has_script(&self) -> bool {
        !self.args.is_empty() || !self.script.is_empty()
    }

    fn kind(
        &self,
        id: &str,
        durations: &Durations,
        script_checks_allowed: bool,
    ) -> Result<CheckKind, DefinitionError> {
        let probed = self.has_script() || !self.http.is_empty() || !self.tcp.is_empty();
        if durations.interval.is_some() && durations.ttl.is_some() {
            return Err(DefinitionError::IntervalAndTtl);
        }
        if !probed {
            return match (&self.ttl, durations.ttl) {
                (_, Some(ttl)) => Ok(CheckKind::Ttl { ttl }),
                (None, None) => Err(DefinitionError::MissingType),
                (Some(_), None) => Err(DefinitionError::MissingTtl),
            };
        }
        let interval = durations.interval.ok_or(DefinitionError::MissingInterval)?;
        let interval = raise_to_minimum(id, interval);
        if !self.http.is_empty() {
            return Ok(CheckKind::Http(
                self.http_check(interval, durations.timeout),
            ));
        }
        if !self.tcp.is_empty() {
            return Ok(CheckKind::Tcp(TcpCheck {
                address: self.tcp.clone(),
                interval,
                timeout: durations.timeout.unwrap_or(DEFAULT_NETWORK_TIMEOUT),
            }));
        }
        if !script_checks_allowed {
            return Err(DefinitionError::ScriptsDisabled);
        }
        Ok(CheckKind::Script(ScriptCheck {
            command: self.script_command(),
            interval,
            timeout: durations.timeout.unwrap_or(DEFAULT_SCRIPT_TIMEOUT),
        }))
    }

    fn http_check(&self, interval: Duration, timeout: Option<Duration>) -> HttpCheck {
        HttpCheck {
            url: self.http.clone(),
            method: non_empty(&self.method).unwrap_or_else(|| "GET".to_string()),
            headers: self.header.clone(),
            body: self.body.clone(),
            interval,
            timeout: timeout.unwrap_or(DEFAULT_NETWORK_TIMEOUT),
            tls_skip_verify: self.tls_skip_verify,
            tls_server_name: non_empty(&self.tls_server_name),
            disable_redirects: self.disable_redirects,
        }
    }

    fn script_command(&self) -> ScriptCommand {
        if self.args.is_empty() {
            ScriptCommand::Shell(self.script.clone())
        } else {
            ScriptCommand::Args(self.args.clone())
        }
    }

    fn output_max_size(&self) -> Result<usize, DefinitionError> {
        match self.output_max_size {
            size if size < 0 => Err(DefinitionError::NegativeOutputMaxSize),
            0 => Ok(DEFAULT_OUTPUT_MAX_SIZE),
            size => Ok(usize::try_from(size).unwrap_or(usize::MAX)),
        }
    }

    fn thresholds(&self) -> Result<Thresholds, DefinitionError> {
        let failures_before_warning = self
            .failures_before_warning
            .unwrap_or(self.failures_before_critical);
        if failures_before_warning > self.failures_before_critical {
            return Err(DefinitionError::WarningAfterCritical);
        }
        Ok(Thresholds {
            success_before_passing: self.success_before_passing,
            failures_before_warning,
            failures_before_critical: self.failures_before_critical,
        })
    }
}

/// Reads an optional duration field; zero counts as unset.
fn read_duration(
    field: &'static str,
    value: &Option<DurationValue>,
) -> Result<Option<Duration>, DefinitionError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let duration = value
        .to_duration()
        .map_err(|error| DefinitionError::BadDuration {
            field,
            reason: error.to_string(),
        })?;
    Ok(Some(duration).filter(|duration| !duration.is_zero()))
}

/// Raises an interval below [`MIN_INTERVAL`] to it, with a warning, as Consul does.
fn raise_to_minimum(id: &str, interval: Duration) -> Duration {
    if interval >= MIN_INTERVAL {
        return interval;
    }
    tracing::warn!(
        check = id,
        minimum_interval = ?MIN_INTERVAL,
        "check has interval below minimum; using the minimum"
    );
    MIN_INTERVAL
}

fn non_empty(text: &str) -> Option<String> {
    Some(text.to_string()).filter(|text| !text.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn decode(body: Value) -> CheckDefinition {
        senate_types::json::from_value(body).expect("definition decodes")
    }

    fn spec(body: Value) -> CheckSpec {
        decode(body).validate(true).expect("definition is valid")
    }

    fn error(body: Value, scripts_allowed: bool) -> String {
        decode(body)
            .validate(scripts_allowed)
            .expect_err("definition is invalid")
            .to_string()
    }

    #[test]
    fn matches_keys_without_regard_to_case() {
        let spec = spec(json!({
            "name": "web", "http": "http://127.0.0.1:80/health", "interval": "10s",
            "TIMEOUT": "2s", "tlsskipverify": true, "HEADER": {"X-A": ["1", "2"]}, "method": "POST"
        }));
        assert_eq!((spec.id.as_str(), spec.name.as_str()), ("web", "web"));
        let CheckKind::Http(http) = spec.kind else {
            panic!("expected an HTTP check, got {:?}", spec.kind);
        };
        assert_eq!(http.url, "http://127.0.0.1:80/health");
        assert_eq!(http.method, "POST");
        assert_eq!(http.interval, Duration::from_secs(10));
        assert_eq!(http.timeout, Duration::from_secs(2));
        assert!(http.tls_skip_verify);
        assert_eq!(http.headers["X-A"], vec!["1", "2"]);
    }

    #[test]
    fn accepts_config_file_snake_case_keys() {
        let spec = spec(json!({
            "id": "mem", "name": "Memory", "service_id": "redis", "args": ["/bin/check", "-v"],
            "interval": "5s", "deregister_critical_service_after": "90s", "output_max_size": 100,
            "success_before_passing": 2, "failures_before_critical": 3, "status": "passing"
        }));
        assert_eq!(spec.id, "mem");
        assert_eq!(spec.name, "Memory");
        assert_eq!(spec.service_id.as_deref(), Some("redis"));
        assert_eq!(spec.initial_status, CheckStatus::Passing);
        assert_eq!(
            spec.deregister_critical_after,
            Some(Duration::from_secs(90))
        );
        assert_eq!(spec.output_max_size, 100);
        assert_eq!(
            spec.thresholds,
            Thresholds {
                success_before_passing: 2,
                failures_before_warning: 3,
                failures_before_critical: 3
            }
        );
        assert_eq!(
            spec.kind,
            CheckKind::Script(ScriptCheck {
                command: ScriptCommand::Args(vec!["/bin/check".into(), "-v".into()]),
                interval: Duration::from_secs(5),
                timeout: DEFAULT_SCRIPT_TIMEOUT,
            })
        );
    }

    #[test]
    fn reads_durations_as_strings_or_nanoseconds() {
        let ttl = |body| spec(body).kind;
        assert_eq!(
            ttl(json!({"Name": "a", "TTL": "1m30s"})),
            CheckKind::Ttl {
                ttl: Duration::from_secs(90)
            }
        );
        assert_eq!(
            ttl(json!({"Name": "a", "TTL": 15_000_000_000u64})),
            CheckKind::Ttl {
                ttl: Duration::from_secs(15)
            }
        );
        assert_eq!(
            ttl(json!({"Name": "a", "ttl": 1.5e9})),
            CheckKind::Ttl {
                ttl: Duration::from_millis(1500)
            }
        );
    }

    #[test]
    fn takes_check_id_and_defaults_name_and_status() {
        let spec = spec(json!({"CheckID": "ping", "TTL": "10s", "Notes": null, "Header": null}));
        assert_eq!((spec.id.as_str(), spec.name.as_str()), ("ping", "ping"));
        assert_eq!(spec.initial_status, CheckStatus::Critical);
        assert_eq!(spec.service_id, None);
        assert_eq!(spec.output_max_size, DEFAULT_OUTPUT_MAX_SIZE);
        assert_eq!(spec.kind.type_name(), "ttl");
    }

    #[test]
    fn fills_network_defaults_and_raises_short_intervals() {
        let tcp = spec(json!({"Name": "db", "TCP": "127.0.0.1:5432", "Interval": "100ms"}));
        assert_eq!(
            tcp.kind,
            CheckKind::Tcp(TcpCheck {
                address: "127.0.0.1:5432".into(),
                interval: MIN_INTERVAL,
                timeout: DEFAULT_NETWORK_TIMEOUT,
            })
        );
        let http = spec(json!({"Name": "web", "HTTP": "http://x/", "Interval": "3s"}));
        let CheckKind::Http(http) = http.kind else {
            panic!("expected an HTTP check");
        };
        assert_eq!(http.method, "GET");
        assert_eq!(http.timeout, DEFAULT_NETWORK_TIMEOUT);
    }

    #[test]
    fn legacy_script_runs_through_the_shell() {
        let spec = spec(json!({"Name": "s", "Script": "exit 0", "Interval": "10s"}));
        let CheckKind::Script(script) = spec.kind else {
            panic!("expected a script check");
        };
        assert_eq!(script.command, ScriptCommand::Shell("exit 0".into()));
    }

    #[test]
    fn refuses_definitions_without_a_type() {
        assert_eq!(
            error(json!({"Name": "nothing"}), true),
            "Invalid check: Must provide TTL or Script/Args/HTTP/TCP and Interval"
        );
        assert_eq!(
            error(json!({"Name": "zero", "TTL": "0s"}), true),
            "Invalid check: TTL must be > 0 for TTL checks"
        );
    }

    #[test]
    fn refuses_script_checks_when_disabled() {
        let message = error(
            json!({"Name": "s", "Args": ["true"], "Interval": "10s"}),
            false,
        );
        assert!(
            message.starts_with("Scripts are disabled on this agent"),
            "{message}"
        );
    }

    #[test]
    fn refuses_missing_or_conflicting_timing() {
        assert_eq!(
            error(json!({"Name": "h", "HTTP": "http://x/"}), true),
            "Invalid check: Interval must be > 0 for Script, HTTP, or TCP checks"
        );
        assert_eq!(
            error(
                json!({"Name": "h", "HTTP": "http://x/", "TTL": "5s", "Interval": "5s"}),
                true
            ),
            "Invalid check: Interval and TTL cannot both be specified"
        );
    }

    #[test]
    fn names_the_field_of_a_bad_duration() {
        let message = error(
            json!({"Name": "h", "TCP": "x:1", "Interval": "often"}),
            true,
        );
        assert!(message.contains("Interval"), "{message}");
        assert!(message.contains("often"), "{message}");
        let message = error(
            json!({"Name": "t", "TTL": "5s", "DeregisterCriticalServiceAfter": "5"}),
            true,
        );
        assert!(
            message.contains("DeregisterCriticalServiceAfter"),
            "{message}"
        );
    }

    #[test]
    fn refuses_bad_identity_status_and_limits() {
        assert_eq!(error(json!({"TTL": "5s"}), true), "Missing check name");
        assert_eq!(
            error(json!({"Name": "t", "TTL": "5s", "Status": "fine"}), true),
            "Bad check status"
        );
        assert_eq!(
            error(json!({"Name": "t", "TTL": "5s", "OutputMaxSize": -1}), true),
            "Invalid check: MaxOutputMaxSize must be positive"
        );
        assert_eq!(
            error(
                json!({"Name": "t", "TTL": "5s", "FailuresBeforeWarning": 3, "FailuresBeforeCritical": 1}),
                true
            ),
            "Invalid check: FailuresBeforeWarning can't be higher than FailuresBeforeCritical"
        );
    }
}
