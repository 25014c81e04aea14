//! Hand-made KV histories: linearizable ones must pass, planted anomalies must be caught
//! and reported on the right key with the operations that explain them.

use super::build::{cas, delete, failed, ms, read, unknown, value, verdict, write};
use crate::budget::CheckOptions;
use crate::check::HistoryError;
use crate::counterexample::{CheckResult, Counterexample};
use crate::kv::{check_kv, KvInput, KvOperation, KvOutput};
use crate::operation::Operation;

fn counterexample(history: &[KvOperation]) -> Counterexample<KvInput, KvOutput> {
    match verdict(history) {
        CheckResult::Illegal(counterexample) => counterexample,
        other => panic!("expected a violation, got {other:?}"),
    }
}

fn assert_linearizable(history: &[KvOperation]) {
    let result = verdict(history);
    assert!(result.is_ok(), "expected linearizable, got:\n{result}");
}

/// The counterexample's operations as the test wrote them, for exact comparison.
fn shown(counterexample: &Counterexample<KvInput, KvOutput>) -> Vec<KvOperation> {
    counterexample.operations.clone()
}

#[test]
fn empty_history_is_linearizable() {
    assert_linearizable(&[]);
}

#[test]
fn sequential_operations_are_linearizable() {
    assert_linearizable(&[
        write(1, "k", "v1", 0, 10),
        read(2, "k", Some("v1"), 20, 30),
        write(1, "k", "v2", 40, 50),
        read(2, "k", Some("v2"), 60, 70),
        delete(3, "k", 80, 90),
        read(2, "k", None, 100, 110),
        cas(1, "k", None, "v3", true, 120, 130),
        cas(3, "k", Some("v2"), "v4", false, 140, 150),
        cas(1, "k", Some("v3"), "v5", true, 160, 170),
        read(2, "k", Some("v5"), 180, 190),
    ]);
}

#[test]
fn concurrent_read_may_see_either_value() {
    for seen in ["v1", "v2"] {
        assert_linearizable(&[
            write(1, "k", "v1", 0, 10),
            write(2, "k", "v2", 20, 40),
            read(3, "k", Some(seen), 25, 35),
        ]);
    }
}

#[test]
fn unknown_write_may_be_seen_later() {
    assert_linearizable(&[
        unknown(1, KvInput::write("k", "v1"), 0),
        read(2, "k", None, 5, 6),
        read(2, "k", Some("v1"), 100, 110),
    ]);
}

#[test]
fn unknown_write_may_never_be_seen() {
    assert_linearizable(&[
        write(1, "k", "v0", 0, 1),
        unknown(1, KvInput::write("k", "v1"), 10),
        read(2, "k", Some("v0"), 20, 30),
        read(3, "k", Some("v0"), 1_000, 1_010),
    ]);
}

#[test]
fn unknown_write_cannot_be_seen_before_its_call() {
    let history = [
        read(2, "k", Some("v1"), 0, 10),
        unknown(1, KvInput::write("k", "v1"), 20),
    ];
    let found = counterexample(&history);
    assert_eq!(
        shown(&found),
        vec![history[0].clone()],
        "the read alone fails, whatever the write did"
    );
}

#[test]
fn failed_write_must_never_be_seen() {
    assert_linearizable(&[
        failed(1, KvInput::write("k", "v1"), 0, 5),
        read(2, "k", None, 10, 20),
    ]);
    let found = counterexample(&[
        failed(1, KvInput::write("k", "v1"), 0, 5),
        read(2, "k", Some("v1"), 10, 20),
    ]);
    assert_eq!(shown(&found), vec![read(2, "k", Some("v1"), 10, 20)]);
}

#[test]
fn unknown_cas_takes_effect_only_if_it_matches() {
    assert_linearizable(&[
        write(1, "k", "v0", 0, 1),
        unknown(2, KvInput::cas("k", value("v0"), "v1"), 10),
        read(3, "k", Some("v1"), 50, 60),
    ]);
    counterexample(&[
        write(1, "k", "v0", 0, 1),
        unknown(2, KvInput::cas("k", value("other"), "v1"), 10),
        read(3, "k", Some("v1"), 50, 60),
    ]);
}

#[test]
fn stale_read_is_caught_with_the_writes_that_make_it_stale() {
    let history = [
        write(1, "k", "v0", 0, 10),
        write(1, "k", "v1", 20, 30),
        read(2, "k", Some("v1"), 35, 38),
        read(3, "k", Some("v0"), 40, 50),
    ];
    let found = counterexample(&history);
    assert_eq!(found.partition, "k");
    assert_eq!(
        shown(&found),
        vec![history[0].clone(), history[1].clone(), history[3].clone()]
    );
    assert_eq!(found.history_indices, vec![0, 1, 3]);
    assert_eq!(found.partition_size, 4);
    assert!(found.minimal && found.others_relaxed);
}

#[test]
fn lost_write_is_caught() {
    let found = counterexample(&[
        write(1, "k", "v0", 0, 10),
        write(2, "k", "v1", 20, 30),
        read(3, "k", Some("v0"), 40, 50),
        read(1, "k", Some("v0"), 60, 70),
        read(2, "k", Some("v0"), 80, 90),
    ]);
    assert_eq!(found.operations.len(), 3);
    assert!(found
        .operations
        .iter()
        .any(|op| op.input == KvInput::write("k", "v1")));
}

