//! Checks a grow-only set: every acknowledged add must show up in the final reads, and
//! nothing may show up that was never added or whose add definitely failed.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

/// How one attempt to add an element ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AddOutcome {
    /// The server acknowledged the add at `return_time`.
    Acknowledged { return_time: u64 },
    /// The add definitely did not take effect.
    Failed,
    /// No answer: the add may or may not have taken effect.
    Unknown,
}

/// One attempt to add `element`, invoked at `call`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetAdd<E> {
    pub element: E,
    pub call: u64,
    pub outcome: AddOutcome,
}

/// A read of the whole set at the end of the run, invoked at `time`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinalRead<E> {
    pub elements: Vec<E>,
    pub time: u64,
}

/// What the final reads say about the adds. Lists are sorted and free of duplicates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetReport<E> {
    /// Distinct elements with at least one acknowledged add.
    pub acknowledged: usize,
    /// Distinct elements whose every add failed.
    pub failed: usize,
    /// Distinct elements with unknown adds and no acknowledged one.
    pub unknown: usize,
    /// Acknowledged, yet missing from a final read that began after the acknowledgement.
    pub lost: Vec<E>,
    /// Present in a final read although never added, or only in adds that failed.
    pub unexpected: Vec<E>,
    /// Unknown adds that turned out to have happened.
    pub unknown_present: Vec<E>,
    /// Unknown adds absent from the final reads (allowed).
    pub unknown_absent: Vec<E>,
    /// Acknowledged but absent only from reads that began before the acknowledgement, so
    /// their absence proves nothing; no read could confirm them.
    pub unconfirmed: Vec<E>,
}

impl<E> SetReport<E> {
    /// No element lost and none unexpected.
    pub fn is_valid(&self) -> bool {
        self.lost.is_empty() && self.unexpected.is_empty()
    }
}

/// What all attempts to add one element amount to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attempts {
    /// Earliest acknowledgement.
    Acknowledged(u64),
    Unknown,
    Failed,
}

impl Attempts {
    fn combine(self, outcome: AddOutcome) -> Self {
        match (self, outcome) {
            (Self::Acknowledged(first), AddOutcome::Acknowledged { return_time }) => {
                Self::Acknowledged(first.min(return_time))
            }
            (Self::Acknowledged(first), _)
            | (_, AddOutcome::Acknowledged { return_time: first }) => Self::Acknowledged(first),
            (Self::Unknown, _) | (_, AddOutcome::Unknown) => Self::Unknown,
            (Self::Failed, AddOutcome::Failed) => Self::Failed,
        }
    }

    fn from_outcome(outcome: AddOutcome) -> Self {
        Self::Failed.combine(outcome)
    }
}

/// Compares the adds with the final reads.
pub fn check_set<E: Ord + Clone>(adds: &[SetAdd<E>], final_reads: &[FinalRead<E>]) -> SetReport<E> {
    let attempts = attempts_by_element(adds);
    let reads: Vec<(u64, BTreeSet<&E>)> = final_reads
        .iter()
        .map(|read| (read.time, read.elements.iter().collect()))
        .collect();
    let seen_anywhere: BTreeSet<&E> = reads
        .iter()
        .flat_map(|(_, elements)| elements.iter().copied())
        .collect();
    let mut report = SetReport {
        acknowledged: 0,
        failed: 0,
        unknown: 0,
        lost: Vec::new(),
        unexpected: Vec::new(),
        unknown_present: Vec::new(),
        unknown_absent: Vec::new(),
        unconfirmed: Vec::new(),
    };
    for (&element, attempt) in &attempts {
        let seen = seen_anywhere.contains(element);
        match *attempt {
            Attempts::Acknowledged(acknowledged_at) => {
                report.acknowledged += 1;
                classify_acknowledged(&mut report, element, acknowledged_at, &reads);
            }
            Attempts::Unknown => {
                report.unknown += 1;
                let list = if seen {
                    &mut report.unknown_present
                } else {
                    &mut report.unknown_absent
                };
                list.push(element.clone());
            }
            Attempts::Failed => {
                report.failed += 1;
                if seen {
                    report.unexpected.push(element.clone());
                }
            }
        }
    }
    let never_added = seen_anywhere
        .into_iter()
        .filter(|element| !attempts.contains_key(element));
    report.unexpected.extend(never_added.cloned());
    report.unexpected.sort();
    report
}

fn attempts_by_element<E: Ord>(adds: &[SetAdd<E>]) -> BTreeMap<&E, Attempts> {
    let mut attempts: BTreeMap<&E, Attempts> = BTreeMap::new();
    for add in adds {
        attempts
            .entry(&add.element)
            .and_modify(|attempt| *attempt = attempt.combine(add.outcome))
            .or_insert_with(|| Attempts::from_outcome(add.outcome));
    }
    attempts
}

