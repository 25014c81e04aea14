//! Runs real checks against real targets started in the test: TTL timers, shell scripts, a tiny
//! HTTP/HTTPS server and TCP listeners, and watches what the runner reports.

use senate_agent::checks::{
    CheckKind, CheckRunner, CheckSpec, HttpCheck, RunnerError, ScriptCheck, ScriptCommand,
    StatusSink, TcpCheck, Thresholds,
};
use senate_types::catalog::CheckStatus;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

const INTERVAL: Duration = Duration::from_millis(100);
const WAIT: Duration = Duration::from_secs(5);

/// Remembers every update the runner sends.
#[derive(Default)]
struct Recorder {
    updates: Mutex<Vec<Update>>,
}

#[derive(Clone, Debug, PartialEq)]
struct Update {
    check_id: String,
    status: CheckStatus,
    output: String,
}

impl StatusSink for Recorder {
    fn check_updated(&self, check_id: &str, status: CheckStatus, output: &str) {
        self.updates.lock().unwrap().push(Update {
            check_id: check_id.to_string(),
            status,
            output: output.to_string(),
        });
    }
}

impl Recorder {
    fn of(&self, check_id: &str) -> Vec<Update> {
        let updates = self.updates.lock().unwrap();
        updates
            .iter()
            .filter(|update| update.check_id == check_id)
            .cloned()
            .collect()
    }

