//! Serves the router over HTTP/1.1 connections from the listener, one task per connection, until
//! shutdown. A plain HTTP/1.1 connection (no protocol sniffing or upgrade support) keeps the cost
//! of each idle or long-polling client low.

use crate::listener::LimitedListener;
use axum::serve::Listener;
use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
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
        let service = TowerToHyperService::new(router.clone());
        tokio::spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            if let Err(error) = connection.await {
                tracing::debug!(%error, "HTTP connection ended with an error");
            }
        });
    }
}
