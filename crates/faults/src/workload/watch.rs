//! The watch workload: blocking queries (`?index=`) on one register key. A watcher's indexes
//! must never go backwards, and once writes stop it must see the key's final value.

use crate::history::{Context, Outcome};
use rand::rngs::SmallRng;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What one blocking answer said.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Observation {
    pub index: u64,
    pub value: Option<String>,
    pub time: u64,
}

/// Watches `key` until the stop flag is raised; then keeps watching until it sees `final_index`
/// (read from `finals` once the run has read it) or `settle` passes.
pub fn run(
    context: &Context<'_>,
    key: &str,
    finals: &std::sync::OnceLock<(u64, Option<String>)>,
    settle: Duration,
    mut rng: SmallRng,
) -> Vec<Observation> {
    let mut seen: Vec<Observation> = Vec::new();
    let mut index = 0u64;
    let mut settle_deadline = None;
    loop {
        if context.stopped() {
            let deadline =
                *settle_deadline.get_or_insert_with(|| std::time::Instant::now() + settle);
            let caught_up = finals.get().is_some_and(|(final_index, _)| {
                seen.last().is_some_and(|o| o.index >= *final_index)
            });
            if caught_up || std::time::Instant::now() > deadline {
                return seen;
            }
        }
        let server = context.pick(&mut rng);
        let path = format!("/v1/kv/{key}?index={index}&wait=1s");
        let (_, outcome, done) = context.send(server, "GET", &path, b"");
        let Outcome::Answered(response) = outcome else {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        };
        let Some(answered_index) = response.index() else {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        };
        let Some(entry) = response.kv_entry() else {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        };
        let value = entry.map(|entry| entry.value);
        seen.push(Observation {
            index: answered_index,
            value,
            time: done,
        });
        index = answered_index;
    }
}

/// What went wrong in one watcher's observations: indexes going backwards, or a last value
/// other than the key's final one.
pub fn problems(seen: &[Observation], final_state: &(u64, Option<String>)) -> Vec<String> {
    let mut found: Vec<String> = seen
        .windows(2)
        .filter(|pair| pair[1].index < pair[0].index)
        .map(|pair| {
            format!(
                "index went back from {} to {}",
                pair[0].index, pair[1].index
            )
        })
        .collect();
    let (final_index, final_value) = final_state;
    match seen.last() {
        Some(last) if last.index >= *final_index && last.value == *final_value => {}
        Some(last) => found.push(format!(
            "last saw index {} value {:?}; the key's final index is {final_index}, value {final_value:?}",
            last.index, last.value
        )),
        None => found.push("saw nothing".to_string()),
    }
    found
}
