//! What every workload shares: the run's monotonic clock, the servers a client may send to,
//! the stop flag, and how an HTTP outcome is classified (ok, definitely failed, unknown).

use crate::http::{self, HttpError, Response};
use rand::rngs::SmallRng;
use rand::RngExt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Monotonic nanoseconds since the run began.
#[derive(Clone, Copy)]
pub struct Clock {
    origin: Instant,
}

impl Clock {
    pub fn start() -> Clock {
        Clock {
            origin: Instant::now(),
        }
    }

    pub fn now(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// What a workload client needs.
pub struct Context<'a> {
    pub clock: Clock,
    pub servers: &'a [SocketAddr],
    pub stop: &'a AtomicBool,
    /// How long a request may take before its outcome is unknown.
    pub timeout: Duration,
}

impl Context<'_> {
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// A random server.
    pub fn pick(&self, rng: &mut SmallRng) -> SocketAddr {
        self.servers[rng.random_range(0..self.servers.len())]
    }

    /// Sends one request and times it: (call, outcome, return time).
    pub fn send(
        &self,
        server: SocketAddr,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> (u64, Outcome, u64) {
        let call = self.clock.now();
        let outcome = match http::request(server, method, path, body, self.timeout) {
            Ok(response) => Outcome::Answered(response),
            Err(HttpError::NotSent(_)) => Outcome::NotSent,
            Err(HttpError::NoAnswer(_)) => Outcome::NoAnswer,
        };
        (call, outcome, self.clock.now())
    }
}

/// How a request ended.
pub enum Outcome {
    Answered(Response),
    /// Never reached the server.
    NotSent,
    /// May have reached it.
    NoAnswer,
}

/// How a write ended, for the checkers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteResult {
    /// Applied (and the body said `true`, or `false` for a CAS that lost).
    Ok(bool),
    /// Definitely not applied: never sent, or refused before reaching Raft (4xx).
    Failed,
    /// A timeout, a lost connection or a 5xx: a proposal may still commit.
    Unknown,
}

/// Classifies a write's outcome. A 5xx counts as unknown: the leader may have appended the
/// entry before it lost its leadership.
pub fn write_result(outcome: &Outcome) -> WriteResult {
    match outcome {
        Outcome::Answered(response) if response.status == 200 => {
            WriteResult::Ok(response.text().trim() == "true")
        }
        Outcome::Answered(response) if (400..500).contains(&response.status) => WriteResult::Failed,
        Outcome::Answered(_) | Outcome::NoAnswer => WriteResult::Unknown,
        Outcome::NotSent => WriteResult::Failed,
    }
}

/// Sleeps a little between operations so a handful of clients make a readable history.
pub fn pause_between_ops(rng: &mut SmallRng) {
    std::thread::sleep(Duration::from_millis(rng.random_range(1..10)));
}
