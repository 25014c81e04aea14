//! Budgets: a history crafted to make the search exponential must come back `Unknown`
//! instead of running forever, and a budget must not turn a real violation into `Unknown`.

use std::time::Duration;

use super::build::{read, write};
use crate::budget::{Budget, CheckOptions};
use crate::counterexample::CheckResult;
use crate::kv::{check_kv, KvOperation};

/// Thirty writes all concurrent with each other, then a read of a value nobody wrote: the
/// search must try every subset of the writes before it can say "illegal".
fn exponential_history() -> Vec<KvOperation> {
    let mut history: Vec<KvOperation> = (0..30)
        .map(|i| write(i, "k", &format!("v{i}"), 0, 100))
        .collect();
    history.push(read(99, "k", Some("ghost"), 200, 210));
    history
}

fn options(search: Budget) -> CheckOptions {
    CheckOptions {
        search,
        ..CheckOptions::default()
    }
}

#[test]
fn step_budget_makes_an_exponential_history_unknown() {
    let result = check_kv(
        &exponential_history(),
        &options(Budget::UNLIMITED.with_max_steps(10_000)),
    )
    .expect("valid");
    assert_eq!(
        result,
        CheckResult::Unknown {
            timed_out: vec!["k".to_owned()]
        }
    );
    assert!(result.to_string().contains("inconclusive"));
}

#[test]
fn time_budget_makes_an_exponential_history_unknown() {
    let budget = Budget::UNLIMITED.with_time_limit(Duration::from_millis(100));
    let result = check_kv(&exponential_history(), &options(budget)).expect("valid");
    assert!(
        matches!(result, CheckResult::Unknown { .. }),
        "got {result:?}"
    );
}

#[test]
fn violation_elsewhere_wins_over_a_timeout() {
    let mut history = exponential_history();
    history.push(write(1, "other", "v0", 0, 10));
    history.push(read(2, "other", None, 20, 30));
    let result =
        check_kv(&history, &options(Budget::UNLIMITED.with_max_steps(10_000))).expect("valid");
    assert_eq!(
        result.counterexample().map(|c| c.partition.as_str()),
        Some("other")
    );
}

#[test]
fn exhausted_shrink_budget_still_reports_a_failing_history() {
    let history = [
        write(1, "k", "v0", 0, 10),
        write(2, "k", "v1", 20, 30),
        read(3, "k", Some("v0"), 40, 50),
    ];
    let options = CheckOptions {
        shrink: Budget::UNLIMITED.with_max_steps(1),
        ..CheckOptions::default()
    };
    let result = check_kv(&history, &options).expect("valid");
    let counterexample = result.counterexample().expect("still illegal");
    assert_eq!(counterexample.operations.len(), 3);
    assert!(!counterexample.minimal);
    assert!(counterexample
        .to_string()
        .contains("shrinking stopped early"));
}
