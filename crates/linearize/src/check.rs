//! Checks a whole history: validates it, splits it into partitions, searches them in
//! parallel and, if one fails, shrinks it into a counterexample.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use crate::budget::{Budget, CheckOptions, Deadline, StepMeter};
use crate::counterexample::{CheckResult, Counterexample};
use crate::model::{Model, Partition};
use crate::operation::Operation;
use crate::search::{search, Outcome, Problem, SearchOp};
use crate::shrink::shrink;

/// A history the checker refuses to judge, because the runner recorded something impossible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryError {
    ReturnBeforeCall {
        index: usize,
        call: u64,
        return_time: u64,
    },
    InvalidOperation {
        index: usize,
        reason: String,
    },
    PartitionOutOfRange {
        partition: String,
        index: usize,
    },
}

impl fmt::Display for HistoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ReturnBeforeCall {
                index,
                call,
                return_time,
            } => write!(
                f,
                "operation {index} returns at {return_time} before its call at {call}"
            ),
            Self::InvalidOperation { index, reason } => {
                write!(f, "operation {index} is invalid: {reason}")
            }
            Self::PartitionOutOfRange { partition, index } => {
                write!(
                    f,
                    "partition {partition:?} names operation {index}, past the end of the history"
                )
            }
        }
    }
}

impl std::error::Error for HistoryError {}

/// Checks `history` against `model`.
///
/// Partitions are searched independently and in parallel; inert operations are skipped.
/// If several partitions fail, the first (in the model's partition order) is shrunk into
/// the counterexample and the others are listed in `also_failed`.
pub fn check<M>(
    model: &M,
    history: &[Operation<M::Input, M::Output>],
    options: &CheckOptions,
) -> Result<CheckResult<M::Input, M::Output>, HistoryError>
where
    M: Model + Sync,
    M::Input: Clone + Sync,
    M::Output: Clone + Sync,
{
    validate(model, history)?;
    let partitions = live_partitions(model, history)?;
    let outcomes = search_partitions(model, history, &partitions, options);
    let labelled = || partitions.iter().zip(&outcomes);
    let failed: Vec<&Partition> = labelled()
        .filter(|(_, outcome)| **outcome == Outcome::Illegal)
        .map(|(partition, _)| partition)
        .collect();
    if let Some((first, others)) = failed.split_first() {
        let counterexample = counterexample(model, history, first, others, &options.shrink);
        return Ok(CheckResult::Illegal(counterexample));
    }
    let timed_out: Vec<String> = labelled()
        .filter(|(_, outcome)| **outcome == Outcome::OutOfBudget)
        .map(|(partition, _)| partition.label.clone())
        .collect();
    if timed_out.is_empty() {
        Ok(CheckResult::Ok)
    } else {
        Ok(CheckResult::Unknown { timed_out })
    }
}

fn validate<M: Model>(
    model: &M,
    history: &[Operation<M::Input, M::Output>],
) -> Result<(), HistoryError> {
    for (index, op) in history.iter().enumerate() {
        if let Some(return_time) = op.return_time.filter(|&ret| ret < op.call) {
            return Err(HistoryError::ReturnBeforeCall {
                index,
                call: op.call,
                return_time,
            });
        }
        model
            .validate(op)
            .map_err(|reason| HistoryError::InvalidOperation { index, reason })?;
    }
    Ok(())
}

/// The model's partitions with inert operations removed.
fn live_partitions<M: Model>(
    model: &M,
    history: &[Operation<M::Input, M::Output>],
) -> Result<Vec<Partition>, HistoryError> {
    let mut partitions = model.partition(history);
    for partition in &mut partitions {
        if let Some(&index) = partition
            .operations
            .iter()
            .find(|&&index| index >= history.len())
        {
            return Err(HistoryError::PartitionOutOfRange {
                partition: partition.label.clone(),
                index,
            });
        }
        partition
            .operations
            .retain(|&index| !model.is_inert(&history[index].input, &history[index].output));
    }
    Ok(partitions)
}