fn classify_acknowledged<E: Ord + Clone>(
    report: &mut SetReport<E>,
    element: &E,
    acknowledged_at: u64,
    reads: &[(u64, BTreeSet<&E>)],
) {
    let missing_after_ack = reads
        .iter()
        .any(|(time, elements)| *time > acknowledged_at && !elements.contains(element));
    let confirmed = reads
        .iter()
        .any(|(time, elements)| *time > acknowledged_at || elements.contains(element));
    if missing_after_ack {
        report.lost.push(element.clone());
    } else if !confirmed {
        report.unconfirmed.push(element.clone());
    }
}

impl<E: fmt::Debug> fmt::Display for SetReport<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "set: {} acknowledged ({} lost, {} unconfirmed), {} failed, {} unknown ({} present)",
            self.acknowledged,
            self.lost.len(),
            self.unconfirmed.len(),
            self.failed,
            self.unknown,
            self.unknown_present.len(),
        )?;
        if !self.lost.is_empty() {
            writeln!(f, "lost: {:?}", self.lost)?;
        }
        if !self.unexpected.is_empty() {
            writeln!(f, "unexpected: {:?}", self.unexpected)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acked(element: u32, call: u64, return_time: u64) -> SetAdd<u32> {
        SetAdd {
            element,
            call,
            outcome: AddOutcome::Acknowledged { return_time },
        }
    }

    fn add(element: u32, outcome: AddOutcome) -> SetAdd<u32> {
        SetAdd {
            element,
            call: 0,
            outcome,
        }
    }

    fn read(elements: &[u32], time: u64) -> FinalRead<u32> {
        FinalRead {
            elements: elements.to_vec(),
            time,
        }
    }

    #[test]
    fn everything_acknowledged_is_present() {
        let adds = [acked(1, 0, 10), acked(2, 5, 15), add(3, AddOutcome::Failed)];
        let report = check_set(&adds, &[read(&[1, 2], 100)]);
        assert!(report.is_valid());
        assert_eq!(
            (report.acknowledged, report.failed, report.unknown),
            (2, 1, 0)
        );
    }

    #[test]
    fn acknowledged_but_missing_is_lost() {
        let adds = [acked(1, 0, 10), acked(2, 5, 15), acked(3, 6, 16)];
        let report = check_set(&adds, &[read(&[1], 100)]);
        assert_eq!(report.lost, vec![2, 3]);
        assert!(!report.is_valid());
    }

    #[test]
    fn missing_from_a_read_that_began_before_the_ack_is_not_lost() {
        let adds = [acked(1, 0, 150)];
        let report = check_set(&adds, &[read(&[], 100)]);
        assert!(report.lost.is_empty());
        assert_eq!(report.unconfirmed, vec![1]);
        let confirmed_later = check_set(&adds, &[read(&[], 100), read(&[1], 200)]);
        assert!(confirmed_later.is_valid() && confirmed_later.unconfirmed.is_empty());
    }

    #[test]
    fn any_later_read_missing_it_counts() {
        let adds = [acked(1, 0, 10)];
        let report = check_set(&adds, &[read(&[1], 100), read(&[], 200)]);
        assert_eq!(report.lost, vec![1]);
    }

    #[test]
    fn never_added_or_failed_elements_are_unexpected() {
        let adds = [acked(1, 0, 10), add(2, AddOutcome::Failed)];
        let report = check_set(&adds, &[read(&[1, 2, 9], 100)]);
        assert_eq!(report.unexpected, vec![2, 9]);
    }

    #[test]
    fn unknown_adds_may_or_may_not_be_present() {
        let adds = [
            add(1, AddOutcome::Unknown),
            add(2, AddOutcome::Unknown),
            acked(3, 0, 5),
        ];
        let report = check_set(&adds, &[read(&[1, 3], 100)]);
        assert!(report.is_valid());
        assert_eq!(report.unknown_present, vec![1]);
        assert_eq!(report.unknown_absent, vec![2]);
        assert_eq!(report.unknown, 2);
    }

    #[test]
    fn retries_combine_per_element() {
        let adds = [
            add(1, AddOutcome::Failed),
            acked(1, 20, 30),
            add(2, AddOutcome::Failed),
            add(2, AddOutcome::Unknown),
            add(3, AddOutcome::Failed),
            add(3, AddOutcome::Failed),
        ];
        let report = check_set(&adds, &[read(&[1, 2], 100)]);
        assert!(report.is_valid());
        assert_eq!(
            (report.acknowledged, report.unknown, report.failed),
            (1, 1, 1)
        );
        assert_eq!(report.unknown_present, vec![2]);
    }

    #[test]
    fn duplicate_elements_in_a_read_are_counted_once() {
        let report = check_set(&[acked(1, 0, 1)], &[read(&[1, 1, 7, 7], 10)]);
        assert_eq!(report.unexpected, vec![7]);
    }

    #[test]
    fn report_displays_a_summary() {
        let report = check_set(&[acked(1, 0, 1), acked(2, 0, 1)], &[read(&[1, 5], 10)]);
        assert_eq!(
            report.to_string(),
            "set: 2 acknowledged (1 lost, 0 unconfirmed), 0 failed, 0 unknown (0 present)\nlost: [2]\nunexpected: [5]\n"
        );
    }
}
