//! The lock workload: clients contend for one key with sessions (`?acquire=`/`?release=`,
//! a TTL they renew, a lock delay). Each records when it believed it held the lock: from an
//! acknowledged acquire until it asks to release, or until a renewal shows its session gone.
//! Consul documents session locks as advisory — a holder whose session was invalidated may
//! still believe it holds the lock — so overlaps are measured and reported, not failed.

use crate::history::{write_result, Context, Outcome, WriteResult};
use rand::rngs::SmallRng;
use rand::RngExt;
use serde::{Deserialize, Serialize};
use std::time::Duration;

const KEY: &str = "faults/lock";
const SESSION: &str = r#"{"Name":"faults-lock","TTL":"10s","LockDelay":"1s","Behavior":"release"}"#;

/// When one client believed it held the lock.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Hold {
    pub client: u64,
    pub from: u64,
    pub until: u64,
}

/// Two holds of different clients that overlap, and for how long.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Overlap {
    pub first: Hold,
    pub second: Hold,
    pub nanos: u64,
}

/// Runs client `client` until the stop flag is raised.
pub fn run(context: &Context<'_>, client: u64, mut rng: SmallRng) -> Vec<Hold> {
    let mut holds = Vec::new();
    let mut session = None;
    while !context.stopped() {
        let Some(id) = session
            .clone()
            .or_else(|| create_session(context, &mut rng))
        else {
            std::thread::sleep(Duration::from_millis(200));
            continue;
        };
        session = Some(id.clone());
        let server = context.pick(&mut rng);
        let path = format!("/v1/kv/{KEY}?acquire={id}");
        let body = format!("client {client}");
        let (_, outcome, acquired_at) = context.send(server, "PUT", &path, body.as_bytes());
        if write_result(&outcome) != WriteResult::Ok(true) {
            if session_gone(&outcome) {
                session = None;
            }
            std::thread::sleep(Duration::from_millis(rng.random_range(20..100)));
            continue;
        }
        let until = hold(context, &id, &mut rng);
        holds.push(Hold {
            client,
            from: acquired_at,
            until: until.unwrap_or_else(|| context.clock.now()),
        });
        if until.is_none() {
            session = None;
            continue;
        }
        let server = context.pick(&mut rng);
        let _ = context.send(server, "PUT", &format!("/v1/kv/{KEY}?release={id}"), b"");
        std::thread::sleep(Duration::from_millis(rng.random_range(10..50)));
    }
    holds
}

/// Holds the lock for a while, renewing the session; returns when the client asks to
/// release, or `None` when a renewal said the session is gone (it stops believing then).
fn hold(context: &Context<'_>, id: &str, rng: &mut SmallRng) -> Option<u64> {
    for _ in 0..rng.random_range(1..4) {
        std::thread::sleep(Duration::from_millis(rng.random_range(50..150)));
        let server = context.pick(rng);
        let (_, outcome, _) = context.send(server, "PUT", &format!("/v1/session/renew/{id}"), b"");
        if session_gone(&outcome) {
            return None;
        }
    }
    Some(context.clock.now())
}

fn create_session(context: &Context<'_>, rng: &mut SmallRng) -> Option<String> {
    let server = context.pick(rng);
    let (_, outcome, _) = context.send(server, "PUT", "/v1/session/create", SESSION.as_bytes());
    let Outcome::Answered(response) = outcome else {
        return None;
    };
    let created: serde_json::Value = serde_json::from_slice(&response.body).ok()?;
    created["ID"].as_str().map(str::to_string)
}

/// A 404 on renew, or an acquire refused for an invalid session.
fn session_gone(outcome: &Outcome) -> bool {
    match outcome {
        Outcome::Answered(response) => {
            response.status == 404
                || (response.status >= 400 && response.text().contains("invalid session"))
        }
        _ => false,
    }
}

/// Every pair of holds by different clients that overlap.
pub fn overlaps(holds: &[Hold]) -> Vec<Overlap> {
    let mut sorted = holds.to_vec();
    sorted.sort_by_key(|hold| hold.from);
    let mut found = Vec::new();
    for (index, first) in sorted.iter().enumerate() {
        for second in &sorted[index + 1..] {
            if second.from >= first.until {
                break;
            }
            if second.client != first.client {
                found.push(Overlap {
                    first: *first,
                    second: *second,
                    nanos: first.until.min(second.until) - second.from,
                });
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hold(client: u64, from: u64, until: u64) -> Hold {
        Hold {
            client,
            from,
            until,
        }
    }

    #[test]
    fn only_holds_of_different_clients_that_intersect_overlap() {
        let holds = [
            hold(1, 0, 10),
            hold(2, 10, 20),
            hold(3, 15, 30),
            hold(3, 31, 40),
        ];
        let found = overlaps(&holds);
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].first.client, found[0].second.client), (2, 3));
        assert_eq!(found[0].nanos, 5);
    }
}