/// Searches every partition, `options.threads` at a time, sharing one deadline.
fn search_partitions<M>(
    model: &M,
    history: &[Operation<M::Input, M::Output>],
    partitions: &[Partition],
    options: &CheckOptions,
) -> Vec<Outcome>
where
    M: Model + Sync,
    M::Input: Sync,
    M::Output: Sync,
{
    let deadline = Deadline::after(options.search.time_limit);
    let next_partition = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let index = next_partition.fetch_add(1, Ordering::Relaxed);
            let Some(partition) = partitions.get(index) else {
                return done;
            };
            done.push((
                index,
                search_partition(model, history, partition, &options.search, deadline),
            ));
        }
    };
    let threads = options.threads.clamp(1, partitions.len().max(1));
    let finished: Vec<(usize, Outcome)> = if threads == 1 {
        work()
    } else {
        thread::scope(|scope| {
            let workers: Vec<_> = (0..threads).map(|_| scope.spawn(work)).collect();
            workers
                .into_iter()
                .flat_map(|worker| {
                    worker
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        })
    };
    let mut outcomes = vec![Outcome::Linearizable; partitions.len()];
    for (index, outcome) in finished {
        outcomes[index] = outcome;
    }
    outcomes
}

/// Searches one partition; first without the unknown operations the model deems ignorable
/// (a linearization found without them is valid with them never taking effect), and only if
/// that fails with everything. Both attempts share one budget.
fn search_partition<M: Model>(
    model: &M,
    history: &[Operation<M::Input, M::Output>],
    partition: &Partition,
    budget: &Budget,
    deadline: Deadline,
) -> Outcome {
    let operations: Vec<&Operation<M::Input, M::Output>> = partition
        .operations
        .iter()
        .map(|&index| &history[index])
        .collect();
    let mut meter = StepMeter::new(budget.max_steps, deadline);
    let ignorable = ignorable_unknowns(model, &operations);
    if ignorable.iter().any(|&ignore| ignore) {
        let without = operations
            .iter()
            .zip(&ignorable)
            .filter(|(_, &ignore)| !ignore)
            .map(|(op, _)| *op);
        let outcome = search(model, &problem_of(without), &mut meter);
        if outcome != Outcome::Illegal {
            return outcome;
        }
    }
    search(model, &problem_of(operations.into_iter()), &mut meter)
}

/// `model.ignorable_unknowns`, as one flag per operation, restricted to unknown outcomes.
fn ignorable_unknowns<M: Model>(
    model: &M,
    operations: &[&Operation<M::Input, M::Output>],
) -> Vec<bool> {
    let mut ignorable = vec![false; operations.len()];
    for position in model.ignorable_unknowns(operations) {
        if let Some(flag) = ignorable.get_mut(position) {
            *flag = operations[position].is_unknown();
        }
    }
    ignorable
}

fn problem_of<'h, I, O>(
    operations: impl Iterator<Item = &'h Operation<I, O>>,
) -> Problem<'h, I, O> {
    let operations = operations
        .map(|op| SearchOp {
            input: &op.input,
            output: &op.output,
            call: op.call,
            return_time: op.return_time,
        })
        .collect();
    Problem {
        operations,
        environment: Vec::new(),
    }
}

fn counterexample<M>(
    model: &M,
    history: &[Operation<M::Input, M::Output>],
    failed: &Partition,
    also_failed: &[&Partition],
    budget: &Budget,
) -> Counterexample<M::Input, M::Output>
where
    M: Model,
    M::Input: Clone,
    M::Output: Clone,
{
    let shrunk = shrink(model, history, &failed.operations, budget);
    Counterexample {
        partition: failed.label.clone(),
        operations: shrunk
            .operations
            .iter()
            .map(|&index| history[index].clone())
            .collect(),
        history_indices: shrunk.operations,
        partition_size: failed.operations.len(),
        minimal: shrunk.minimal,
        others_relaxed: shrunk.others_relaxed,
        also_failed: also_failed
            .iter()
            .map(|partition| partition.label.clone())
            .collect(),
        time_origin: history.iter().map(|op| op.call).min().unwrap_or(0),
    }
}
