//! Senate's HTTP API, Consul's `/v1/...` endpoints over axum.
//!
//! A request's endpoint module reads its options through [`query`] (dc, consistency and
//! `max_stale`, index/wait, pretty), then asks the cluster seam (`senate_cluster`) to run a
//! typed read (a `senate_query::Query`) or commit a typed write, here or on the leader, and
//! answers through [`reply`] (JSON plus the `X-Consul-*` headers) or [`error::ApiError`].
//! The operator endpoints, which act on the leader's view of the cluster, are relayed whole to
//! the leader by [`forward`] (and, on a client agent, the status endpoints to a server).

pub mod agent;
pub mod agent_local;
pub mod body;
pub mod catalog;
pub mod context;
pub mod coordinate;
pub mod error;
pub mod event;
pub mod forward;
pub mod h1;
pub mod health;
pub mod keyring;
pub mod kv;
pub mod listener;
pub mod monitor;
pub mod operator;
pub mod query;
pub mod reply;
pub mod serve;
pub mod session;
pub mod status;

pub use context::Context;

pub use axum::Router;
use std::sync::Arc;

/// Every `/v1` route Senate serves.
pub fn router(context: Arc<Context>) -> Router {
    Router::new()
        .merge(kv::routes())
        .merge(session::routes())
        .merge(status::routes())
        .merge(operator::routes())
        .merge(event::routes())
        .merge(agent::routes())
        .merge(agent_local::routes())
        .merge(catalog::routes())
        .merge(health::routes())
        .merge(coordinate::routes())
        .merge(keyring::routes())
        .merge(monitor::routes())
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            context.clone(),
            forward::relay,
        ))
        .with_state(context)
}
