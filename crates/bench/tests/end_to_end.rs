//! Runs the bench core and the `senate-bench` binary against the in-test fake KV target.

mod fake_target;

use std::time::Duration;

use fake_target::FakeTarget;
use senate_bench::kv::{Operation, ReadMode};
use senate_bench::load::{self, LoadSpec, RunLimit};
use senate_bench::procfs::ServerProcess;
use senate_bench::target::Target;
use senate_bench::watch::{self, WatchSpec};

fn load_spec(limit: RunLimit) -> LoadSpec {
    LoadSpec {
        limit,
        keys: 20,
        request_timeout: Duration::from_secs(5),
        connect_parallelism: 8,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_levels_count_every_request() {
    let fake = FakeTarget::start().await;
    let target = Target::resolve(&fake.url(), false).unwrap();
    let spec = load_spec(RunLimit::Requests(120));

    let put = load::run_level(&target, &Operation::put_of_size(64), &spec, 4)
        .await
        .unwrap();
    assert_eq!((put.ok, put.errors), (120, 0), "{put:?}");
    assert_eq!(put.latency.count, 120);
    assert!(put.latency.p50_us <= put.latency.p99_us && put.latency.p99_us <= put.latency.max_us);

    load::populate(&target, 16, &spec).await.unwrap();
    for mode in [ReadMode::Default, ReadMode::Stale, ReadMode::Consistent] {
        let get = load::run_level(&target, &Operation::Get { mode }, &spec, 3)
            .await
            .unwrap();
        assert_eq!((get.ok, get.errors), (120, 0), "{mode}: {get:?}");
    }

    let timed = load::run_level(
        &target,
        &Operation::put_of_size(8),
        &load_spec(RunLimit::Time(Duration::from_millis(300))),
        2,
    )
    .await
    .unwrap();
    assert!(timed.ok > 0 && timed.errors == 0, "{timed:?}");
    assert!(timed.elapsed_secs < 2.0, "{timed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_park_and_all_release_after_one_put() {
    let fake = FakeTarget::start().await;
    let target = Target::resolve(&fake.url(), false).unwrap();
    let spec = WatchSpec {
        watchers: 200,
        connect_parallelism: 32,
        settle: Duration::from_millis(150),
        timeout: Duration::from_secs(5),
    };
    let me = ServerProcess::new(std::process::id());

    let report = watch::run_watch(&target, &spec, Some(&me)).await.unwrap();

    assert_eq!(report.connect_failures, 0, "{report:?}");
    assert_eq!(report.parked, 200, "{report:?}");
    assert!(report.parked_verified, "{report:?}");
    assert_eq!(report.early_returns, 0, "{report:?}");
    assert_eq!(report.released, 200, "{report:?}");
    assert_eq!((report.failed, report.not_released), (0, 0), "{report:?}");
    assert_eq!(report.release.count, 200);
    assert!(report.release.max_us < 5_000_000, "{report:?}");
    assert!(report.memory_parked.is_some() && report.rss_per_watcher_bytes.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_all_prints_json_and_cleans_up() {
    let fake = FakeTarget::start().await;
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_senate-bench"))
        .args(["all", "--json", "--requests", "60", "--concurrency", "1,4"])
        .args(["--keys", "10", "--value-size", "32", "--watchers", "50"])
        .args([
            "--settle",
            "100ms",
            "--watch-timeout",
            "5s",
            "--addr",
            &fake.url(),
        ])
        .args(["--server-pid", &std::process::id().to_string()])
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "stderr: {stderr}");

    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["kv_put"].as_array().unwrap().len(), 2, "{report}");
    assert_eq!(report["kv_get"].as_array().unwrap().len(), 6, "{report}");
    assert_eq!(report["kv_get"][5]["mode"], "consistent");
    assert_eq!(report["kv_put"][1]["ok"], 60);
    assert_eq!(report["watch"]["released"], 50, "{report}");
    let phases: Vec<&str> = report["memory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["phase"].as_str().unwrap())
        .collect();
    assert_eq!(phases, ["start", "kv-put", "kv-get", "watch"]);
    assert!(fake.keys().is_empty(), "left behind: {:?}", fake.keys());
}

#[tokio::test]
async fn binary_markdown_report_and_help() {
    let fake = FakeTarget::start().await;
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_senate-bench"))
        .args(["kv-put", "--requests", "20", "--concurrency", "2", "--keep"])
        .env("CONSUL_HTTP_ADDR", fake.addr.to_string())
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let markdown = String::from_utf8_lossy(&output.stdout);
    assert!(markdown.contains("### KV PUT"), "{markdown}");
    assert!(markdown.contains("| 2 | 20 | 0 |"), "{markdown}");
    assert_eq!(fake.keys().len(), 20);

    for sub in ["kv-put", "kv-get", "watch", "all"] {
        let help = tokio::process::Command::new(env!("CARGO_BIN_EXE_senate-bench"))
            .args([sub, "--help"])
            .output()
            .await
            .unwrap();
        assert!(help.status.success(), "{sub} --help failed");
        assert!(String::from_utf8_lossy(&help.stdout).contains("--addr"));
    }
}