    /// Waits until the check's latest update satisfies `accept`, and returns it.
    async fn wait_for(&self, check_id: &str, accept: impl Fn(&Update) -> bool) -> Update {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(update) = self.of(check_id).last().filter(|update| accept(update)) {
                return update.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no matching update for {check_id}; got {:?}",
                self.of(check_id)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn wait_for_status(&self, check_id: &str, status: CheckStatus) -> Update {
        self.wait_for(check_id, |update| update.status == status)
            .await
    }
}

fn runner() -> (CheckRunner, Arc<Recorder>) {
    let recorder = Arc::new(Recorder::default());
    (CheckRunner::new(recorder.clone()), recorder)
}

fn spec(id: &str, kind: CheckKind) -> CheckSpec {
    CheckSpec {
        id: id.to_string(),
        name: id.to_string(),
        notes: String::new(),
        service_id: None,
        initial_status: CheckStatus::Critical,
        kind,
        deregister_critical_after: None,
        output_max_size: 4096,
        thresholds: Thresholds::default(),
    }
}

fn ttl(id: &str, ttl: Duration) -> CheckSpec {
    spec(id, CheckKind::Ttl { ttl })
}

fn shell(id: &str, line: &str, timeout: Duration) -> CheckSpec {
    spec(
        id,
        CheckKind::Script(ScriptCheck {
            command: ScriptCommand::Shell(line.to_string()),
            interval: INTERVAL,
            timeout,
        }),
    )
}

fn http(url: String) -> HttpCheck {
    HttpCheck {
        url,
        method: "GET".to_string(),
        headers: BTreeMap::new(),
        body: String::new(),
        interval: INTERVAL,
        timeout: Duration::from_secs(2),
        tls_skip_verify: false,
        tls_server_name: None,
        disable_redirects: false,
    }
}

fn tcp(id: &str, address: String) -> CheckSpec {
    spec(
        id,
        CheckKind::Tcp(TcpCheck {
            address,
            interval: INTERVAL,
            timeout: Duration::from_secs(2),
        }),
    )
}

#[tokio::test]
async fn ttl_check_lapses_to_critical_keeping_the_last_output() {
    let (runner, recorder) = runner();
    runner.start(&ttl("ttl", Duration::from_millis(300)));
    runner
        .update_ttl("ttl", CheckStatus::Passing, "all fine")
        .unwrap();
    assert_eq!(
        recorder.of("ttl")[0],
        Update {
            check_id: "ttl".into(),
            status: CheckStatus::Passing,
            output: "all fine".into()
        }
    );
    assert_eq!(runner.critical_since("ttl"), None);
    let expired = recorder.wait_for_status("ttl", CheckStatus::Critical).await;
    assert_eq!(
        expired.output,
        "TTL expired (last output before timeout follows): all fine"
    );
    assert!(runner.critical_since("ttl").is_some());
}

#[tokio::test]
async fn ttl_updates_keep_the_check_alive() {
    let (runner, recorder) = runner();
    runner.start(&ttl("kept", Duration::from_secs(1)));
    for _ in 0..12 {
        runner.update_ttl("kept", CheckStatus::Warning, "").unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let updates = recorder.of("kept");
    assert_eq!(
        updates.len(),
        1,
        "only the first, unchanged update: {updates:?}"
    );
    let expired = recorder
        .wait_for_status("kept", CheckStatus::Critical)
        .await;
    assert_eq!(expired.output, "TTL expired");
    runner
        .update_ttl("kept", CheckStatus::Passing, "back")
        .unwrap();
    recorder.wait_for_status("kept", CheckStatus::Passing).await;
}

#[tokio::test]
async fn ttl_updates_refuse_unknown_and_probed_checks() {
    let (runner, _recorder) = runner();
    let error = runner
        .update_ttl("missing", CheckStatus::Passing, "")
        .unwrap_err();
    assert_eq!(error, RunnerError::UnknownCheck("missing".into()));
    assert_eq!(
        error.to_string(),
        "Unknown check ID \"missing\". Ensure that the check ID is passed, not the check name."
    );
    runner.start(&tcp("probed", "127.0.0.1:9".into()));
    let error = runner
        .update_ttl("probed", CheckStatus::Passing, "")
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "CheckID \"probed\" does not have associated TTL"
    );
}

#[tokio::test]
async fn ttl_output_is_cut_to_the_maximum() {
    let (runner, recorder) = runner();
    let mut spec = ttl("long", Duration::from_secs(30));
    spec.output_max_size = 5;
    runner.start(&spec);
    runner
        .update_ttl("long", CheckStatus::Passing, "0123456789")
        .unwrap();
    assert_eq!(
        recorder.of("long")[0].output,
        "01234 ... (captured 5 of 10 bytes)"
    );
}

#[tokio::test]
async fn critical_checks_are_flagged_after_their_deregister_limit() {
    let (runner, _recorder) = runner();
    let mut lapsing = ttl("lapsing", Duration::from_secs(30));
    lapsing.deregister_critical_after = Some(Duration::from_millis(500));
    runner.start(&lapsing);
    let mut healthy = ttl("healthy", Duration::from_secs(30));
    healthy.deregister_critical_after = Some(Duration::from_millis(500));
    healthy.initial_status = CheckStatus::Passing;
    runner.start(&healthy);
    assert!(runner.critical_too_long().is_empty());
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(runner.critical_too_long(), vec!["lapsing".to_string()]);
    runner
        .update_ttl("lapsing", CheckStatus::Passing, "")
        .unwrap();
    assert!(runner.critical_too_long().is_empty());
}

#[tokio::test]
async fn script_exit_codes_map_to_statuses() {
    let (runner, recorder) = runner();
    let timeout = Duration::from_secs(5);
    runner.start(&shell("zero", "exit 0", timeout));
    runner.start(&shell("one", "echo careful; exit 1", timeout));
    runner.start(&shell("two", "echo broken >&2; exit 2", timeout));
    let mut args = shell("args", "", timeout);
    args.kind = CheckKind::Script(ScriptCheck {
        command: ScriptCommand::Args(vec!["/bin/sh".into(), "-c".into(), "echo via args".into()]),
        interval: INTERVAL,
        timeout,
    });
    runner.start(&args);
    let zero = recorder.wait_for_status("zero", CheckStatus::Passing).await;
    assert_eq!(zero.output, "");
    let one = recorder.wait_for_status("one", CheckStatus::Warning).await;
    assert_eq!(one.output, "careful\n");
    let two = recorder.wait_for_status("two", CheckStatus::Critical).await;
    assert_eq!(two.output, "broken\n");
    let args = recorder.wait_for_status("args", CheckStatus::Passing).await;
    assert_eq!(args.output, "via args\n");
}

#[tokio::test]
async fn missing_program_is_critical() {
    let (runner, recorder) = runner();
    let mut missing = shell("missing", "", Duration::from_secs(5));
    missing.kind = CheckKind::Script(ScriptCheck {
        command: ScriptCommand::Args(vec!["/nonexistent/senate-check".into()]),
        interval: INTERVAL,
        timeout: Duration::from_secs(5),
    });
    runner.start(&missing);
    let update = recorder
        .wait_for_status("missing", CheckStatus::Critical)
        .await;
    assert!(
        update.output.contains("/nonexistent/senate-check"),
        "{update:?}"
    );
}

#[tokio::test]
async fn script_timeout_kills_the_process_group() {
    let (runner, recorder) = runner();
    let pid_file = std::env::temp_dir().join(format!("senate-check-{}.pid", std::process::id()));
    let line = format!(
        "sleep 30 & echo $! > {}; echo started; wait",
        pid_file.display()
    );
    runner.start(&shell("slow", &line, Duration::from_millis(300)));
    let update = recorder
        .wait_for_status("slow", CheckStatus::Critical)
        .await;
    assert!(
        update
            .output
            .starts_with("Timed out (300ms) running check\n\nstarted"),
        "{update:?}"
    );
    runner.stop("slow");
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    let _ = std::fs::remove_file(&pid_file);
    let deadline = Instant::now() + WAIT;
    while process_alive(pid.trim()) {
        assert!(Instant::now() < deadline, "background sleep {pid} survived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether a process exists and is not a zombie.
fn process_alive(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

#[tokio::test]
async fn script_output_is_capped_with_a_note() {
    let (runner, recorder) = runner();
    let mut chatty = shell(
        "chatty",
        "head -c 10000 /dev/zero | tr '\\0' x",
        Duration::from_secs(5),
    );
    chatty.output_max_size = 100;
    runner.start(&chatty);
    let update = recorder
        .wait_for_status("chatty", CheckStatus::Passing)
        .await;
    assert_eq!(
        update.output,
        format!("Captured 100 of 10000 bytes\n...\n{}", "x".repeat(100))
    );
}

#[tokio::test]
async fn unchanged_results_are_reported_once_and_stop_silences() {
    let (runner, recorder) = runner();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    runner.start(&tcp("steady", address.clone()));
    let update = recorder
        .wait_for_status("steady", CheckStatus::Passing)
        .await;
    assert_eq!(update.output, format!("TCP connect {address}: Success"));
    tokio::time::sleep(INTERVAL * 5).await;
    assert_eq!(recorder.of("steady").len(), 1);
    assert!(runner.stop("steady"));
    assert!(!runner.stop("steady"));
    drop(listener);
    tokio::time::sleep(INTERVAL * 4).await;
    assert_eq!(recorder.of("steady").len(), 1);
}

#[tokio::test]
async fn tcp_check_on_a_closed_port_is_critical() {
    let (runner, recorder) = runner();
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().to_string()
    };
    runner.start(&tcp("closed", closed.clone()));
    let update = recorder
        .wait_for_status("closed", CheckStatus::Critical)
        .await;
    assert_eq!(
        update.output,
        format!("dial tcp {closed}: connect: connection refused")
    );
}

#[tokio::test]
async fn restarting_a_check_replaces_it() {
    let (runner, recorder) = runner();
    runner.start(&shell("swap", "exit 2", Duration::from_secs(5)));
    recorder
        .wait_for_status("swap", CheckStatus::Critical)
        .await;
    runner.start(&shell("swap", "exit 0", Duration::from_secs(5)));
    recorder.wait_for_status("swap", CheckStatus::Passing).await;
    tokio::time::sleep(INTERVAL * 3).await;
    assert_eq!(
        recorder.of("swap").last().unwrap().status,
        CheckStatus::Passing
    );
    runner.stop_all();
    assert!(!runner.stop("swap"));
}

/// Serves the test routes over plain HTTP and returns the server's base URL.
async fn http_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream));
        }
    });
    base
}

