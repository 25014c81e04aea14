//! Network coordinates as HashiCorp Serf computes them, so Senate can serve
//! Consul's `/v1/coordinate/*` endpoints and sort results with `?near=`.
//!
//! Every node keeps a [`Coordinate`]: a point in an 8-dimensional Euclidean
//! space plus a *height* (the latency of its own access link) and an
//! *adjustment* (a correction for what the Euclidean model cannot capture).
//! [`Coordinate::distance_to`] turns two coordinates into an estimated
//! round-trip time without ever measuring it.
//!
//! A node refines its coordinate with a [`Client`], the Vivaldi algorithm:
//! each time it measures an RTT to a peer, [`Client::update`]
//!
//! 1. passes the RTT through that peer's latency filter (the median of the
//!    last few samples, so one slow packet does not matter);
//! 2. moves the coordinate along the line to the peer, as a spring would,
//!    stepping further when the node is less sure of itself than the peer is,
//!    and updates its error estimate;
//! 3. refreshes the adjustment term from a window of recent residuals;
//! 4. pulls the coordinate gently towards the origin (gravity) so the cluster
//!    does not drift.
//!
//! [`Config`] holds the tuning knobs with Serf's defaults, and
//! [`sort_by_distance`] orders anything carrying a coordinate nearest first.
//! Everything here is pure computation: no I/O, no async, no clocks. The one
//! touch of the operating system is [`Client::new`] seeding its random
//! generator; [`Client::with_seed`] avoids even that.
//!
//! Source layout, one job per file: `coordinate.rs` (the type and its distance
//! rule), `client.rs` (the estimator), `config.rs`, `sort.rs`, `error.rs`, and
//! the internal helpers `vector.rs`, `latency_filter.rs` and `adjustment.rs`.
//!
//! ```
//! use std::time::Duration;
//! use senate_coordinate::{sort_by_distance, Client, Config};
//!
//! let mut a = Client::with_seed(Config::default(), 1)?;
//! let b = Client::with_seed(Config::default(), 2)?;
//! a.update("b", b.coordinate(), Duration::from_millis(20))?;
//! assert!(a.coordinate().distance_to(b.coordinate()) > Duration::ZERO);
//!
//! let mut peers = vec![("far", None), ("b", Some(b.coordinate().clone()))];
//! sort_by_distance(a.coordinate(), &mut peers, |(_, c)| c.as_ref());
//! assert_eq!(peers[0].0, "b");
//! # Ok::<(), senate_coordinate::CoordinateError>(())
//! ```

mod adjustment;
mod client;
mod config;
mod coordinate;
mod error;
mod latency_filter;
mod sort;
mod vector;

pub use client::{Client, MAX_RTT};
pub use config::Config;
pub use coordinate::Coordinate;
pub use error::CoordinateError;
pub use sort::{distance_rank, sort_by_distance};
