//! A validated health check, ready to run: what to probe, how often, and how results are reported.

use senate_types::catalog::CheckStatus;
use std::collections::BTreeMap;
use std::time::Duration;

/// Largest output kept for a check unless its definition says otherwise (Consul's default, 4 KiB).
pub const DEFAULT_OUTPUT_MAX_SIZE: usize = 4 * 1024;
/// Shortest interval a definition may ask for; smaller ones are raised to it.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// How long an HTTP or TCP probe may take when the definition sets no timeout.
pub const DEFAULT_NETWORK_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a script may run when the definition sets no timeout.
pub const DEFAULT_SCRIPT_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything the runner needs to run one check.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckSpec {
    pub id: String,
    pub name: String,
    pub notes: String,
    /// The service the check belongs to; `None` for a node-level check.
    pub service_id: Option<String>,
    pub initial_status: CheckStatus,
    pub kind: CheckKind,
    /// `DeregisterCriticalServiceAfter`: how long the check may stay critical before its service is removed.
    pub deregister_critical_after: Option<Duration>,
    /// Output longer than this many bytes is cut.
    pub output_max_size: usize,
    /// How many consecutive results it takes to change the reported status.
    pub thresholds: Thresholds,
}

/// What a check probes.
#[derive(Clone, Debug, PartialEq)]
pub enum CheckKind {
    /// Status is pushed by a client; the check turns critical when not refreshed within `ttl`.
    Ttl {
        ttl: Duration,
    },
    Script(ScriptCheck),
    Http(HttpCheck),
    Tcp(TcpCheck),
}

impl CheckKind {
    /// The check type as Consul names it in `HealthCheck.Type`.
    pub fn type_name(&self) -> &'static str {
        match self {
            CheckKind::Ttl { .. } => "ttl",
            CheckKind::Script(_) => "script",
            CheckKind::Http(_) => "http",
            CheckKind::Tcp(_) => "tcp",
        }
    }
}

/// A program run every interval: exit 0 is passing, 1 warning, anything else critical.
#[derive(Clone, Debug, PartialEq)]
pub struct ScriptCheck {
    pub command: ScriptCommand,
    pub interval: Duration,
    pub timeout: Duration,
}

/// How a script check's program is started.
#[derive(Clone, Debug, PartialEq)]
pub enum ScriptCommand {
    /// `Args`: the first element is the program, found on `PATH`; the rest are its arguments.
    Args(Vec<String>),
    /// The legacy `Script` field: a command line run by `/bin/sh -c`.
    Shell(String),
}

/// An HTTP request made every interval: 2xx is passing, 429 warning, anything else critical.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpCheck {
    pub url: String,
    pub method: String,
    pub headers: BTreeMap<String, Vec<String>>,
    pub body: String,
    pub interval: Duration,
    pub timeout: Duration,
    pub tls_skip_verify: bool,
    /// Name sent in SNI and checked against the certificate, instead of the URL's host.
    pub tls_server_name: Option<String>,
    /// Report a redirect response itself instead of following it.
    pub disable_redirects: bool,
}

/// A TCP connection attempted every interval: connecting is passing, failing critical.
#[derive(Clone, Debug, PartialEq)]
pub struct TcpCheck {
    /// `host:port`.
    pub address: String,
    pub interval: Duration,
    pub timeout: Duration,
}

/// `SuccessBeforePassing`, `FailuresBeforeWarning` and `FailuresBeforeCritical`: how many consecutive
/// probe results of a kind it takes before the reported status follows them. Zero means at once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Thresholds {
    pub success_before_passing: u32,
    pub failures_before_warning: u32,
    pub failures_before_critical: u32,
}
