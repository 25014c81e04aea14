//! What a check concludes, and the small failing sub-history shown to a human when it fails.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::operation::Operation;

/// The verdict on a whole history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CheckResult<I, O> {
    /// Every partition has a linearization.
    Ok,
    /// Some partition has none; the counterexample shows the first such partition.
    Illegal(Counterexample<I, O>),
    /// No partition failed, but the budget ran out before these could be decided.
    Unknown { timed_out: Vec<String> },
}

impl<I, O> CheckResult<I, O> {
    pub fn is_ok(&self) -> bool {
        matches!(self, Self::Ok)
    }

    pub fn is_illegal(&self) -> bool {
        matches!(self, Self::Illegal(_))
    }

    pub fn counterexample(&self) -> Option<&Counterexample<I, O>> {
        match self {
            Self::Illegal(counterexample) => Some(counterexample),
            Self::Ok | Self::Unknown { .. } => None,
        }
    }
}

/// A failing partition, boiled down to operations that cannot be linearized together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counterexample<I, O> {
    /// Label of the failing partition (for the KV model: the key).
    pub partition: String,
    /// The failing sub-history, in call order.
    pub operations: Vec<Operation<I, O>>,
    /// Where each of `operations` sits in the checked history.
    pub history_indices: Vec<usize>,
    /// How many operations the partition had (inert ones excluded).
    pub partition_size: usize,
    /// Whether no single operation could be removed (false if shrinking ran out of budget).
    pub minimal: bool,
    /// Whether the other operations of the partition were treated as "may have happened"
    /// while shrinking, i.e. these operations contradict each other whatever the others did.
    pub others_relaxed: bool,
    /// Other partitions that also failed (not shrunk).
    pub also_failed: Vec<String>,
    /// Times are displayed relative to this (the earliest call of the history).
    pub time_origin: u64,
}

impl<I: fmt::Display, O: fmt::Display> fmt::Display for Counterexample<I, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (shown, size) = (self.operations.len(), self.partition_size);
        write!(f, "not linearizable: partition {:?}: ", self.partition)?;
        if shown == size {
            write!(f, "its {size} operations cannot be linearized together")?;
        } else {
            write!(
                f,
                "these {shown} of its {size} operations cannot be linearized together"
            )?;
            if self.others_relaxed {
                write!(f, ", whatever the other {} did", size - shown)?;
            }
        }
        if !self.minimal {
            write!(f, " (shrinking stopped early)")?;
        }
        writeln!(f, ":")?;
        for operation in &self.operations {
            writeln!(f, "  {}", operation.display(self.time_origin))?;
        }
        if !self.also_failed.is_empty() {
            writeln!(f, "also not linearizable: {}", self.also_failed.join(", "))?;
        }
        Ok(())
    }
}

impl<I: fmt::Display, O: fmt::Display> fmt::Display for CheckResult<I, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ok => writeln!(f, "linearizable"),
            Self::Illegal(counterexample) => counterexample.fmt(f),
            Self::Unknown { timed_out } => writeln!(
                f,
                "inconclusive: the search budget ran out on partitions {}",
                timed_out.join(", ")
            ),
        }
    }
}
