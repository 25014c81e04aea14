//! The HTTP listener: accepts connections, enforcing Consul's `limits.http_max_conns_per_client`
//! (a client over its limit gets a 429 and is disconnected), and sets TCP_NODELAY.

use axum::serve::Listener;
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

const TOO_MANY_CONNECTIONS: &[u8] = b"HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain\r\nContent-Length: 35\r\nConnection: close\r\n\r\nToo many connections from this IP.\n";

type Counts = Arc<Mutex<HashMap<IpAddr, u32>>>;

/// A TCP listener that caps concurrent connections per client address (0: no cap).
pub struct LimitedListener {
    inner: TcpListener,
    per_client: u32,
    counts: Counts,
}

impl LimitedListener {
    /// Wraps `inner`, allowing each client address at most `per_client` connections at once.
    pub fn new(inner: TcpListener, per_client: u32) -> Self {
        LimitedListener {
            inner,
            per_client,
            counts: Counts::default(),
        }
    }

    /// Counts a new connection from `ip`, unless that would pass the cap.
    fn admit(&self, ip: IpAddr) -> Option<ConnectionSlot> {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let count = counts.entry(ip).or_insert(0);
        if self.per_client > 0 && *count >= self.per_client {
            return None;
        }
        *count += 1;
        Some(ConnectionSlot {
            ip,
            counts: self.counts.clone(),
        })
    }
}

/// One admitted connection's place in its client's count; freed when the connection closes.
struct ConnectionSlot {
    ip: IpAddr,
    counts: Counts,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = counts.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

/// An admitted connection.
pub struct CountedStream {
    stream: TcpStream,
    _slot: ConnectionSlot,
}

impl Listener for LimitedListener {
    type Io = CountedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (mut stream, peer) = match self.inner.accept().await {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accepting an HTTP connection failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Some(slot) = self.admit(peer.ip()) else {
                tracing::warn!(client = %peer.ip(), limit = self.per_client, "client over its connection limit");
                tokio::spawn(async move {
                    let _refused_anyway = stream.write_all(TOO_MANY_CONNECTIONS).await;
                });
                continue;
            };
            if let Err(error) = stream.set_nodelay(true) {
                tracing::debug!(%error, "could not set TCP_NODELAY");
            }
            return (
                CountedStream {
                    stream,
                    _slot: slot,
                },
                peer,
            );
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

impl AsyncRead for CountedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for CountedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
