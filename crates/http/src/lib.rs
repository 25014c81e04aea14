//! Senate's HTTP API, Consul's `/v1/...` endpoints over axum.
//!
//! A request passes through [`forward`] (to the leader when only it may answer), then
//! [`query`] (dc, consistency, index/wait, pretty); its endpoint module reads the store through
//! [`blocking`] or writes through the cluster seam, and answers
//! through [`reply`] (JSON plus the `X-Consul-*` headers) or [`error::ApiError`].

pub mod agent;
pub mod agent_local;
pub mod blocking;
pub mod body;
pub mod catalog;
pub mod context;
pub mod error;
pub mod event;
pub mod filters;
pub mod forward;
pub mod h1;
pub mod health;
pub mod kv;
pub mod listener;
pub mod operator;
pub mod query;
pub mod reply;
pub mod response_cache;
pub mod serve;
pub mod session;
pub mod status;

pub use context::Context;

use axum::Router;
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
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            context.clone(),
            forward::to_leader,
        ))
        .with_state(context)
}