/// Answers one request: `/ok` 200, `/busy` 429, `/fail` 500, `/moved` a redirect to `/ok`,
/// `/echo` 200 with the request itself as the body, `/hang` never.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S) {
    let request = read_request(&mut stream).await;
    let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
    let (status, extra, body) = match path.as_str() {
        "/ok" => ("200 OK", "", "all good".to_string()),
        "/busy" => ("429 Too Many Requests", "", "slow down".to_string()),
        "/fail" => ("500 Internal Server Error", "", "oops".to_string()),
        "/moved" => ("302 Found", "Location: /ok\r\n", String::new()),
        "/echo" => ("200 OK", "", request),
        _ => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            return;
        }
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// Reads a request's head and its `Content-Length` body.
async fn read_request<S: AsyncRead + Unpin>(stream: &mut S) -> String {
    let mut data = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let text = String::from_utf8_lossy(&data).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if body.len() >= length {
                return text;
            }
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return text,
            Ok(read) => data.extend_from_slice(&chunk[..read]),
        }
    }
}

#[tokio::test]
async fn http_status_codes_map_to_statuses() {
    let (runner, recorder) = runner();
    let base = http_server().await;
    for (id, path) in [("ok", "/ok"), ("busy", "/busy"), ("fail", "/fail")] {
        runner.start(&spec(id, CheckKind::Http(http(format!("{base}{path}")))));
    }
    let ok = recorder.wait_for_status("ok", CheckStatus::Passing).await;
    assert_eq!(
        ok.output,
        format!("HTTP GET {base}/ok: 200 OK Output: all good")
    );
    let busy = recorder.wait_for_status("busy", CheckStatus::Warning).await;
    assert_eq!(
        busy.output,
        format!("HTTP GET {base}/busy: 429 Too Many Requests Output: slow down")
    );
    let fail = recorder
        .wait_for_status("fail", CheckStatus::Critical)
        .await;
    assert_eq!(
        fail.output,
        format!("HTTP GET {base}/fail: 500 Internal Server Error Output: oops")
    );
}

