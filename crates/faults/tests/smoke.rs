//! The CI-sized smoke of the fault suite, through the real `senate-faults` binary against real
//! `senate` servers (the workspace's `senate` binary must be built, as the test command does):
//! a short run under process and network faults must pass; the negative control (stale reads
//! checked as linearizable, under partitions) must fail; bad input is refused clearly and
//! leaves no process or namespace behind.

use std::process::{Command, Output};

const FAULTS: &str = env!("CARGO_BIN_EXE_senate-faults");

/// The runs share one address range and namespace prefix, so they take turns.
static ONE_CLUSTER_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_CLUSTER_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn faults(args: &[&str]) -> Output {
    Command::new(FAULTS)
        .args(args)
        .output()
        .expect("running senate-faults")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Namespaces need root and `ip netns`; without them the smoke runs on loopback.
fn namespaces_available() -> bool {
    senate_faults::netns::unsupported().is_none()
}

fn leftover_namespaces() -> Vec<String> {
    senate_faults::netns::namespaces_of(senate_faults::cluster::LAYOUT)
}

#[test]
fn a_short_run_under_faults_passes_and_the_negative_control_fails() {
    let _turn = one_at_a_time();
    let out = std::env::temp_dir().join(format!("senate-faults-smoke-{}", std::process::id()));
    let out = out.to_str().expect("a UTF-8 temp dir").to_string();
    let mut args = vec![
        "--runs",
        "2",
        "--duration",
        "20s",
        "--hold",
        "4s",
        "--quiet",
        "2s",
        "--out",
        &out,
    ];
    if namespaces_available() {
        args.extend([
            "--nemesis",
            "kill-leader,partition-leader,pause-leader,bridge",
        ]);
    } else {
        eprintln!(
            "no network namespaces here: the smoke runs on loopback with process faults only"
        );
        args.extend([
            "--loopback",
            "--nemesis",
            "kill-leader,pause-leader,kill-random",
        ]);
    }
    let run = faults(&args);
    let report = text(&run);
    assert!(run.status.success(), "{report}");
    assert!(report.contains("2 passed, 0 failed"), "{report}");
    assert!(report.contains("0 anomalies"), "{report}");

    if namespaces_available() {
        let control = faults(&[
            "--runs",
            "1",
            "--duration",
            "15s",
            "--hold",
            "5s",
            "--quiet",
            "2s",
            "--out",
            &out,
            "--nemesis",
            "partition-leader",
            "--workload",
            "register",
            "--stale-reads-linearizable",
        ]);
        let report = text(&control);
        assert_eq!(control.status.code(), Some(1), "{report}");
        assert!(report.contains("not linearizable"), "{report}");
        assert!(report.contains("0 passed, 1 failed"), "{report}");
        assert!(
            leftover_namespaces().is_empty(),
            "{:?}",
            leftover_namespaces()
        );
    }
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn an_unknown_nemesis_is_refused_naming_the_valid_ones() {
    let output = faults(&["--nemesis", "meteor"]);
    let report = text(&output);
    assert_eq!(output.status.code(), Some(2), "{report}");
    assert!(report.contains("invalid value 'meteor'"), "{report}");
    assert!(report.contains("kill-leader"), "{report}");
}

#[test]
fn a_cluster_that_cannot_form_is_a_clear_error_and_leaves_nothing_behind() {
    let _turn = one_at_a_time();
    // `false` exits at once: no server ever answers.
    let mut args = vec![
        "--senate-bin",
        "/bin/false",
        "--runs",
        "1",
        "--duration",
        "5s",
    ];
    if !namespaces_available() {
        args.push("--loopback");
    }
    args.extend(["--nemesis", "kill-leader"]);
    let output = faults(&args);
    let report = text(&output);
    assert_eq!(output.status.code(), Some(2), "{report}");
    assert!(report.contains("the cluster did not form"), "{report}");
    assert!(report.contains("exited"), "{report}");
    assert!(
        leftover_namespaces().is_empty(),
        "{:?}",
        leftover_namespaces()
    );
}
