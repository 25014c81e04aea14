//! What the partition test asks the servers and how it judges their answers: leader agreement,
//! the Raft voters, the isolated leader's writes and reads during the cut, and each server's
//! whole KV store after healing.

use crate::hosts::Host;
use crate::http;
use base64::Engine;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(100);
/// The client timeout for quick questions (leader, configuration, stale reads).
const QUICK_TIMEOUT: Duration = Duration::from_secs(3);
/// The short client timeout of writes to the isolated leader.
const MINORITY_WRITE_TIMEOUT: Duration = Duration::from_secs(2);
/// The client timeout of default reads from the isolated leader (Senate waits up to 6 s for a
/// lease at `raft_multiplier = 1` before answering 500).
const MINORITY_READ_TIMEOUT: Duration = Duration::from_secs(8);
/// After the cut, how long the isolated leader may still acknowledge: its 150 ms lease plus
/// ample scheduling slack. Anything it acknowledges later is a violation.
const GRACE: Duration = Duration::from_secs(1);
/// How soon after the cut a default read on the isolated leader must have been refused.
const READ_REFUSAL_DEADLINE: Duration = Duration::from_secs(15);
/// A safety net in case the writer is never told to stop.
const WRITER_LIMIT: Duration = Duration::from_secs(60);

/// Polls `probe` every 100 ms until it yields a value or `timeout` passes.
pub fn wait_for<T>(timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(POLL);
    }
}

/// The leader `host` names (`"ip:port"`, empty when it knows none).
fn named_leader(host: &Host) -> Option<String> {
    let response = http::get(host.http(), "/v1/status/leader", QUICK_TIMEOUT).ok()?;
    (response.status == 200).then_some(())?;
    serde_json::from_slice(&response.body).ok()
}

/// The host number of the leader every host of `group` names, when they all name the same
/// non-empty leader and it is one of them.
pub fn agreed_leader(group: &[&Host]) -> Option<usize> {
    let named: BTreeSet<String> = group
        .iter()
        .map(|h| named_leader(h))
        .collect::<Option<_>>()?;
    let [leader] = <[String; 1]>::try_from(named.into_iter().collect::<Vec<_>>()).ok()?;
    group
        .iter()
        .find(|host| host.rpc_address() == leader)
        .map(|host| host.host)
}

/// The servers of the Raft configuration, as `host` reports it.
fn raft_servers(host: &Host) -> Option<Vec<Value>> {
    let path = "/v1/operator/raft/configuration";
    let response = http::get(host.http(), path, QUICK_TIMEOUT).ok()?;
    (response.status == 200).then_some(())?;
    let mut configuration: Value = serde_json::from_slice(&response.body).ok()?;
    match configuration["Servers"].take() {
        Value::Array(servers) => Some(servers),
        _ => None,
    }
}

/// How many voters the Raft configuration has, as `host` reports it.
pub fn voters(host: &Host) -> Option<usize> {
    let servers = raft_servers(host)?;
    Some(servers.iter().filter(|s| s["Voter"] == true).count())
}

/// The Raft configuration in brief (`node:voter` or `node:non-voter`), or why it is unknown.
pub fn describe_configuration(host: &Host) -> String {
    let Some(servers) = raft_servers(host) else {
        return format!("pt-{} did not report its Raft configuration", host.host);
    };
    let entries: Vec<String> = servers
        .iter()
        .map(|s| {
            let role = if s["Voter"] == true {
                "voter"
            } else {
                "non-voter"
            };
            format!("{}:{role}", s["Node"].as_str().unwrap_or("?"))
        })
        .collect();
    entries.join(", ")
}

/// The leader `host` names right now, for summaries.
pub fn describe_leader(host: &Host) -> String {
    match named_leader(host) {
        Some(leader) => format!("{leader:?}"),
        None => "no answer".to_string(),
    }
}

/// How one request to the isolated leader ended.
#[derive(Debug)]
enum Outcome {
    Acknowledged,
    Answered { status: u16, body: String },
    Failed(String),
}

impl Outcome {
    fn of_write(result: std::io::Result<http::Response>) -> Outcome {
        match result {
            Ok(response) if response.is_true() => Outcome::Acknowledged,
            Ok(response) => Outcome::Answered {
                status: response.status,
                body: response.text().trim().to_string(),
            },
            Err(error) => Outcome::Failed(describe_error(&error)),
        }
    }

    /// A short label for grouping outcomes in the summary.
    fn label(&self) -> String {
        match self {
            Outcome::Acknowledged => "acknowledged".to_string(),
            Outcome::Answered { status, body } => format!("{status} {body}"),
            Outcome::Failed(error) => format!("client error: {error}"),
        }
    }
}

