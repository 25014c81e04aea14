//! The register workload: a few keys, each a linearizable register. Clients read (default,
//! `?consistent`, `?stale`), write unique values, delete, and compare-and-set with `?cas=` on
//! the ModifyIndex they just read. Default and consistent operations go to the linearizability
//! checker; stale reads are only checked to return values that were written.

use crate::history::{pause_between_ops, write_result, Context, Outcome, WriteResult};
use rand::rngs::SmallRng;
use rand::RngExt;
use senate_linearize::{KvInput, KvOperation, KvOutput, Operation};
use serde::{Deserialize, Serialize};

/// The key prefix of the registers.
pub const PREFIX: &str = "faults/register/";

/// A stale read: not linearizable by design, but it must show a value someone wrote.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StaleRead {
    pub key: String,
    pub value: Option<String>,
    pub time: u64,
}

/// One client's record.
#[derive(Default, Serialize, Deserialize)]
pub struct RegisterHistory {
    pub operations: Vec<KvOperation>,
    pub stale_reads: Vec<StaleRead>,
}

impl RegisterHistory {
    pub fn merge(&mut self, other: RegisterHistory) {
        self.operations.extend(other.operations);
        self.stale_reads.extend(other.stale_reads);
    }
}

/// What a read saw: the value and the ModifyIndex (0 when the key does not exist).
struct Seen {
    value: Option<String>,
    modify_index: u64,
}

pub fn key_name(key: usize) -> String {
    format!("{PREFIX}k{key}")
}

/// Runs client `client` until the stop flag is raised.
/// With `stale_as_linearizable` (a negative control), `?stale` reads are checked as if they
/// were linearizable, which a partition must then expose.
pub fn run(
    context: &Context<'_>,
    client: u64,
    keys: usize,
    stale_as_linearizable: bool,
    mut rng: SmallRng,
) -> RegisterHistory {
    let mut history = RegisterHistory::default();
    let mut sequence = 0u64;
    while !context.stopped() {
        let key = key_name(rng.random_range(0..keys));
        let mut next_value = || {
            sequence += 1;
            format!("c{client}-{sequence}")
        };
        match rng.random_range(0..100) {
            0..=34 => drop(read(context, &mut history, client, &key, "", &mut rng)),
            35..=49 => drop(read(
                context,
                &mut history,
                client,
                &key,
                "?consistent",
                &mut rng,
            )),
            50..=59 if stale_as_linearizable => drop(read(
                context,
                &mut history,
                client,
                &key,
                "?stale",
                &mut rng,
            )),
            50..=59 => stale_read(context, &mut history, &key, &mut rng),
            60..=84 => write(
                context,
                &mut history,
                client,
                &key,
                &next_value(),
                None,
                &mut rng,
            ),
            85..=89 => delete(context, &mut history, client, &key, &mut rng),
            _ => {
                if let Some(seen) = read(context, &mut history, client, &key, "", &mut rng) {
                    let value = next_value();
                    write(
                        context,
                        &mut history,
                        client,
                        &key,
                        &value,
                        Some(seen),
                        &mut rng,
                    );
                }
            }
        }
        pause_between_ops(&mut rng);
    }
    history
}

/// A default or consistent read, recorded when answered (a failed read changes nothing).
fn read(
    context: &Context<'_>,
    history: &mut RegisterHistory,
    client: u64,
    key: &str,
    mode: &str,
    rng: &mut SmallRng,
) -> Option<Seen> {
    let server = context.pick(rng);
    let (call, outcome, done) = context.send(server, "GET", &format!("/v1/kv/{key}{mode}"), b"");
    let seen = parse_read(&outcome)?;
    history.operations.push(Operation::completed(
        client,
        KvInput::read(key),
        call,
        KvOutput::Value(seen.value.clone()),
        done,
    ));
    Some(seen)
}

fn stale_read(context: &Context<'_>, history: &mut RegisterHistory, key: &str, rng: &mut SmallRng) {
    let server = context.pick(rng);
    let (_, outcome, done) = context.send(server, "GET", &format!("/v1/kv/{key}?stale"), b"");
    if let Some(seen) = parse_read(&outcome) {
        history.stale_reads.push(StaleRead {
            key: key.to_string(),
            value: seen.value,
            time: done,
        });
    }
}

/// A PUT, or with `expected` a CAS on the ModifyIndex that read saw.
fn write(
    context: &Context<'_>,
    history: &mut RegisterHistory,
    client: u64,
    key: &str,
    value: &str,
    expected: Option<Seen>,
    rng: &mut SmallRng,
) {
    let server = context.pick(rng);
    let (path, input) = match &expected {
        None => (format!("/v1/kv/{key}"), KvInput::write(key, value)),
        Some(seen) => (
            format!("/v1/kv/{key}?cas={}", seen.modify_index),
            KvInput::cas(key, seen.value.clone(), value),
        ),
    };
    let (call, outcome, done) = context.send(server, "PUT", &path, value.as_bytes());
    let cas = expected.is_some();
    let output = match write_result(&outcome) {
        WriteResult::Failed => return,
        WriteResult::Unknown => {
            history
                .operations
                .push(Operation::unknown(client, input, call, KvOutput::Unknown));
            return;
        }
        WriteResult::Ok(applied) if cas => KvOutput::CasResult(applied),
        WriteResult::Ok(_) => KvOutput::Ok,
    };
    history
        .operations
        .push(Operation::completed(client, input, call, output, done));
}

fn delete(
    context: &Context<'_>,
    history: &mut RegisterHistory,
    client: u64,
    key: &str,
    rng: &mut SmallRng,
) {
    let server = context.pick(rng);
    let (call, outcome, done) = context.send(server, "DELETE", &format!("/v1/kv/{key}"), b"");
    let input = KvInput::delete(key);
    match write_result(&outcome) {
        WriteResult::Failed => {}
        WriteResult::Unknown => {
            history
                .operations
                .push(Operation::unknown(client, input, call, KvOutput::Unknown))
        }
        WriteResult::Ok(_) => history.operations.push(Operation::completed(
            client,
            input,
            call,
            KvOutput::Ok,
            done,
        )),
    }
}

/// The value and ModifyIndex of a 200 (or absence on a 404); anything else is no answer.
fn parse_read(outcome: &Outcome) -> Option<Seen> {
    let Outcome::Answered(response) = outcome else {
        return None;
    };
    let seen = match response.kv_entry()? {
        None => Seen {
            value: None,
            modify_index: 0,
        },
        Some(entry) => Seen {
            value: Some(entry.value),
            modify_index: entry.modify_index,
        },
    };
    Some(seen)
}
