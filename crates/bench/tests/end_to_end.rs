//! Runs the bench core and the `senate-bench` binary against the in-test fake KV/catalog target.

mod fake_target;

use std::time::Duration;

use fake_target::FakeTarget;
use senate_bench::kv::{Operation, ReadMode};
use senate_bench::load::{self, LoadSpec, RunLimit};
use senate_bench::procfs::AgentProcess;
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
        mode: ReadMode::Default,
        connect_parallelism: 32,
        settle: Duration::from_millis(150),
        timeout: Duration::from_secs(5),
    };
    let me = AgentProcess::new(std::process::id());

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
        .args(["--catalog", "--nodes", "5", "--services-per-node", "2"])
        .args(["--readers", "1", "--catalog-duration", "100ms"])
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
    assert_eq!(
        phases,
        [
            "start",
            "kv-put",
            "kv-get",
            "watch",
            "catalog-register",
            "catalog"
        ]
    );
    assert_eq!(report["catalog"]["register"]["ok"], 10, "{report}");
    assert_eq!(report["catalog"]["deregister"]["ok"], 5, "{report}");
    assert!(fake.keys().is_empty(), "left behind: {:?}", fake.keys());
    assert!(fake.nodes().is_empty(), "left behind: {:?}", fake.nodes());
}

/// Runs the `catalog` subcommand on 20 nodes × 3 services against `fake`.
async fn run_catalog(fake: &FakeTarget, extra: &[&str]) -> std::process::Output {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_senate-bench"))
        .args(["catalog", "--nodes", "20", "--services-per-node", "3"])
        .args([
            "--concurrency",
            "4",
            "--readers",
            "2",
            "--duration",
            "300ms",
        ])
        .args([
            "--addr",
            &fake.url(),
            "--pid",
            &std::process::id().to_string(),
        ])
        .args(extra)
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_registers_reads_whole_bodies_and_deregisters() {
    let fake = FakeTarget::start().await;

    let kept = run_catalog(&fake, &["--json", "--keep"]).await;
    let report: serde_json::Value = serde_json::from_slice(&kept.stdout).unwrap();
    let catalog = &report["catalog"];
    assert_eq!(catalog["register"]["ok"], 60, "{report}");
    assert_eq!(catalog["register"]["errors"], 0, "{report}");
    assert_eq!(catalog["register"]["latency"]["count"], 60, "{report}");
    assert!(catalog["deregister"].is_null(), "{report}");
    assert!(catalog["memory_registered"]["rss_kb"].as_u64() > Some(0));
    assert_eq!(fake.nodes().len(), 20);

    let health_len = fake.health_body("bench-svc-0").len() as u64;
    let services_len = br#"{"bench-svc-0":[],"bench-svc-1":[],"bench-svc-2":[]}"#.len() as u64;
    let endpoints = [
        ("/v1/health/service/bench-svc-0", health_len),
        ("/v1/catalog/services", services_len),
    ];
    for (read, (endpoint, body_len)) in catalog["reads"].as_array().unwrap().iter().zip(endpoints) {
        assert_eq!(read["endpoint"], endpoint, "{report}");
        assert_eq!(read["concurrency"], 2, "{report}");
        assert_eq!(read["errors"], 0, "{report}");
        let ok = read["ok"].as_u64().unwrap();
        assert!(ok > 0, "{report}");
        assert_eq!(read["body_bytes"].as_u64(), Some(ok * body_len), "{report}");
    }
    assert!(health_len > 20 * 100, "20 instances, {health_len} bytes");

    let cleaned = run_catalog(&fake, &[]).await;
    let markdown = String::from_utf8_lossy(&cleaned.stdout);
    assert!(markdown.contains("### Catalog"), "{markdown}");
    assert!(markdown.contains("| register | 4 | 60 | 0 |"), "{markdown}");
    assert!(
        markdown.contains("| deregister | 4 | 20 | 0 |"),
        "{markdown}"
    );
    assert!(
        markdown.contains("| `GET /v1/health/service/bench-svc-0` | 2 |"),
        "{markdown}"
    );
    assert!(
        markdown.contains("bytes per service instance"),
        "{markdown}"
    );
    assert!(fake.nodes().is_empty(), "left behind: {:?}", fake.nodes());
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

    for sub in ["kv-put", "kv-get", "watch", "catalog", "all", "cluster"] {
        let help = tokio::process::Command::new(env!("CARGO_BIN_EXE_senate-bench"))
            .args([sub, "--help"])
            .output()
            .await
            .unwrap();
        assert!(help.status.success(), "{sub} --help failed");
        assert!(String::from_utf8_lossy(&help.stdout).contains("--addr"));
    }
}
