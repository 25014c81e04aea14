//! Serves the router over HTTP/1.1 connections from the listener, one task per connection, until
//! shutdown. Each connection runs Senate's own lean HTTP/1.1 loop ([`crate::h1`]), which keeps
//! the cost of each idle or long-polling client low.

use crate::listener::LimitedListener;
use axum::serve::Listener;
use axum::Router;
use std::future::Future;

/// Accepts connections and serves `router` on each, until `shutdown` completes.
pub async fn serve(
    mut listener: LimitedListener,
    router: Router,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => return,
        };
        tokio::spawn(crate::h1::serve_connection(stream, router.clone()));
    }
}
