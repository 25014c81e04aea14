//! End-to-end tests of the RPC transport: a real server and client over 127.0.0.1, plus raw TCP
//! peers that misbehave on purpose.

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::FutureExt;
use senate_rpc::frame::{FrameReader, FrameType};
use senate_rpc::{ClientOptions, Handler, Kind, RpcClient, RpcError, RpcServer, ServerOptions};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const ECHO: Kind = 1;
const NEVER: Kind = 2;
const FAIL: Kind = 3;
const PANIC: Kind = 4;

const LONG: Duration = Duration::from_secs(10);

struct TestHandler;

impl Handler for TestHandler {
    fn handle(&self, kind: Kind, payload: Bytes) -> BoxFuture<'static, Result<Bytes, String>> {
        async move {
            match kind {
                ECHO => Ok(payload),
                NEVER => std::future::pending().await,
                FAIL => Err(format!("no good: {}", String::from_utf8_lossy(&payload))),
                PANIC => panic!("handler blew up"),
                other => Err(format!("unknown kind {other}")),
            }
        }
        .boxed()
    }
}

struct Server {
    address: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Server {
    async fn start() -> Server {
        Server::on(TcpListener::bind("127.0.0.1:0").await.unwrap())
    }

    fn on(listener: TcpListener) -> Server {
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let task = tokio::spawn(RpcServer::serve(listener, Arc::new(TestHandler), shutdown));
        Server {
            address,
            stop,
            task,
        }
    }

    fn addr(&self) -> String {
        self.address.to_string()
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .expect("server stops promptly")
            .unwrap();
    }
}

fn client() -> RpcClient {
    RpcClient::new(ClientOptions::default())
}

async fn echo(client: &RpcClient, address: &str, text: &'static str) -> Result<Bytes, RpcError> {
    client
        .call(address, ECHO, Bytes::from_static(text.as_bytes()), LONG)
        .await
}

/// Waits (briefly) until the client has exactly `count` calls in flight.
async fn until_in_flight(client: &RpcClient, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while client.in_flight() != count {
        assert!(
            Instant::now() < deadline,
            "in_flight stuck at {}",
            client.in_flight()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Reads whatever the server sends until it closes; panics if it does not close in time.
async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(3), async {
        let mut chunk = [0u8; 4096];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "server did not close the connection");
    received
}

#[tokio::test]
async fn echo_round_trip() {
    let server = Server::start().await;
    let client = client();
    assert_eq!(
        echo(&client, &server.addr(), "hello").await.unwrap(),
        "hello"
    );
    let empty = client.call(&server.addr(), ECHO, Bytes::new(), LONG).await;
    assert!(empty.unwrap().is_empty());
    server.stop().await;
}

#[tokio::test]
async fn large_payload_round_trip() {
    let server = Server::start().await;
    let payload = Bytes::from((0..3_000_000u32).map(|i| i as u8).collect::<Vec<_>>());
    let reply = client()
        .call(&server.addr(), ECHO, payload.clone(), LONG)
        .await;
    assert_eq!(reply.unwrap(), payload);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_concurrent_calls_on_one_connection() {
    let server = Server::start().await;
    let client = client();
    let calls = (0..1000u32).map(|i| {
        let client = client.clone();
        let address = server.addr();
        tokio::spawn(async move {
            let payload = Bytes::from(i.to_be_bytes().to_vec());
            let reply = client.call(&address, ECHO, payload.clone(), LONG).await;
            assert_eq!(reply.unwrap(), payload);
        })
    });
    for call in futures::future::join_all(calls).await {
        call.unwrap();
    }
    assert_eq!(client.in_flight(), 0);
    server.stop().await;
}

#[tokio::test]
async fn slow_call_does_not_delay_a_fast_one() {
    let server = Server::start().await;
    let client = client();
    let parked = {
        let (client, address) = (client.clone(), server.addr());
        tokio::spawn(async move { client.call(&address, NEVER, Bytes::new(), LONG).await })
    };
    until_in_flight(&client, 1).await;
    let started = Instant::now();
    assert_eq!(
        echo(&client, &server.addr(), "quick").await.unwrap(),
        "quick"
    );
    assert!(started.elapsed() < Duration::from_millis(500));
    assert!(!parked.is_finished());
    parked.abort();
    server.stop().await;
}

#[tokio::test]
async fn per_call_timeout_fires() {
    let server = Server::start().await;
    let client = client();
    let started = Instant::now();
    let timeout = Duration::from_millis(200);
    let result = client
        .call(&server.addr(), NEVER, Bytes::new(), timeout)
        .await;
    let elapsed = started.elapsed();
    assert!(
        matches!(result, Err(RpcError::Timeout { after, .. }) if after == timeout),
        "{result:?}"
    );
    assert!(
        elapsed >= timeout && elapsed < Duration::from_secs(2),
        "{elapsed:?}"
    );
    assert_eq!(client.in_flight(), 0);
    assert_eq!(
        echo(&client, &server.addr(), "still fine").await.unwrap(),
        "still fine"
    );
    server.stop().await;
}

#[tokio::test]
async fn closed_port_is_unreachable_quickly() {
    let address = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().to_string()
    };
    let started = Instant::now();
    let result = echo(&client(), &address, "anyone?").await;
    assert!(
        matches!(result, Err(RpcError::Unreachable { .. })),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn server_killed_mid_call_then_restarted() {
    let server = Server::start().await;
    let address = server.addr();
    let client = client();
    let parked = {
        let (client, address) = (client.clone(), address.clone());
        tokio::spawn(async move { client.call(&address, NEVER, Bytes::new(), LONG).await })
    };
    until_in_flight(&client, 1).await;
    let started = Instant::now();
    server.stop().await;
    let result = parked.await.unwrap();
    assert!(
        matches!(result, Err(RpcError::ConnectionLost { .. })),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));

    let restarted = Server::on(TcpListener::bind(&address).await.unwrap());
    assert_eq!(echo(&client, &address, "back").await.unwrap(), "back");
    restarted.stop().await;
}

#[tokio::test]
async fn handler_error_is_remote() {
    let server = Server::start().await;
    let result = client()
        .call(&server.addr(), FAIL, Bytes::from_static(b"x"), LONG)
        .await;
    assert!(
        matches!(&result, Err(RpcError::Remote(text)) if text == "no good: x"),
        "{result:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn handler_panic_is_remote() {
    let server = Server::start().await;
    let client = client();
    let result = client.call(&server.addr(), PANIC, Bytes::new(), LONG).await;
    assert!(
        matches!(&result, Err(RpcError::Remote(text)) if text.contains("panicked")),
        "{result:?}"
    );
    assert_eq!(
        echo(&client, &server.addr(), "alive").await.unwrap(),
        "alive"
    );
    server.stop().await;
}

#[tokio::test]
async fn oversized_request_is_refused_locally() {
    let server = Server::start().await;
    let client = RpcClient::new(ClientOptions {
        max_frame: 1024,
        ..ClientOptions::default()
    });
    let result = client
        .call(&server.addr(), ECHO, Bytes::from(vec![0; 2000]), LONG)
        .await;
    assert!(
        matches!(result, Err(RpcError::FrameTooLarge { max: 1024, .. })),
        "{result:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn server_frame_limit_rejects_with_reason() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let options = ServerOptions { max_frame: 1024 };
    let shutdown = std::future::pending();
    let server = RpcServer::serve_with(listener, Arc::new(TestHandler), options, shutdown);
    let server = tokio::spawn(server);
    let client = client();
    let result = client
        .call(&address, ECHO, Bytes::from(vec![0; 2000]), LONG)
        .await;
    assert!(
        matches!(&result, Err(RpcError::Rejected { reason, .. }) if reason.contains("exceeds")),
        "{result:?}"
    );
    assert_eq!(echo(&client, &address, "small").await.unwrap(), "small");
    server.abort();
}

/// Sends `bytes` from a raw peer, checks the server hangs up on it, and that the server still
/// answers both an established client and a new one. Returns what the server sent the peer.
async fn misbehave(bytes: &[u8]) -> Vec<u8> {
    let server = Server::start().await;
    let established = client();
    assert_eq!(
        echo(&established, &server.addr(), "before").await.unwrap(),
        "before"
    );
    let mut raw = TcpStream::connect(server.address).await.unwrap();
    raw.write_all(bytes).await.unwrap();
    let received = read_until_closed(&mut raw).await;
    assert_eq!(
        echo(&established, &server.addr(), "after").await.unwrap(),
        "after"
    );
    assert_eq!(echo(&client(), &server.addr(), "new").await.unwrap(), "new");
    server.stop().await;
    received
}

/// The text of the goodbye frame in `received`.
async fn goodbye_text(received: &[u8]) -> String {
    let mut reader = FrameReader::new(received, 1 << 20);
    let frame = reader.next().await.unwrap().expect("a goodbye frame");
    assert_eq!(frame.frame_type, FrameType::Goodbye);
    String::from_utf8(frame.payload.to_vec()).unwrap()
}

#[tokio::test]
async fn oversized_frame_closes_only_that_connection() {
    let received = misbehave(&[0xff, 0xff, 0xff, 0xff, 1, 0, 0]).await;
    assert!(goodbye_text(&received).await.contains("exceeds the limit"));
}

#[tokio::test]
async fn garbage_closes_only_that_connection() {
    misbehave(b"GET /v1/kv/x HTTP/1.1\r\nHost: x\r\n\r\n").await;
    misbehave(&[0, 0, 0, 2, 1, 0]).await;
    misbehave(&[0, 0, 0, 11, 1, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0]).await;
    // A response frame sent to a server.
    misbehave(&[0, 0, 0, 11, 1, 1, 0, 0, 0, 0, 0, 0, 0, 5, 0]).await;
}

#[tokio::test]
async fn wrong_version_client_is_told_why() {
    let received = misbehave(&[0, 0, 0, 11, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1]).await;
    let text = goodbye_text(&received).await;
    assert!(text.contains("version 2"), "{text}");
}

/// A raw "server" that answers the first bytes it gets with `reply`, then holds the connection.
async fn raw_server(reply: &'static [u8]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut chunk = [0u8; 64];
        let _ = stream.read(&mut chunk).await;
        let _ = stream.write_all(reply).await;
        tokio::time::sleep(LONG).await;
    });
    address
}

#[tokio::test]
async fn wrong_version_server_is_version_mismatch() {
    let address = raw_server(&[0, 0, 0, 11, 2, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1]).await;
    let result = echo(&client(), &address, "hi").await;
    assert!(
        matches!(result, Err(RpcError::VersionMismatch { theirs: 2, .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn oversized_answer_is_frame_too_large() {
    let address = raw_server(&[0x7f, 0xff, 0xff, 0xff, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1]).await;
    let result = echo(&client(), &address, "hi").await;
    assert!(
        matches!(result, Err(RpcError::FrameTooLarge { .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn dropped_caller_leaves_no_pending_entry() {
    let server = Server::start().await;
    let client = client();
    let parked = {
        let (client, address) = (client.clone(), server.addr());
        tokio::spawn(async move { client.call(&address, NEVER, Bytes::new(), LONG).await })
    };
    until_in_flight(&client, 1).await;
    parked.abort();
    until_in_flight(&client, 0).await;

    let address = server.addr();
    let abandoned = client.call(&address, NEVER, Bytes::new(), LONG);
    assert!(tokio::time::timeout(Duration::from_millis(50), abandoned)
        .await
        .is_err());
    assert_eq!(client.in_flight(), 0);
    server.stop().await;
}

/// A listener that counts connections and never answers.
async fn counting_listener() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            open.push(stream);
        }
    });
    (address, accepted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_calls_share_one_connection_and_forget_drops_it() {
    let (address, accepted) = counting_listener().await;
    let client = client();
    let timeout = Duration::from_millis(300);
    let calls = (0..50).map(|_| {
        let (client, address) = (client.clone(), address.clone());
        tokio::spawn(async move { client.call(&address, ECHO, Bytes::new(), timeout).await })
    });
    for call in futures::future::join_all(calls).await {
        assert!(matches!(call.unwrap(), Err(RpcError::Timeout { .. })));
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1);

    client.forget(&address);
    let again = client.call(&address, ECHO, Bytes::new(), timeout).await;
    assert!(matches!(again, Err(RpcError::Timeout { .. })));
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}
