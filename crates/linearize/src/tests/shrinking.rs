//! Shrinking: a planted anomaly in a long history comes back as a handful of operations.

use super::generate::{linearizable_history, Shape};
use super::rng::Rng;
use crate::counterexample::CheckResult;
use crate::kv::{KvInput, KvOp, KvOperation, KvOutput};
use crate::operation::Operation;

use super::build::verdict;

const ONE_KEY: Shape = Shape {
    clients: 4,
    keys: 1,
    operations: 200,
    unknown_percent: 3,
    failed_percent: 3,
    max_latency: 2_000_000,
};

/// Two acknowledged writes, the first returning before the second was invoked.
fn ordered_writes(history: &[KvOperation]) -> (&KvOperation, &KvOperation) {
    let is_acknowledged_write = |op: &&KvOperation| {
        matches!(op.input.op, KvOp::Write(_))
            && op.output == KvOutput::Ok
            && op.return_time.is_some()
    };
    let writes: Vec<&KvOperation> = history.iter().filter(is_acknowledged_write).collect();
    let later = writes[writes.len() / 2];
    let earlier = writes
        .iter()
        .rev()
        .find(|w| w.return_time.expect("acknowledged") < later.call)
        .expect("an earlier write");
    (earlier, later)
}

/// A read, invoked after `later` returned, that sees `earlier`'s value: a stale read.
fn stale_read(earlier: &KvOperation, later: &KvOperation) -> KvOperation {
    let KvOp::Write(old_value) = &earlier.input.op else {
        unreachable!("earlier is a write")
    };
    let call = later.return_time.expect("acknowledged") + 1;
    Operation::completed(
        99,
        KvInput::read(&earlier.input.key),
        call,
        KvOutput::Value(Some(old_value.clone())),
        call + 1_000,
    )
}

#[test]
fn generated_history_without_the_plant_is_linearizable() {
    for seed in 0..5 {
        let history = linearizable_history(&mut Rng::new(seed), ONE_KEY);
        assert!(verdict(&history).is_ok(), "seed {seed}");
    }
}

#[test]
fn planted_stale_read_shrinks_to_a_handful_of_operations() {
    for seed in 0..3 {
        let mut history = linearizable_history(&mut Rng::new(seed), ONE_KEY);
        let (earlier, later) = ordered_writes(&history);
        let planted = stale_read(earlier, later);
        history.insert(history.len() / 2, planted.clone());
        let CheckResult::Illegal(counterexample) = verdict(&history) else {
            panic!("seed {seed}: the stale read was not caught");
        };
        assert!(
            counterexample.operations.len() <= 4,
            "seed {seed}:\n{counterexample}"
        );
        assert!(
            counterexample.operations.contains(&planted),
            "seed {seed}:\n{counterexample}"
        );
        assert!(counterexample.minimal, "seed {seed}");
        assert!(counterexample.partition_size > 150);
    }
}
