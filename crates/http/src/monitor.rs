//! `GET /v1/agent/monitor?loglevel=&logjson`: streams this agent's log lines at the level asked
//! for (`info` by default; an unknown level is a 400), as text or (with `logjson`) one JSON
//! object per line, until the client hangs up.

use crate::context::Context;
use crate::error::ApiError;
use crate::query::Params;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, Uri};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use senate_agent::monitor::{parse_level, LogLine, Watch};
use std::convert::Infallible;
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;
use tracing::Level;

/// The monitor route.
pub fn routes() -> Router<Arc<Context>> {
    Router::new().route("/v1/agent/monitor", get(monitor))
}

async fn monitor(State(context): State<Arc<Context>>, uri: Uri) -> Result<Response, ApiError> {
    let params = Params::parse(uri.query());
    let level = match params.get("loglevel").filter(|l| !l.is_empty()) {
        None => Level::INFO,
        Some(text) => parse_level(text)
            .ok_or_else(|| ApiError::bad_request(format!("Unknown log level: {text}")))?,
    };
    let render = if params.has("logjson") {
        LogLine::json
    } else {
        LogLine::text
    };
    let watch = context.logs.watch(level);
    let lines = futures::stream::unfold((watch, render), next_line);
    let mut response = Response::new(Body::from_stream(lines));
    response.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Ok(response)
}

/// The next line for the watcher, newline-terminated; a watcher that fell behind is told how
/// many lines it missed.
async fn next_line(
    (mut watch, render): (Watch, Render),
) -> Option<(Result<Bytes, Infallible>, (Watch, Render))> {
    let text = match watch.lines.recv().await {
        Ok(line) => format!("{}\n", render(&line)),
        Err(RecvError::Lagged(missed)) => format!("[monitor] {missed} log lines were dropped\n"),
        Err(RecvError::Closed) => return None,
    };
    Some((Ok(Bytes::from(text)), (watch, render)))
}

/// How a watcher wants its lines.
type Render = fn(&LogLine) -> String;
