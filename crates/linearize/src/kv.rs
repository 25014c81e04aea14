//! The Consul KV model: one register per key, with the input/output types a runner records.
//!
//! Every written value is unique in a run, so Consul's `?cas=<ModifyIndex>` is modelled as
//! "swap only if the value is still the one the client read" (`expected: None` is `cas=0`:
//! only if the key does not exist).

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::budget::CheckOptions;
use crate::check::{check, HistoryError};
use crate::counterexample::CheckResult;
use crate::model::{Model, Partition};
use crate::operation::Operation;

/// An operation on one key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct KvInput {
    pub key: String,
    pub op: KvOp,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KvOp {
    /// `GET`; answers [`KvOutput::Value`].
    Read,
    /// `PUT`; answers [`KvOutput::Ok`].
    Write(String),
    /// `DELETE`; answers [`KvOutput::Ok`].
    Delete,
    /// `PUT ?cas=`; answers [`KvOutput::CasResult`].
    Cas {
        expected: Option<String>,
        new: String,
    },
}

/// What the client got back.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KvOutput {
    /// The value read; `None` for 404 (no such key).
    Value(Option<String>),
    /// A write or delete was acknowledged.
    Ok,
    /// Whether a compare-and-swap swapped.
    CasResult(bool),
    /// No answer (timeout, connection lost): the operation may or may not have happened.
    /// Record these with `return_time: None`.
    Unknown,
    /// The operation definitely did not take effect (e.g. 500 "No cluster leader").
    Failed,
}

/// A recorded KV operation.
pub type KvOperation = Operation<KvInput, KvOutput>;

impl KvInput {
    pub fn read(key: impl Into<String>) -> Self {
        Self::new(key, KvOp::Read)
    }

    pub fn write(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self::new(key, KvOp::Write(value.into()))
    }

    pub fn delete(key: impl Into<String>) -> Self {
        Self::new(key, KvOp::Delete)
    }

    /// Swap in `new` only if the value is still `expected` (`None`: only if absent).
    pub fn cas(key: impl Into<String>, expected: Option<String>, new: impl Into<String>) -> Self {
        Self::new(
            key,
            KvOp::Cas {
                expected,
                new: new.into(),
            },
        )
    }

    fn new(key: impl Into<String>, op: KvOp) -> Self {
        Self {
            key: key.into(),
            op,
        }
    }
}

/// The value of one key: `None` while it does not exist.
pub type KvState = Option<String>;

/// One register per key; see the module documentation.
#[derive(Debug, Clone, Copy, Default)]
pub struct KvModel;

impl Model for KvModel {
    type State = KvState;
    type Input = KvInput;
    type Output = KvOutput;

    fn init(&self) -> KvState {
        None
    }

    fn step(&self, state: &KvState, input: &KvInput, output: &KvOutput) -> Option<KvState> {
        match (&input.op, output) {
            (_, KvOutput::Failed) => Some(state.clone()),
            (KvOp::Read, KvOutput::Value(seen)) => (seen == state).then(|| state.clone()),
            (KvOp::Read, _) => Some(state.clone()),
            (KvOp::Write(value), _) => Some(Some(value.clone())),
            (KvOp::Delete, _) => Some(None),
            (KvOp::Cas { expected, new }, KvOutput::CasResult(swapped)) => {
                compare_and_swap(state, expected, new, Some(*swapped))
            }
            (KvOp::Cas { expected, new }, _) => compare_and_swap(state, expected, new, None),
        }
    }

    fn partition(&self, history: &[KvOperation]) -> Vec<Partition> {
        Partition::by_key(history, |op| op.input.key.clone())
    }

    fn is_inert(&self, input: &KvInput, output: &KvOutput) -> bool {
        matches!(output, KvOutput::Failed)
            || matches!((&input.op, output), (KvOp::Read, KvOutput::Unknown))
    }

    fn unknown_output(&self, _input: &KvInput) -> Option<KvOutput> {
        Some(KvOutput::Unknown)
    }

    /// Unknown writes and swaps whose value no read returned and no swap expected.
    fn ignorable_unknowns(&self, partition: &[&KvOperation]) -> Vec<usize> {
        let observed: HashSet<&str> = partition
            .iter()
            .filter_map(|op| observed_value(op))
            .collect();
        partition
            .iter()
            .enumerate()
            .filter(|(_, op)| op.is_unknown())
            .filter(|(_, op)| {
                written_value(&op.input.op).is_some_and(|value| !observed.contains(value))
            })
            .map(|(position, _)| position)
            .collect()
    }

