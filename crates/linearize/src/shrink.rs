//! Shrinks a failing partition to a handful of operations that still cannot be linearized.
//!
//! A candidate subset "still fails" when it cannot be linearized even though every operation
//! left out of it is treated as having an unknown outcome: it may have taken effect, any
//! number of times, at any moment after its call, or never. This keeps counterexamples
//! honest (a stale read is shown together with the writes that make it stale; it is never
//! reduced to "a read of a value nobody wrote" by hiding the write) and makes the test
//! monotone, so a single pass of one-at-a-time removals ends 1-minimal.
//!
//! The shrinker first bisects for the shortest failing prefix (in call order) and then
//! searches for the shortest failing suffix of that, so the candidate is a window around the
//! anomaly; it
//! then removes
//! chunks of halving size and finally single operations (reads first), while the candidate
//! still fails.
//! Models without [`Model::unknown_output`] get plain removal instead.

use crate::budget::{Budget, Deadline, StepMeter};
use crate::model::Model;
use crate::operation::Operation;
use crate::search::{search, Outcome, Problem, SearchOp};

/// The result of shrinking: indices into the history, in call order.
pub(crate) struct Shrunk {
    pub operations: Vec<usize>,
    /// Whether no single operation can be removed (false if the budget ran out first).
    pub minimal: bool,
    /// Whether left-out operations were treated as unknown (rather than simply dropped).
    pub others_relaxed: bool,
}

/// How a left-out operation takes part in a shrink attempt.
enum LeftOut<O> {
    /// As an environment transition with this "unknown" output.
    MayHappen(O),
    /// Not at all: with an unknown outcome it constrains nothing.
    Inert,
    /// Not at all, because the model cannot express an unknown outcome for it.
    Dropped,
}

/// Shrinks `failing` (indices of a partition known not to be linearizable, inert ones excluded).
pub(crate) fn shrink<M: Model>(
    model: &M,
    history: &[Operation<M::Input, M::Output>],
    failing: &[usize],
    budget: &Budget,
) -> Shrunk {
    let mut shrinker = Shrinker::new(model, history, failing, budget);
    let all: Vec<usize> = (0..shrinker.operations.len()).collect();
    let prefix = shrinker.shortest_failing_prefix(all);
    let window = shrinker.shortest_failing_suffix(prefix);
    let kept = shrinker.remove_while_failing(window);
    Shrunk {
        operations: kept
            .iter()
            .map(|&position| shrinker.operations[position])
            .collect(),
        minimal: shrinker.complete,
        others_relaxed: shrinker.others_relaxed(),
    }
}

struct Shrinker<'h, M: Model> {
    model: &'h M,
    history: &'h [Operation<M::Input, M::Output>],
    /// History indices of the failing partition, in call order; candidates hold positions in it.
    operations: Vec<usize>,
    left_out: Vec<LeftOut<M::Output>>,
    deadline: Deadline,
    max_steps: Option<u64>,
    /// Cleared when an attempt runs out of budget, since the result may then not be minimal.
    complete: bool,
}

impl<'h, M: Model> Shrinker<'h, M> {
    fn new(
        model: &'h M,
        history: &'h [Operation<M::Input, M::Output>],
        failing: &[usize],
        budget: &Budget,
    ) -> Self {
        let mut operations = failing.to_vec();
        operations.sort_by_key(|&index| (history[index].call, index));
        let left_out = operations
            .iter()
            .map(|&index| Self::as_left_out(model, &history[index].input))
            .collect();
        Self {
            model,
            history,
            operations,
            left_out,
            deadline: Deadline::after(budget.time_limit),
            max_steps: budget.max_steps,
            complete: true,
        }
    }

    fn as_left_out(model: &M, input: &M::Input) -> LeftOut<M::Output> {
        match model.unknown_output(input) {
            None => LeftOut::Dropped,
            Some(output) if model.is_inert(input, &output) => LeftOut::Inert,
            Some(output) => LeftOut::MayHappen(output),
        }
    }

    fn others_relaxed(&self) -> bool {
        !self
            .left_out
            .iter()
            .any(|left_out| matches!(left_out, LeftOut::Dropped))
    }

    /// Bisects for the shortest prefix of `candidate` that still fails.
    fn shortest_failing_prefix(&mut self, candidate: Vec<usize>) -> Vec<usize> {
        let (mut passing, mut failing) = (0, candidate.len());
        while failing - passing > 1 && !self.out_of_time() {
            let middle = passing + (failing - passing) / 2;
            if self.still_fails(&candidate[..middle]) {
                failing = middle;
            } else {
                passing = middle;
            }
        }
        candidate[..failing].to_vec()
    }

