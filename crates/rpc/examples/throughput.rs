//! Measures small request/response round trips per second over loopback: one server and one
//! client (one multiplexed connection) in this process, `CONCURRENCY` callers in a loop.
//!
//! ```sh
//! cargo run --release -p senate-rpc --example throughput -- [concurrency] [seconds] [payload bytes]
//! ```

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::FutureExt;
use senate_rpc::{ClientOptions, Handler, Kind, RpcClient, RpcServer};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Echo;

impl Handler for Echo {
    fn handle(&self, _kind: Kind, payload: Bytes) -> BoxFuture<'static, Result<Bytes, String>> {
        async move { Ok(payload) }.boxed()
    }
}

fn argument(index: usize, default: u64) -> u64 {
    std::env::args()
        .nth(index)
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let concurrency = argument(1, 64);
    let seconds = argument(2, 5);
    let payload = Bytes::from(vec![7u8; argument(3, 64) as usize]);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?.to_string();
    tokio::spawn(RpcServer::serve(
        listener,
        Arc::new(Echo),
        std::future::pending(),
    ));

    let client = RpcClient::new(ClientOptions::default());
    client
        .call(&address, 1, payload.clone(), Duration::from_secs(5))
        .await?;

    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let callers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, address, payload) = (client.clone(), address.clone(), payload.clone());
            let (done, failed, stop) = (done.clone(), failed.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let reply = client.call(&address, 1, payload.clone(), Duration::from_secs(5));
                    match reply.await {
                        Ok(_) => done.fetch_add(1, Ordering::Relaxed),
                        Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();

    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let calls = done.load(Ordering::Relaxed);
    for caller in callers {
        caller.await?;
    }
    println!(
        "concurrency {concurrency}, payload {} B: {calls} calls in {elapsed:.1}s = {:.0} calls/s ({} failed)",
        payload.len(),
        calls as f64 / elapsed,
        failed.load(Ordering::Relaxed)
    );
    Ok(())
}
