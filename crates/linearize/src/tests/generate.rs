//! Generates linearizable KV histories by simulating real registers: each operation gets an
//! interval and a linearization point inside it, the registers are applied in point order,
//! and outputs are whatever the registers said. Some operations end unknown (applied or not)
//! or failed (not applied).

use std::collections::HashMap;

use super::build::ORIGIN;
use super::rng::Rng;
use crate::kv::{KvInput, KvOp, KvOperation, KvOutput};
use crate::operation::Operation;

/// The size and flavour of a generated history.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    pub clients: u64,
    pub keys: usize,
    pub operations: usize,
    pub unknown_percent: u64,
    pub failed_percent: u64,
    /// Longest gap between linearization point and call, and between return and point.
    pub max_latency: u64,
}

/// One operation before its output is known.
struct Planned {
    client: u64,
    input: KvInput,
    call: u64,
    /// Where it takes effect; `None` if it never does.
    point: Option<u64>,
    ending: Ending,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ending {
    Returned(u64),
    Unknown,
    Failed(u64),
}

const TIMEOUT: u64 = 5_000_000;

/// A history that is linearizable by construction.
pub(crate) fn linearizable_history(rng: &mut Rng, shape: Shape) -> Vec<KvOperation> {
    let planned = plan(rng, shape);
    let outputs = simulate(&planned);
    planned
        .into_iter()
        .zip(outputs)
        .map(|(plan, output)| record(plan, output))
        .collect()
}

fn plan(rng: &mut Rng, shape: Shape) -> Vec<Planned> {
    let keys: Vec<String> = (0..shape.keys).map(|key| format!("key{key}")).collect();
    let mut free_at: Vec<u64> = vec![ORIGIN; shape.clients as usize];
    let mut last_written: HashMap<&str, String> = HashMap::new();
    (0..shape.operations)
        .map(|serial| {
            let client = rng.range(0, shape.clients);
            let key = rng.pick(&keys).as_str();
            let input = KvInput {
                key: key.to_owned(),
                op: random_op(rng, serial, last_written.get(key)),
            };
            if let KvOp::Write(new) | KvOp::Cas { new, .. } = &input.op {
                last_written.insert(key, new.clone());
            }
            let planned = plan_timing(rng, shape, client, free_at[client as usize], input);
            free_at[client as usize] = match planned.ending {
                Ending::Returned(at) | Ending::Failed(at) => at,
                Ending::Unknown => planned.call + TIMEOUT,
            };
            planned
        })
        .collect()
}

fn random_op(rng: &mut Rng, serial: usize, last_written: Option<&String>) -> KvOp {
    let fresh = format!("v{serial}");
    match rng.range(0, 10) {
        0..=3 => KvOp::Read,
        4..=6 => KvOp::Write(fresh),
        7 => KvOp::Delete,
        _ => KvOp::Cas {
            expected: if rng.percent(80) {
                last_written.cloned()
            } else {
                None
            },
            new: fresh,
        },
    }
}

fn plan_timing(rng: &mut Rng, shape: Shape, client: u64, free_at: u64, input: KvInput) -> Planned {
    let call = free_at + rng.range(0, 50_000);
    let point = call + rng.range(0, shape.max_latency);
    let ret = point + rng.range(0, shape.max_latency);
    let (point, ending) = if rng.percent(shape.unknown_percent) {
        (rng.percent(50).then_some(point), Ending::Unknown)
    } else if rng.percent(shape.failed_percent) {
        (None, Ending::Failed(ret))
    } else {
        (Some(point), Ending::Returned(ret))
    };
    Planned {
        client,
        input,
        call,
        point,
        ending,
    }
}

/// Applies every operation that takes effect, in linearization-point order.
fn simulate(planned: &[Planned]) -> Vec<KvOutput> {
    let mut order: Vec<usize> = (0..planned.len())
        .filter(|&i| planned[i].point.is_some())
        .collect();
    order.sort_by_key(|&i| (planned[i].point, i));
    let mut registers: HashMap<&str, Option<String>> = HashMap::new();
    let mut outputs = vec![KvOutput::Failed; planned.len()];
    for index in order {
        let input = &planned[index].input;
        let register = registers.entry(input.key.as_str()).or_default();
        outputs[index] = apply(register, &input.op);
    }
    outputs
}

fn apply(register: &mut Option<String>, op: &KvOp) -> KvOutput {
    match op {
        KvOp::Read => KvOutput::Value(register.clone()),
        KvOp::Write(value) => {
            *register = Some(value.clone());
            KvOutput::Ok
        }
        KvOp::Delete => {
            *register = None;
            KvOutput::Ok
        }
        KvOp::Cas { expected, new } => {
            let swapped = register == expected;
            if swapped {
                *register = Some(new.clone());
            }
            KvOutput::CasResult(swapped)
        }
    }
}

fn record(plan: Planned, output: KvOutput) -> KvOperation {
    match plan.ending {
        Ending::Returned(ret) => {
            Operation::completed(plan.client, plan.input, plan.call, output, ret)
        }
        Ending::Failed(ret) => {
            Operation::completed(plan.client, plan.input, plan.call, KvOutput::Failed, ret)
        }
        Ending::Unknown => {
            Operation::unknown(plan.client, plan.input, plan.call, KvOutput::Unknown)
        }
    }
}
