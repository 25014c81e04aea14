//! The `Model` trait: the sequential specification a history is checked against.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::hash::Hash;

use serde::{Deserialize, Serialize};

use crate::operation::Operation;

/// A sequential object: a start state and the legal transitions out of each state.
///
/// Only `init` and `step` are required. The other methods let a model split histories
/// for P-compositionality, skip operations that constrain nothing, check the runner
/// recorded sensible operations, and help the shrinker produce honest counterexamples.
pub trait Model {
    type State: Clone + Eq + Hash;
    type Input;
    type Output;

    /// The state before any operation.
    fn init(&self) -> Self::State;

    /// If `input` answering `output` is legal from `state`, the state it leaves behind.
    fn step(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: &Self::Output,
    ) -> Option<Self::State>;

    /// Splits a history into independent sub-histories (P-compositionality), each
    /// checked on its own. The default keeps the whole history together.
    fn partition(&self, history: &[Operation<Self::Input, Self::Output>]) -> Vec<Partition> {
        vec![Partition::whole(history.len())]
    }

    /// Whether an operation with this input and output is always legal and never changes
    /// the state (a failed write, a read whose answer was lost). Inert operations are
    /// dropped before searching, which only saves work.
    fn is_inert(&self, _input: &Self::Input, _output: &Self::Output) -> bool {
        false
    }

    /// The output `step` understands as "outcome unknown" for `input`.
    ///
    /// For `step(s, i, o) == Some(t)` the model must also allow `step(s, i, unknown) == Some(t)`.
    /// The shrinker uses it to treat operations left out of a counterexample as "may or may not
    /// have happened", so a counterexample never blames a write it merely hid. `None` (the
    /// default) makes the shrinker drop left-out operations outright instead.
    fn unknown_output(&self, _input: &Self::Input) -> Option<Self::Output> {
        None
    }

    /// Positions (in `partition`) of unknown-outcome operations that probably never took
    /// effect, such as writes whose value nobody ever read. The checker first searches as if
    /// they never happened, which is cheap and, if it succeeds, proves the partition
    /// linearizable; only otherwise does it search with them. Naming too many costs time,
    /// never correctness. The default names none.
    fn ignorable_unknowns(
        &self,
        _partition: &[&Operation<Self::Input, Self::Output>],
    ) -> Vec<usize> {
        Vec::new()
    }

    /// Rejects operations the runner should never have recorded (an output that does not fit
    /// the input), so that a runner bug is not reported as a consistency violation.
    fn validate(&self, _operation: &Operation<Self::Input, Self::Output>) -> Result<(), String> {
        Ok(())
    }
}

/// One independent sub-history: a label for reports and indices into the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partition {
    pub label: String,
    pub operations: Vec<usize>,
}

impl Partition {
    /// The whole history of `len` operations as one partition labelled `all`.
    pub fn whole(len: usize) -> Self {
        Self {
            label: "all".to_owned(),
            operations: (0..len).collect(),
        }
    }

    /// One partition per distinct key, ordered by key, labelled with the key.
    pub fn by_key<T, K: Ord + Display>(history: &[T], key_of: impl Fn(&T) -> K) -> Vec<Self> {
        let mut groups: BTreeMap<K, Vec<usize>> = BTreeMap::new();
        for (index, item) in history.iter().enumerate() {
            groups.entry(key_of(item)).or_default().push(index);
        }
        groups
            .into_iter()
            .map(|(key, operations)| Self {
                label: key.to_string(),
                operations,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_key_groups_indices_in_key_order() {
        let history = ["b1", "a1", "b2", "c1", "a2"];
        let partitions = Partition::by_key(&history, |s| s[..1].to_owned());
        let summary: Vec<(String, Vec<usize>)> = partitions
            .into_iter()
            .map(|p| (p.label, p.operations))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("a".to_owned(), vec![1, 4]),
                ("b".to_owned(), vec![0, 2]),
                ("c".to_owned(), vec![3]),
            ]
        );
    }

    #[test]
    fn whole_covers_everything() {
        assert_eq!(Partition::whole(3).operations, vec![0, 1, 2]);
    }
}