    fn validate(&self, op: &KvOperation) -> Result<(), String> {
        let fits = matches!(
            (&op.input.op, &op.output),
            (_, KvOutput::Unknown | KvOutput::Failed)
                | (KvOp::Read, KvOutput::Value(_))
                | (KvOp::Write(_) | KvOp::Delete, KvOutput::Ok)
                | (KvOp::Cas { .. }, KvOutput::CasResult(_))
        );
        if !fits {
            return Err(format!("`{}` cannot answer `{}`", op.input, op.output));
        }
        if op.return_time.is_none() && !matches!(op.output, KvOutput::Unknown | KvOutput::Failed) {
            return Err(format!(
                "`{}` has no return time, so its output must be Unknown",
                op.input
            ));
        }
        Ok(())
    }
}

/// The value a read returned or a swap expected, if any.
fn observed_value(op: &KvOperation) -> Option<&str> {
    match (&op.input.op, &op.output) {
        (KvOp::Read, KvOutput::Value(Some(value))) => Some(value),
        (
            KvOp::Cas {
                expected: Some(value),
                ..
            },
            _,
        ) => Some(value),
        _ => None,
    }
}

/// The value an operation would store, if it stores one.
fn written_value(op: &KvOp) -> Option<&str> {
    match op {
        KvOp::Write(value) | KvOp::Cas { new: value, .. } => Some(value),
        KvOp::Read | KvOp::Delete => None,
    }
}

/// The state after a CAS from `state`; `reported` is what the client was told, if anything.
fn compare_and_swap(
    state: &KvState,
    expected: &Option<String>,
    new: &str,
    reported: Option<bool>,
) -> Option<KvState> {
    let matches = state == expected;
    if reported.is_some_and(|swapped| swapped != matches) {
        return None;
    }
    Some(if matches {
        Some(new.to_owned())
    } else {
        state.clone()
    })
}

/// Checks a KV history with [`KvModel`], one partition per key.
pub fn check_kv(
    history: &[KvOperation],
    options: &CheckOptions,
) -> Result<CheckResult<KvInput, KvOutput>, HistoryError> {
    check(&KvModel, history, options)
}

impl fmt::Display for KvInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = &self.key;
        match &self.op {
            KvOp::Read => write!(f, "get {key}"),
            KvOp::Write(value) => write!(f, "put {key} = {value:?}"),
            KvOp::Delete => write!(f, "delete {key}"),
            KvOp::Cas {
                expected: Some(expected),
                new,
            } => write!(f, "cas {key} = {new:?} if {expected:?}"),
            KvOp::Cas {
                expected: None,
                new,
            } => write!(f, "cas {key} = {new:?} if absent"),
        }
    }
}