/// A client error in a few words; a read timeout shows up as `WouldBlock` on Linux.
fn describe_error(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => "timed out".to_string(),
        kind => format!("{kind:?}: {error}"),
    }
}

/// One write sent to the isolated leader, timed from the cut.
#[derive(Debug)]
struct Attempt {
    key: String,
    value: String,
    sent: Duration,
    answered: Duration,
    outcome: Outcome,
}

/// Every write the test sent to the isolated leader during the cut.
pub struct MinorityWrites {
    attempts: Vec<Attempt>,
}

impl MinorityWrites {
    /// Keeps writing `minority/<n>` to `addr` until `stop` is set.
    pub fn run(addr: SocketAddr, cut_at: Instant, stop: &AtomicBool) -> MinorityWrites {
        let mut attempts = Vec::new();
        while !stop.load(Ordering::SeqCst) && cut_at.elapsed() < WRITER_LIMIT {
            let n = attempts.len();
            let (key, value) = (format!("minority/{n}"), format!("minority-{n}"));
            let sent = cut_at.elapsed();
            let path = format!("/v1/kv/{key}");
            let result = http::put(addr, &path, &value, MINORITY_WRITE_TIMEOUT);
            let outcome = Outcome::of_write(result);
            let answered = cut_at.elapsed();
            attempts.push(Attempt {
                key,
                value,
                sent,
                answered,
                outcome,
            });
            std::thread::sleep(POLL);
        }
        MinorityWrites { attempts }
    }

    /// The acknowledged writes, which must all survive.
    pub fn acknowledged(&self) -> impl Iterator<Item = (String, String)> + '_ {
        self.attempts
            .iter()
            .filter(|a| matches!(a.outcome, Outcome::Acknowledged))
            .map(|a| (a.key.clone(), a.value.clone()))
    }

    /// Fails if the isolated leader acknowledged anything after the grace period, or if the
    /// writer never got to test it past the grace period.
    pub fn assert_nothing_acknowledged_late(&self) {
        let late: Vec<&Attempt> = self
            .attempts
            .iter()
            .filter(|a| matches!(a.outcome, Outcome::Acknowledged) && a.answered > GRACE)
            .collect();
        assert!(
            late.is_empty(),
            "the isolated leader acknowledged writes more than {GRACE:?} after the cut: {late:#?}"
        );
        let probed_late = self.attempts.iter().filter(|a| a.sent > GRACE).count();
        assert!(
            probed_late > 0,
            "no write reached the isolated leader after the grace period"
        );
    }

    /// Fails if the isolated leader answered a write with anything but an acknowledgement or
    /// a server error (500); timeouts and dropped connections are fine.
    pub fn assert_only_server_errors(&self) {
        let odd: Vec<&Attempt> = self
            .attempts
            .iter()
            .filter(|a| matches!(a.outcome, Outcome::Answered { status, .. } if status != 500))
            .collect();
        assert!(
            odd.is_empty(),
            "unexpected answers to minority writes: {odd:#?}"
        );
    }

    /// How the writes ended, grouped, with the time span of each group.
    pub fn summary(&self) -> String {
        let mut groups: BTreeMap<String, (usize, Duration, Duration)> = BTreeMap::new();
        for attempt in &self.attempts {
            let entry = groups.entry(attempt.outcome.label()).or_insert((
                0,
                attempt.answered,
                attempt.answered,
            ));
            entry.0 += 1;
            entry.1 = entry.1.min(attempt.answered);
            entry.2 = entry.2.max(attempt.answered);
        }
        let mut text = format!("{} writes to the isolated leader:", self.attempts.len());
        for (label, (count, first, last)) in groups {
            text.push_str(&format!(
                "\n  {count} x {label} (answered {first:?}..{last:?} after the cut)"
            ));
        }
        text
    }
}

/// How the isolated leader answered reads during the cut.
pub struct MinorityReads {
    /// When the first default read was refused with 500, and its body.
    refused: Option<(Duration, String)>,
    /// When default reads were still answered 200 after the grace period.
    late_answers: Vec<Duration>,
    /// Other answers and client errors, for the summary.
    others: Vec<(Duration, String)>,
    /// The `?stale&raw` read afterwards: status, body, `X-Consul-KnownLeader`.
    stale: Option<(u16, String, String)>,
    expected_value: String,
}