#[tokio::test]
async fn http_check_sends_method_headers_and_body() {
    let (runner, recorder) = runner();
    let base = http_server().await;
    let mut check = http(format!("{base}/echo"));
    check.method = "PUT".into();
    check.body = "payload".into();
    check
        .headers
        .insert("X-Probe".into(), vec!["one".into(), "two".into()]);
    runner.start(&spec("echo", CheckKind::Http(check)));
    let update = recorder.wait_for_status("echo", CheckStatus::Passing).await;
    let echoed = update.output.to_ascii_lowercase();
    assert!(echoed.contains("put /echo http/1.1"), "{echoed}");
    assert!(echoed.contains("x-probe: one"), "{echoed}");
    assert!(echoed.contains("x-probe: two"), "{echoed}");
    assert!(
        echoed.contains("user-agent: consul health check"),
        "{echoed}"
    );
    assert!(echoed.ends_with("payload"), "{echoed}");
}

#[tokio::test]
async fn http_check_follows_redirects_unless_told_not_to() {
    let (runner, recorder) = runner();
    let base = http_server().await;
    runner.start(&spec(
        "follow",
        CheckKind::Http(http(format!("{base}/moved"))),
    ));
    let mut stay = http(format!("{base}/moved"));
    stay.disable_redirects = true;
    runner.start(&spec("stay", CheckKind::Http(stay)));
    let followed = recorder
        .wait_for_status("follow", CheckStatus::Passing)
        .await;
    assert_eq!(
        followed.output,
        format!("HTTP GET {base}/moved: 200 OK Output: all good")
    );
    let stayed = recorder
        .wait_for_status("stay", CheckStatus::Critical)
        .await;
    assert!(stayed.output.contains("302 Found"), "{stayed:?}");
}