    /// Finds the shortest suffix of `candidate` that still fails, trying short suffixes
    /// first (lengths 1, 2, 4, ...) because anomalies are usually local and searches with
    /// few kept operations are cheap, then bisecting between the last two lengths tried.
    fn shortest_failing_suffix(&mut self, candidate: Vec<usize>) -> Vec<usize> {
        let len = candidate.len();
        let (mut passing, mut failing) = (0, 1);
        while failing < len && !self.still_fails(&candidate[len - failing..]) {
            passing = failing;
            failing = (failing * 2).min(len);
        }
        while failing - passing > 1 && !self.out_of_time() {
            let middle = passing + (failing - passing) / 2;
            if self.still_fails(&candidate[len - middle..]) {
                failing = middle;
            } else {
                passing = middle;
            }
        }
        candidate[len - failing..].to_vec()
    }

    /// Removes chunks of halving size, then single operations until none can go.
    fn remove_while_failing(&mut self, mut candidate: Vec<usize>) -> Vec<usize> {
        let mut chunk = (candidate.len() / 2).max(1);
        while chunk > 1 {
            candidate = self.remove_chunks(candidate, chunk);
            chunk /= 2;
        }
        loop {
            let before = candidate.len();
            candidate = self.remove_singles(candidate);
            if candidate.len() == before || self.out_of_time() {
                return candidate;
            }
        }
    }

    /// One pass trying to drop each operation, pure observations (reads) first, so that
    /// what remains tends to show the writes an anomaly involves rather than the reads.
    fn remove_singles(&mut self, mut candidate: Vec<usize>) -> Vec<usize> {
        let mut order = candidate.clone();
        order.sort_by_key(|&position| {
            (!matches!(self.left_out[position], LeftOut::Inert), position)
        });
        for position in order {
            if self.out_of_time() {
                break;
            }
            let without: Vec<usize> = candidate
                .iter()
                .copied()
                .filter(|&kept| kept != position)
                .collect();
            if self.still_fails(&without) {
                candidate = without;
            }
        }
        candidate
    }

    /// One pass trying to drop each consecutive run of `chunk` operations.
    fn remove_chunks(&mut self, mut candidate: Vec<usize>, chunk: usize) -> Vec<usize> {
        let mut start = 0;
        while start < candidate.len() && !self.out_of_time() {
            let end = (start + chunk).min(candidate.len());
            let without: Vec<usize> = candidate[..start]
                .iter()
                .chain(&candidate[end..])
                .copied()
                .collect();
            if self.still_fails(&without) {
                candidate = without;
            } else {
                start = end;
            }
        }
        candidate
    }

    fn out_of_time(&mut self) -> bool {
        let passed = self.deadline.has_passed();
        if passed {
            self.complete = false;
        }
        passed
    }

    /// Whether `candidate` (positions, in call order) fails with everything else relaxed.
    fn still_fails(&mut self, candidate: &[usize]) -> bool {
        let mut meter = StepMeter::new(self.max_steps, self.deadline);
        let outcome = search(self.model, &self.problem(candidate), &mut meter);
        match outcome {
            Outcome::Illegal => true,
            Outcome::Linearizable => false,
            Outcome::OutOfBudget => {
                self.complete = false;
                false
            }
        }
    }

    fn problem(&self, candidate: &[usize]) -> Problem<'_, M::Input, M::Output> {
        let mut kept = vec![false; self.operations.len()];
        candidate.iter().for_each(|&position| kept[position] = true);
        let history = self.history;
        let operations = candidate
            .iter()
            .map(|&position| {
                let op = &history[self.operations[position]];
                SearchOp {
                    input: &op.input,
                    output: &op.output,
                    call: op.call,
                    return_time: op.return_time,
                }
            })
            .collect();
        let environment = (0..self.operations.len())
            .filter(|&position| !kept[position])
            .filter_map(|position| match &self.left_out[position] {
                LeftOut::MayHappen(output) => Some((position, output)),
                LeftOut::Inert | LeftOut::Dropped => None,
            })
            .map(|(position, output)| {
                let op = &history[self.operations[position]];
                SearchOp {
                    input: &op.input,
                    output,
                    call: op.call,
                    return_time: None,
                }
            })
            .collect();
        Problem {
            operations,
            environment,
        }
    }
}
