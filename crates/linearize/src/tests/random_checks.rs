//! Randomized histories: a large generated linearizable history must pass (no false alarms),
//! and on small histories the checker, its shrinker and its environment search must agree
//! with the brute-force oracle.

use super::build::verdict;
use super::generate::{linearizable_history, Shape};
use super::oracle::{is_linearizable, Transition};
use super::rng::Rng;
use crate::budget::{Deadline, StepMeter};
use crate::counterexample::CheckResult;
use crate::kv::{KvModel, KvOp, KvOperation, KvOutput};
use crate::model::Model;
use crate::search::{search, Outcome, Problem, SearchOp};

#[test]
fn large_random_linearizable_history_checks_ok() {
    let shape = Shape {
        clients: 8,
        keys: 20,
        operations: 5_000,
        unknown_percent: 3,
        failed_percent: 2,
        max_latency: 2_000_000,
    };
    let history = linearizable_history(&mut Rng::new(42), shape);
    let result = verdict(&history);
    assert!(result.is_ok(), "false alarm:\n{result}");
}

const SMALL: Shape = Shape {
    clients: 3,
    keys: 1,
    operations: 0, // set per case
    unknown_percent: 25,
    failed_percent: 10,
    max_latency: 3_000_000,
};

/// A small single-key history: linearizable, or with one output tampered with.
fn small_history(rng: &mut Rng) -> Vec<KvOperation> {
    let shape = Shape {
        operations: rng.range(1, 9) as usize,
        ..SMALL
    };
    let mut history = linearizable_history(rng, shape);
    if rng.percent(85) {
        tamper(rng, &mut history);
    }
    history
}

/// Replaces one read's value or flips one CAS result, if there is such an operation.
fn tamper(rng: &mut Rng, history: &mut [KvOperation]) {
    let mut values: Vec<Option<String>> = vec![None];
    values.extend(history.iter().filter_map(|op| match &op.input.op {
        KvOp::Write(value) | KvOp::Cas { new: value, .. } => Some(Some(value.clone())),
        KvOp::Read | KvOp::Delete => None,
    }));
    let observations: Vec<usize> = (0..history.len())
        .filter(|&i| {
            matches!(
                history[i].output,
                KvOutput::Value(_) | KvOutput::CasResult(_)
            )
        })
        .collect();
    if observations.is_empty() {
        return;
    }
    let op = &mut history[*rng.pick(&observations)];
    op.output = match &op.output {
        KvOutput::Value(_) => KvOutput::Value(rng.pick(&values).clone()),
        KvOutput::CasResult(swapped) => KvOutput::CasResult(!swapped),
        other => other.clone(),
    };
}

fn oracle(
    history: &[KvOperation],
    environment: &[Transition<crate::kv::KvInput, KvOutput>],
) -> bool {
    is_linearizable(&KvModel, history, environment)
}

/// Operations weakened to "may happen any number of times after the call".
fn as_environment<'a>(
    operations: impl Iterator<Item = &'a KvOperation>,
) -> Vec<Transition<crate::kv::KvInput, KvOutput>> {
    operations
        .map(|op| Transition {
            call: op.call,
            input: op.input.clone(),
            output: KvOutput::Unknown,
        })
        .collect()
}

#[test]
fn checker_agrees_with_the_oracle_on_small_histories() {
    let mut rng = Rng::new(7);
    let (mut legal, mut illegal) = (0, 0);
    for case in 0..3_000 {
        let history = small_history(&mut rng);
        let expected = oracle(&history, &[]);
        let result = verdict(&history);
        assert_eq!(
            result.is_ok(),
            expected,
            "case {case}: {history:#?}\n{result}"
        );
        if expected {
            legal += 1;
        } else {
            illegal += 1;
        }
    }
    assert!(
        legal > 300 && illegal > 300,
        "unbalanced cases: {legal} legal, {illegal} illegal"
    );
}

#[test]
fn shrunk_counterexamples_fail_even_with_the_rest_relaxed() {
    let mut rng = Rng::new(11);
    let mut checked = 0;
    for case in 0..3_000 {
        let history = small_history(&mut rng);
        let CheckResult::Illegal(counterexample) = verdict(&history) else {
            continue;
        };
        checked += 1;
        let kept = &counterexample.history_indices;
        let rest = history
            .iter()
            .enumerate()
            .filter(|(index, _)| !kept.contains(index))
            .filter(|(_, op)| {
                !KvModel.is_inert(&op.input, &op.output)
                    && !KvModel.is_inert(&op.input, &KvOutput::Unknown)
            })
            .map(|(_, op)| op);
        assert!(counterexample.minimal, "case {case}");
        assert!(
            !oracle(&counterexample.operations, &[]),
            "case {case}: {counterexample}"
        );
        assert!(
            !oracle(&counterexample.operations, &as_environment(rest)),
            "case {case}: {history:#?}\n{counterexample}"
        );
    }
    assert!(checked > 500, "only {checked} illegal cases");
}

#[test]
fn environment_search_agrees_with_the_oracle() {
    let mut rng = Rng::new(13);
    let unknown = KvOutput::Unknown;
    for case in 0..3_000 {
        let history = small_history(&mut rng);
        let in_environment: Vec<bool> = history.iter().map(|_| rng.percent(30)).collect();
        let kept: Vec<KvOperation> = history
            .iter()
            .zip(&in_environment)
            .filter(|(_, &moved)| !moved)
            .map(|(op, _)| op.clone())
            .collect();
        let moved = history
            .iter()
            .zip(&in_environment)
            .filter(|(_, &moved)| moved)
            .map(|(op, _)| op);
        let environment = as_environment(moved);
        let problem = Problem {
            operations: kept
                .iter()
                .map(|op| SearchOp {
                    input: &op.input,
                    output: &op.output,
                    call: op.call,
                    return_time: op.return_time,
                })
                .collect(),
            environment: environment
                .iter()
                .map(|transition| SearchOp {
                    input: &transition.input,
                    output: &unknown,
                    call: transition.call,
                    return_time: None,
                })
                .collect(),
        };
        let outcome = search(
            &KvModel,
            &problem,
            &mut StepMeter::new(None, Deadline::after(None)),
        );
        let expected = if oracle(&kept, &environment) {
            Outcome::Linearizable
        } else {
            Outcome::Illegal
        };
        assert_eq!(
            outcome, expected,
            "case {case}: kept {kept:#?}\nenvironment {environment:#?}"
        );
    }
}

#[test]
fn hot_key_with_many_unknown_outcomes_checks_ok() {
    let shape = Shape {
        clients: 8,
        keys: 1,
        operations: 500,
        unknown_percent: 20,
        failed_percent: 2,
        max_latency: 2_000_000,
    };
    for seed in 0..2 {
        let history = linearizable_history(&mut Rng::new(seed), shape);
        let result = verdict(&history);
        assert!(
            result.is_ok(),
            "seed {seed}: false alarm or timeout:\n{result}"
        );
    }
}
