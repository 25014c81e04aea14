//! The writer task each connection has: it takes frames from a channel and writes them, gathering
//! every frame already queued into one buffer so that a burst costs one write syscall.

use crate::frame::{self, Frame};
use bytes::BytesMut;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc::UnboundedReceiver;

/// Payloads larger than this are written straight from their own buffer rather than copied.
const INLINE_PAYLOAD_MAX: usize = 64 * 1024;
/// Write out the gathered bytes once they reach this size, even if more frames are queued.
const FLUSH_AT: usize = 256 * 1024;
/// How many queued messages to take from the channel at once.
const RECV_BATCH: usize = 256;

/// What the writer task is asked to do.
#[derive(Debug)]
pub enum Outgoing {
    /// Write this frame.
    Frame(Frame),
    /// Write everything queued before this, then close the sending side.
    Close,
}

/// Writes frames from `queue` to `sink` until the queue closes, a [`Outgoing::Close`] arrives, or
/// a write fails.
pub async fn write_frames<W: AsyncWrite + Unpin>(
    mut sink: W,
    mut queue: UnboundedReceiver<Outgoing>,
) -> std::io::Result<()> {
    let mut buf = BytesMut::with_capacity(FLUSH_AT);
    let mut batch = Vec::with_capacity(RECV_BATCH);
    loop {
        if queue.recv_many(&mut batch, RECV_BATCH).await == 0 {
            return finish(&mut sink, &mut buf).await;
        }
        for message in batch.drain(..) {
            match message {
                Outgoing::Frame(frame) => put_frame(&mut sink, &mut buf, &frame).await?,
                Outgoing::Close => return finish(&mut sink, &mut buf).await,
            }
        }
        if buf.len() >= FLUSH_AT || queue.is_empty() {
            flush(&mut sink, &mut buf).await?;
        }
    }
}

/// Adds one frame to the buffer; a large payload is written directly after the buffer.
async fn put_frame<W: AsyncWrite + Unpin>(
    sink: &mut W,
    buf: &mut BytesMut,
    frame: &Frame,
) -> std::io::Result<()> {
    if frame.payload.len() <= INLINE_PAYLOAD_MAX {
        frame::encode(buf, frame)?;
        if buf.len() >= FLUSH_AT {
            flush(sink, buf).await?;
        }
        return Ok(());
    }
    frame::put_header(buf, frame)?;
    flush(sink, buf).await?;
    sink.write_all(&frame.payload).await
}

async fn flush<W: AsyncWrite + Unpin>(sink: &mut W, buf: &mut BytesMut) -> std::io::Result<()> {
    if !buf.is_empty() {
        sink.write_all(buf).await?;
        buf.clear();
    }
    Ok(())
}

async fn finish<W: AsyncWrite + Unpin>(sink: &mut W, buf: &mut BytesMut) -> std::io::Result<()> {
    flush(sink, buf).await?;
    sink.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{FrameReader, FrameType};
    use bytes::Bytes;

    #[tokio::test]
    async fn writes_small_and_large_frames_in_order() {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let sizes = [0usize, 10, 100_000, 5, 70_000];
        for (stream, size) in sizes.iter().enumerate() {
            let frame = Frame {
                frame_type: FrameType::ResponseOk,
                stream: stream as u64,
                kind: 1,
                payload: Bytes::from(vec![stream as u8; *size]),
            };
            tx.send(Outgoing::Frame(frame)).unwrap();
        }
        tx.send(Outgoing::Close).unwrap();
        let mut out = Vec::new();
        write_frames(&mut out, rx).await.unwrap();
        let mut reader = FrameReader::new(&out[..], 1 << 20);
        for (stream, size) in sizes.iter().enumerate() {
            let frame = reader.next().await.unwrap().unwrap();
            assert_eq!(frame.stream, stream as u64);
            assert_eq!(frame.payload.len(), *size);
        }
        assert!(reader.next().await.unwrap().is_none());
    }
}
