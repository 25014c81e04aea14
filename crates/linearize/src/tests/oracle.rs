//! A brute-force linearizability oracle for small single-partition histories: a memoised
//! depth-first search over (set of placed operations, state), sharing none of the checker's
//! machinery (no timeline list, no subsumption, no inert-operation filtering).

use std::collections::HashSet;

use crate::model::Model;
use crate::operation::Operation;

/// A transition that may fire any number of times after `call` (what the shrinker assumes of
/// left-out operations).
#[derive(Debug)]
pub(crate) struct Transition<I, O> {
    pub call: u64,
    pub input: I,
    pub output: O,
}

/// Whether `history` (at most 64 operations) can be linearized, given `environment`.
pub(crate) fn is_linearizable<M: Model>(
    model: &M,
    history: &[Operation<M::Input, M::Output>],
    environment: &[Transition<M::Input, M::Output>],
) -> bool {
    assert!(
        history.len() <= 64,
        "the oracle handles at most 64 operations"
    );
    let mut oracle = Oracle {
        model,
        history,
        environment,
        seen: HashSet::new(),
    };
    oracle.explore(0, model.init())
}

struct Oracle<'a, M: Model> {
    model: &'a M,
    history: &'a [Operation<M::Input, M::Output>],
    environment: &'a [Transition<M::Input, M::Output>],
    seen: HashSet<(u64, M::State)>,
}

impl<M: Model> Oracle<'_, M> {
    fn explore(&mut self, placed: u64, state: M::State) -> bool {
        let (model, history, environment) = (self.model, self.history, self.environment);
        let is_placed = |index: usize| placed & (1 << index) != 0;
        if (0..history.len()).all(|i| is_placed(i) || history[i].return_time.is_none()) {
            return true;
        }
        if !self.seen.insert((placed, state.clone())) {
            return false;
        }
        // Nothing invoked after an unplaced operation returned may be placed before it.
        let deadline = (0..history.len())
            .filter(|&i| !is_placed(i))
            .filter_map(|i| history[i].return_time)
            .min()
            .unwrap_or(u64::MAX);
        for (index, op) in history.iter().enumerate() {
            if is_placed(index) || op.call > deadline {
                continue;
            }
            if let Some(next) = model.step(&state, &op.input, &op.output) {
                if self.explore(placed | (1 << index), next) {
                    return true;
                }
            }
        }
        for transition in environment {
            if transition.call > deadline {
                continue;
            }
            if let Some(next) = model.step(&state, &transition.input, &transition.output) {
                if self.explore(placed, next) {
                    return true;
                }
            }
        }
        false
    }
}