impl fmt::Display for KvOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Value(Some(value)) => write!(f, "{value:?}"),
            Self::Value(None) => write!(f, "not found"),
            Self::Ok => write!(f, "ok"),
            Self::CasResult(swapped) => write!(f, "{swapped}"),
            Self::Unknown => write!(f, "unknown"),
            Self::Failed => write!(f, "failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn some(value: &str) -> KvState {
        Some(value.to_owned())
    }

    fn step(state: KvState, input: KvInput, output: KvOutput) -> Option<KvState> {
        KvModel.step(&state, &input, &output)
    }

    #[test]
    fn read_must_match_state() {
        assert_eq!(
            step(some("a"), KvInput::read("k"), KvOutput::Value(some("a"))),
            Some(some("a"))
        );
        assert_eq!(
            step(some("a"), KvInput::read("k"), KvOutput::Value(None)),
            None
        );
        assert_eq!(
            step(None, KvInput::read("k"), KvOutput::Value(None)),
            Some(None)
        );
    }

    #[test]
    fn write_and_delete_always_apply() {
        assert_eq!(
            step(None, KvInput::write("k", "a"), KvOutput::Ok),
            Some(some("a"))
        );
        assert_eq!(
            step(some("a"), KvInput::delete("k"), KvOutput::Ok),
            Some(None)
        );
        assert_eq!(
            step(some("a"), KvInput::write("k", "b"), KvOutput::Unknown),
            Some(some("b"))
        );
    }

    #[test]
    fn cas_result_must_agree_with_the_comparison() {
        let cas = || KvInput::cas("k", some("a"), "b");
        assert_eq!(
            step(some("a"), cas(), KvOutput::CasResult(true)),
            Some(some("b"))
        );
        assert_eq!(step(some("a"), cas(), KvOutput::CasResult(false)), None);
        assert_eq!(
            step(some("x"), cas(), KvOutput::CasResult(false)),
            Some(some("x"))
        );
        assert_eq!(step(some("x"), cas(), KvOutput::CasResult(true)), None);
    }

    #[test]
    fn cas_zero_only_creates() {
        let create = || KvInput::cas("k", None, "b");
        assert_eq!(
            step(None, create(), KvOutput::CasResult(true)),
            Some(some("b"))
        );
        assert_eq!(
            step(some("a"), create(), KvOutput::CasResult(false)),
            Some(some("a"))
        );
        assert_eq!(step(some("a"), create(), KvOutput::CasResult(true)), None);
    }

    #[test]
    fn unknown_cas_applies_only_when_it_matches() {
        let cas = || KvInput::cas("k", some("a"), "b");
        assert_eq!(step(some("a"), cas(), KvOutput::Unknown), Some(some("b")));
        assert_eq!(step(some("x"), cas(), KvOutput::Unknown), Some(some("x")));
    }

    #[test]
    fn failed_and_unanswered_reads_are_inert() {
        assert!(KvModel.is_inert(&KvInput::write("k", "a"), &KvOutput::Failed));
        assert!(KvModel.is_inert(&KvInput::read("k"), &KvOutput::Unknown));
        assert!(!KvModel.is_inert(&KvInput::write("k", "a"), &KvOutput::Unknown));
        assert!(!KvModel.is_inert(&KvInput::read("k"), &KvOutput::Value(None)));
    }

    #[test]
    fn ignorable_unknowns_are_unknown_writes_nobody_saw() {
        let history = [
            Operation::unknown(1, KvInput::write("k", "seen"), 0, KvOutput::Unknown),
            Operation::unknown(1, KvInput::write("k", "unseen"), 0, KvOutput::Unknown),
            Operation::unknown(1, KvInput::cas("k", None, "expected"), 0, KvOutput::Unknown),
            Operation::unknown(1, KvInput::delete("k"), 0, KvOutput::Unknown),
            Operation::completed(1, KvInput::write("k", "acknowledged"), 0, KvOutput::Ok, 1),
            Operation::completed(2, KvInput::read("k"), 0, KvOutput::Value(some("seen")), 1),
            Operation::completed(
                2,
                KvInput::cas("k", some("expected"), "x"),
                0,
                KvOutput::CasResult(false),
                1,
            ),
        ];
        let partition: Vec<&KvOperation> = history.iter().collect();
        assert_eq!(KvModel.ignorable_unknowns(&partition), vec![1]);
    }

    #[test]
    fn validate_rejects_mismatched_outputs() {
        let read_ok = Operation::completed(1, KvInput::read("k"), 0, KvOutput::Ok, 1);
        let write_without_return = Operation::unknown(1, KvInput::write("k", "a"), 0, KvOutput::Ok);
        let write_unknown = Operation::unknown(1, KvInput::write("k", "a"), 0, KvOutput::Unknown);
        assert!(KvModel.validate(&read_ok).is_err());
        assert!(KvModel.validate(&write_without_return).is_err());
        assert!(KvModel.validate(&write_unknown).is_ok());
    }

    #[test]
    fn displays_inputs_and_outputs() {
        let shown: Vec<String> = [
            (KvInput::write("k1", "v7"), KvOutput::Ok),
            (KvInput::read("k1"), KvOutput::Value(some("v7"))),
            (KvInput::read("k1"), KvOutput::Value(None)),
            (KvInput::delete("k1"), KvOutput::Failed),
            (
                KvInput::cas("k1", some("v7"), "v8"),
                KvOutput::CasResult(true),
            ),
            (KvInput::cas("k1", None, "v9"), KvOutput::Unknown),
        ]
        .iter()
        .map(|(input, output)| format!("{input} -> {output}"))
        .collect();
        assert_eq!(
            shown,
            [
                r#"put k1 = "v7" -> ok"#,
                r#"get k1 -> "v7""#,
                "get k1 -> not found",
                "delete k1 -> failed",
                r#"cas k1 = "v8" if "v7" -> true"#,
                r#"cas k1 = "v9" if absent -> unknown"#,
            ]
        );
    }
}