impl MinorityReads {
    /// Reads `key` (which holds `value`) from `addr` by default until refused or the deadline
    /// passes, then once with `?stale`.
    pub fn run(addr: SocketAddr, cut_at: Instant, key: &str, value: &str) -> MinorityReads {
        let mut reads = MinorityReads {
            refused: None,
            late_answers: Vec::new(),
            others: Vec::new(),
            stale: None,
            expected_value: value.to_string(),
        };
        let path = format!("/v1/kv/{key}");
        while reads.refused.is_none() && cut_at.elapsed() < READ_REFUSAL_DEADLINE {
            let result = http::get(addr, &path, MINORITY_READ_TIMEOUT);
            reads.record(cut_at.elapsed(), result);
            std::thread::sleep(POLL);
        }
        reads.stale = stale_raw(addr, key);
        reads
    }

    fn record(&mut self, answered: Duration, result: std::io::Result<http::Response>) {
        match result {
            Ok(response) if response.status == 500 => {
                self.refused = Some((answered, response.text().trim().to_string()));
            }
            Ok(response) if response.status == 200 => {
                if answered > GRACE {
                    self.late_answers.push(answered);
                }
            }
            Ok(response) => self.others.push((answered, format!("{}", response.status))),
            Err(error) => self.others.push((answered, describe_error(&error))),
        }
    }

    /// Fails unless a default read was refused within the deadline, none was answered after
    /// the grace period, and a `?stale` read still answered with the value.
    pub fn assert_refused_in_time(&self) {
        assert!(
            self.late_answers.is_empty(),
            "the isolated leader answered default reads {:?} after the cut",
            self.late_answers
        );
        match &self.refused {
            Some((at, _)) => assert!(
                *at <= READ_REFUSAL_DEADLINE,
                "the isolated leader refused default reads only {at:?} after the cut"
            ),
            None => panic!(
                "the isolated leader did not refuse a default read within \
                 {READ_REFUSAL_DEADLINE:?}; other outcomes: {:?}",
                self.others
            ),
        }
        match &self.stale {
            Some((200, body, _)) if *body == self.expected_value => {}
            other => panic!("a ?stale read on the isolated leader did not answer: {other:?}"),
        }
    }

    pub fn summary(&self) -> String {
        format!(
            "default reads on the isolated leader: refused {:?}, other outcomes {:?}; \
             ?stale read: {:?}",
            self.refused, self.others, self.stale
        )
    }
}

/// A `?stale&raw` read of `key`: status, body and `X-Consul-KnownLeader`.
fn stale_raw(addr: SocketAddr, key: &str) -> Option<(u16, String, String)> {
    let path = format!("/v1/kv/{key}?stale&raw");
    let response = http::get(addr, &path, QUICK_TIMEOUT).ok()?;
    let known_leader = response.header("x-consul-knownleader").unwrap_or("");
    Some((response.status, response.text(), known_leader.to_string()))
}

/// Every key and value in `host`'s own KV store (a `?recurse&stale` read).
pub fn stale_store(host: &Host) -> Option<BTreeMap<String, String>> {
    let response = http::get(host.http(), "/v1/kv/?recurse&stale", QUICK_TIMEOUT).ok()?;
    match response.status {
        404 => Some(BTreeMap::new()),
        200 => {
            let entries: Value = serde_json::from_slice(&response.body).ok()?;
            entries.as_array()?.iter().map(decode_entry).collect()
        }
        _ => None,
    }
}

/// A KV entry's key and its base64-decoded value.
fn decode_entry(entry: &Value) -> Option<(String, String)> {
    let key = entry["Key"].as_str()?.to_string();
    let value = match entry["Value"].as_str() {
        Some(encoded) => base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()?,
        None => Vec::new(),
    };
    Some((key, String::from_utf8_lossy(&value).into_owned()))
}

/// What is wrong with `store` on host `host`: acknowledged keys missing or changed, and
/// minority keys that were never acknowledged.
pub fn compare(
    host: usize,
    store: &BTreeMap<String, String>,
    ledger: &BTreeMap<String, String>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for (key, value) in ledger {
        match store.get(key) {
            None => problems.push(format!("pt-{host}: acknowledged {key} is missing")),
            Some(found) if found != value => problems.push(format!(
                "pt-{host}: acknowledged {key} holds {found:?}, not {value:?}"
            )),
            Some(_) => {}
        }
    }
    for key in store.keys() {
        if key.starts_with("minority/") && !ledger.contains_key(key) {
            problems.push(format!(
                "pt-{host}: unacknowledged minority write {key} appeared"
            ));
        }
    }
    problems
}