#[test]
fn cas_cannot_succeed_twice_from_the_same_value() {
    let history = [
        write(1, "k", "v0", 0, 10),
        cas(2, "k", Some("v0"), "v1", true, 20, 30),
        cas(3, "k", Some("v0"), "v2", true, 25, 35),
    ];
    let found = counterexample(&history);
    assert_eq!(shown(&found), history.to_vec());
}

#[test]
fn read_of_a_value_never_written_is_caught() {
    let history = [write(1, "k", "v0", 0, 10), read(2, "k", Some("v9"), 20, 30)];
    let found = counterexample(&history);
    assert_eq!(shown(&found), vec![history[1].clone()]);
}

#[test]
fn reads_cannot_go_backwards() {
    let history = [
        write(1, "k", "v1", 0, 10),
        write(2, "k", "v2", 0, 10),
        read(3, "k", Some("v2"), 20, 30),
        read(4, "k", Some("v1"), 40, 50),
    ];
    let found = counterexample(&history);
    // Reading v2 already proves v2 was written, so its write is not needed to explain this.
    assert_eq!(
        shown(&found),
        vec![history[0].clone(), history[2].clone(), history[3].clone()]
    );
}

#[test]
fn violation_is_reported_on_its_own_key() {
    let history = [
        write(1, "a", "a1", 0, 10),
        write(1, "b", "b1", 0, 10),
        read(2, "a", Some("a1"), 20, 30),
        write(1, "b", "b2", 20, 30),
        read(3, "b", Some("b1"), 40, 50),
        read(2, "a", Some("a1"), 40, 50),
    ];
    let found = counterexample(&history);
    assert_eq!(found.partition, "b");
    assert!(found.operations.iter().all(|op| op.input.key == "b"));
    assert!(found.also_failed.is_empty());
}

#[test]
fn other_failing_keys_are_listed() {
    let found = counterexample(&[
        read(1, "c", Some("ghost"), 0, 10),
        read(1, "a", Some("ghost"), 20, 30),
        write(2, "b", "fine", 0, 10),
    ]);
    assert_eq!(found.partition, "a");
    assert_eq!(found.also_failed, vec!["c".to_owned()]);
}

#[test]
fn counterexample_display_lists_each_operation() {
    let found = counterexample(&[
        write(4, "k0", "first", 0, 1), // times are shown relative to the history's first call
        write(3, "k1", "v6", 1_000, 1_005),
        write(3, "k1", "v7", 1_203, 1_208),
        read(1, "k1", Some("v6"), 1_300, 1_301),
        unknown(2, KvInput::read("k1"), 1_400),
    ]);
    assert_eq!(
        found.to_string(),
        "not linearizable: partition \"k1\": its 3 operations cannot be linearized together:\n\
         \x20 client 3 [call 1.000000s .. return 1.005000s] put k1 = \"v6\" -> ok\n\
         \x20 client 3 [call 1.203000s .. return 1.208000s] put k1 = \"v7\" -> ok\n\
         \x20 client 1 [call 1.300000s .. return 1.301000s] get k1 -> \"v6\"\n"
    );
}

#[test]
fn result_round_trips_through_json() {
    let result = verdict(&[write(1, "k", "v0", 0, 10), read(2, "k", None, 20, 30)]);
    let json = serde_json::to_string(&result).expect("serializable");
    let back: CheckResult<KvInput, KvOutput> = serde_json::from_str(&json).expect("deserializable");
    assert_eq!(back, result);
    let history = vec![unknown(1, KvInput::cas("k", None, "v1"), 0)];
    let json = serde_json::to_string(&history).expect("serializable");
    assert_eq!(
        serde_json::from_str::<Vec<KvOperation>>(&json).expect("deserializable"),
        history
    );
}

#[test]
fn malformed_histories_are_rejected() {
    let options = CheckOptions::default();
    let backwards = [Operation::completed(
        1,
        KvInput::read("k"),
        ms(10),
        KvOutput::Value(None),
        ms(5),
    )];
    assert!(matches!(
        check_kv(&backwards, &options),
        Err(HistoryError::ReturnBeforeCall { index: 0, .. })
    ));
    let mismatched = [
        write(1, "k", "v", 0, 1),
        Operation::completed(1, KvInput::read("k"), ms(2), KvOutput::Ok, ms(3)),
    ];
    let error = check_kv(&mismatched, &options).expect_err("a read cannot answer ok");
    assert_eq!(
        error,
        HistoryError::InvalidOperation {
            index: 1,
            reason: "`get k` cannot answer `ok`".to_owned(),
        }
    );
}

#[test]
fn parallel_and_single_threaded_checks_agree() {
    let history: Vec<KvOperation> = (0..30)
        .flat_map(|i| {
            let key = format!("key{}", i % 7);
            let seen = if i == 17 { Some("ghost") } else { None };
            [
                write(1, &key, &format!("v{i}"), i * 10, i * 10 + 5),
                read(2, &key, seen, 1_000 + i, 1_001 + i),
            ]
        })
        .collect();
    let with_threads = |threads| {
        let options = CheckOptions {
            threads,
            ..CheckOptions::default()
        };
        check_kv(&history, &options).expect("valid")
    };
    let single = with_threads(1);
    assert_eq!(single, with_threads(2));
    assert_eq!(
        single.counterexample().map(|c| c.partition.as_str()),
        Some("key0")
    );
}