#[tokio::test]
async fn http_failures_are_critical() {
    let (runner, recorder) = runner();
    let base = http_server().await;
    let mut hang = http(format!("{base}/hang"));
    hang.timeout = Duration::from_millis(300);
    runner.start(&spec("hang", CheckKind::Http(hang)));
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().to_string()
    };
    runner.start(&spec(
        "refused",
        CheckKind::Http(http(format!("http://{closed}/"))),
    ));
    runner.start(&spec(
        "scheme",
        CheckKind::Http(http("ftp://127.0.0.1/".into())),
    ));
    let hang = recorder
        .wait_for_status("hang", CheckStatus::Critical)
        .await;
    assert!(hang.output.contains("Client.Timeout exceeded"), "{hang:?}");
    let refused = recorder
        .wait_for_status("refused", CheckStatus::Critical)
        .await;
    assert_eq!(
        refused.output,
        format!("Get \"http://{closed}/\": dial tcp {closed}: connect: connection refused")
    );
    let scheme = recorder
        .wait_for_status("scheme", CheckStatus::Critical)
        .await;
    assert_eq!(
        scheme.output,
        "Get \"ftp://127.0.0.1/\": unsupported protocol scheme \"ftp\""
    );
}

/// A self-signed certificate for `localhost` and 127.0.0.1, made for this test only.
const TEST_CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBmzCCAUGgAwIBAgIUJ+joh6IYwDWHELjHVHhyLTOUDr8wCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyMjA3MjM1NVoYDzIxMjYxMDI5
MDcyMzU1WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAAT49YXMraqkUaaZ6jg+mr3efBngHEMV7JDWLlMhttep2OMUB8dc/8EI
C8BpXUy8zEs9MdJGU+5fOvOpO4AupUiUo28wbTAdBgNVHQ4EFgQU+hi3lVNpvRf2
klTx6fHIoOBBGN0wHwYDVR0jBBgwFoAU+hi3lVNpvRf2klTx6fHIoOBBGN0wDwYD
VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEwCgYIKoZI
zj0EAwIDSAAwRQIhAMHG5t7RF3/6uVTvDfD8I41/QOb0n8O/1wTVTk6BNi3FAiBI
a0ok7vWlpvBuqT/EScm6odMDShUeskG7Vr0raNBqqA==
-----END CERTIFICATE-----
";

/// The private key of [`TEST_CERT`]; it protects nothing.
const TEST_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgbd2MjpcFjzSdh/Pd
MZH48n5oScD1U3hXJJXGqwA8u2+hRANCAAT49YXMraqkUaaZ6jg+mr3efBngHEMV
7JDWLlMhttep2OMUB8dc/8EIC8BpXUy8zEs9MdJGU+5fOvOpO4AupUiU
-----END PRIVATE KEY-----
";

/// Serves the test routes over HTTPS with [`TEST_CERT`] and returns the server's base URL.
async fn https_server() -> String {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let provider = Arc::new(rustls_rustcrypto::provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from_pem_slice(TEST_CERT.as_bytes()).unwrap()],
            PrivateKeyDer::from_pem_slice(TEST_KEY.as_bytes()).unwrap(),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!(
        "https://localhost:{}",
        listener.local_addr().unwrap().port()
    );
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(stream) = acceptor.accept(stream).await {
                    serve(stream).await;
                }
            });
        }
    });
    base
}

#[tokio::test]
async fn https_checks_verify_certificates_unless_told_not_to() {
    let (runner, recorder) = runner();
    let base = https_server().await;
    let mut trusting = http(format!("{base}/ok"));
    trusting.tls_skip_verify = true;
    runner.start(&spec("trusting", CheckKind::Http(trusting)));
    runner.start(&spec(
        "verifying",
        CheckKind::Http(http(format!("{base}/ok"))),
    ));
    let trusted = recorder
        .wait_for_status("trusting", CheckStatus::Passing)
        .await;
    assert_eq!(
        trusted.output,
        format!("HTTP GET {base}/ok: 200 OK Output: all good")
    );
    let refused = recorder
        .wait_for_status("verifying", CheckStatus::Critical)
        .await;
    assert!(refused.output.contains("certificate"), "{refused:?}");
}
