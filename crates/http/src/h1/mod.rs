//! A lean hand-written HTTP/1.1 server connection in front of the axum router: small read
//! buffers released between requests, whole-body request buffering, and responses written with
//! one vectored write where the body's size is known.

mod chunked;
mod connection;
mod head;
mod response;

pub use connection::serve_connection;
