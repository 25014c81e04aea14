//! The wire format: length-delimited frames (see the crate docs for the layout), how a header is
//! encoded, and [`FrameReader`], which decodes frames from a byte stream without trusting the
//! lengths it is sent.

use crate::{Kind, PROTOCOL_VERSION};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

/// Bytes of the length prefix.
pub const LENGTH_LEN: usize = 4;
/// Bytes of the header after the length prefix: version, type, stream id, kind.
pub const HEADER_LEN: usize = 1 + 1 + 8 + 1;
/// The fewest bytes after the length prefix any version's frame has (enough for the version).
const MIN_BODY_LEN: usize = 1;
/// Payloads up to this size are copied out of the read buffer, so that a request parked for
/// minutes pins only its own bytes, not a whole shared read buffer.
const COPY_PAYLOAD_MAX: usize = 64 * 1024;
/// How much room the reader makes for each read when no large frame is pending.
const READ_CHUNK: usize = 64 * 1024;

/// What a frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum FrameType {
    /// A call: the payload is the request.
    Request = 0,
    /// The handler's answer to the request with the same stream id.
    ResponseOk = 1,
    /// The handler's error (UTF-8 text) for the request with the same stream id.
    ResponseError = 2,
    /// The sender is closing the connection; the payload (UTF-8 text) says why. Stream id 0.
    Goodbye = 3,
}

impl FrameType {
    fn from_byte(byte: u8) -> Option<FrameType> {
        match byte {
            0 => Some(FrameType::Request),
            1 => Some(FrameType::ResponseOk),
            2 => Some(FrameType::ResponseError),
            3 => Some(FrameType::Goodbye),
            _ => None,
        }
    }
}

/// One decoded (or to-be-encoded) frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub frame_type: FrameType,
    pub stream: u64,
    pub kind: Kind,
    pub payload: Bytes,
}

impl Frame {
    /// A connection-level farewell carrying `reason`.
    pub fn goodbye(reason: &str) -> Frame {
        Frame {
            frame_type: FrameType::Goodbye,
            stream: 0,
            kind: 0,
            payload: Bytes::copy_from_slice(reason.as_bytes()),
        }
    }

    /// The value of this frame's length prefix.
    pub fn body_len(&self) -> usize {
        HEADER_LEN + self.payload.len()
    }
}

/// Why a byte stream stopped yielding frames.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error("frame of {size} bytes exceeds the limit of {max} bytes")]
    TooLarge { size: usize, max: usize },
    #[error("peer speaks protocol version {theirs}, this side speaks {PROTOCOL_VERSION}")]
    Version { theirs: u8 },
    #[error("malformed frame: {0}")]
    Malformed(String),
}

/// Appends the length prefix and header of `frame` (not its payload).
/// Fails if the frame cannot be described by a u32 length.
pub fn put_header(buf: &mut BytesMut, frame: &Frame) -> std::io::Result<()> {
    let length = u32::try_from(frame.body_len()).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("frame of {} bytes is too long to encode", frame.body_len()),
        )
    })?;
    buf.reserve(LENGTH_LEN + HEADER_LEN);
    buf.put_u32(length);
    buf.put_u8(PROTOCOL_VERSION);
    buf.put_u8(frame.frame_type as u8);
    buf.put_u64(frame.stream);
    buf.put_u8(frame.kind);
    Ok(())
}

/// Appends a whole frame, header and payload.
pub fn encode(buf: &mut BytesMut, frame: &Frame) -> std::io::Result<()> {
    put_header(buf, frame)?;
    buf.extend_from_slice(&frame.payload);
    Ok(())
}

/// Decodes frames from `R`, refusing any whose length exceeds `max_frame` before buffering it.
pub struct FrameReader<R> {
    source: R,
    buf: BytesMut,
    max_frame: usize,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    pub fn new(source: R, max_frame: usize) -> Self {
        FrameReader {
            source,
            buf: BytesMut::with_capacity(READ_CHUNK),
            max_frame,
        }
    }

    /// The largest frame body this reader accepts.
    pub fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// The next frame; `Ok(None)` when the peer closed the stream cleanly between frames.
    pub async fn next(&mut self) -> Result<Option<Frame>, FrameError> {
        loop {
            if let Some(frame) = self.parse()? {
                return Ok(Some(frame));
            }
            self.make_room();
            if self.source.read_buf(&mut self.buf).await? == 0 {
                return self.at_eof();
            }
        }
    }

    fn at_eof(&self) -> Result<Option<Frame>, FrameError> {
        if self.buf.is_empty() {
            Ok(None)
        } else {
            Err(FrameError::Malformed(format!(
                "stream ended inside a frame ({} bytes buffered)",
                self.buf.len()
            )))
        }
    }

    /// Grows the buffer towards the pending frame's size, by at most the bytes already held
    /// per read, so memory tracks the bytes actually received rather than the length the peer
    /// claimed. (Stepping by the capacity instead let a peer sending a few bytes per segment
    /// double the buffer on every read, up to the frame limit.)
    fn make_room(&mut self) {
        let wanted = match self.pending_len() {
            Some(body) => (LENGTH_LEN + body).saturating_sub(self.buf.len()),
            None => READ_CHUNK,
        };
        let step = wanted.min(self.buf.len().max(READ_CHUNK));
        self.buf.reserve(step.max(1));
    }

    fn pending_len(&self) -> Option<usize> {
        let prefix = self.buf.get(..LENGTH_LEN)?;
        let mut bytes = [0u8; LENGTH_LEN];
        bytes.copy_from_slice(prefix);
        Some(u32::from_be_bytes(bytes) as usize)
    }

    /// The next whole frame in the buffer, if there is one; checks the length and version as
    /// soon as they arrive.
    fn parse(&mut self) -> Result<Option<Frame>, FrameError> {
        let Some(body_len) = self.pending_len() else {
            return Ok(None);
        };
        check_length(body_len, self.max_frame)?;
        let Some(&version) = self.buf.get(LENGTH_LEN) else {
            return Ok(None);
        };
        if version != PROTOCOL_VERSION {
            return Err(FrameError::Version { theirs: version });
        }
        if body_len < HEADER_LEN {
            return Err(FrameError::Malformed(format!(
                "frame of {body_len} bytes is shorter than the {HEADER_LEN}-byte header"
            )));
        }
        if self.buf.len() < LENGTH_LEN + body_len {
            return Ok(None);
        }
        self.take_frame(body_len).map(Some)
    }

    fn take_frame(&mut self, body_len: usize) -> Result<Frame, FrameError> {
        self.buf.advance(LENGTH_LEN + 1);
        let type_byte = self.buf.get_u8();
        let stream = self.buf.get_u64();
        let kind = self.buf.get_u8();
        let payload_len = body_len - HEADER_LEN;
        let payload = if payload_len <= COPY_PAYLOAD_MAX {
            let payload = Bytes::copy_from_slice(&self.buf[..payload_len]);
            self.buf.advance(payload_len);
            payload
        } else {
            self.buf.split_to(payload_len).freeze()
        };
        let frame_type = FrameType::from_byte(type_byte)
            .ok_or_else(|| FrameError::Malformed(format!("unknown frame type {type_byte}")))?;
        Ok(Frame {
            frame_type,
            stream,
            kind,
            payload,
        })
    }
}

fn check_length(body_len: usize, max_frame: usize) -> Result<(), FrameError> {
    if body_len > max_frame {
        return Err(FrameError::TooLarge {
            size: body_len,
            max: max_frame,
        });
    }
    if body_len < MIN_BODY_LEN {
        return Err(FrameError::Malformed("empty frame".to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(stream: u64, payload: &'static [u8]) -> Frame {
        Frame {
            frame_type: FrameType::Request,
            stream,
            kind: 7,
            payload: Bytes::from_static(payload),
        }
    }

    async fn decode_all(bytes: Vec<u8>, max: usize) -> Result<Vec<Frame>, FrameError> {
        let mut reader = FrameReader::new(&bytes[..], max);
        let mut frames = Vec::new();
        while let Some(frame) = reader.next().await? {
            frames.push(frame);
        }
        Ok(frames)
    }

    #[tokio::test]
    async fn round_trips_several_frames() {
        let frames = vec![request(1, b"hello"), request(2, b""), Frame::goodbye("bye")];
        let mut buf = BytesMut::new();
        for frame in &frames {
            encode(&mut buf, frame).unwrap();
        }
        assert_eq!(decode_all(buf.to_vec(), 1024).await.unwrap(), frames);
    }

    #[tokio::test]
    async fn large_payload_is_split_not_copied() {
        let payload = vec![9u8; 200_000];
        let frame = Frame {
            payload: Bytes::from(payload.clone()),
            ..request(3, b"")
        };
        let mut buf = BytesMut::new();
        encode(&mut buf, &frame).unwrap();
        let decoded = decode_all(buf.to_vec(), 1 << 20).await.unwrap();
        assert_eq!(decoded[0].payload, payload);
    }

    #[tokio::test]
    async fn oversized_length_is_refused_before_buffering() {
        let bytes = vec![0xff, 0xff, 0xff, 0xff, 1];
        let error = decode_all(bytes, 1024).await.unwrap_err();
        assert!(matches!(error, FrameError::TooLarge { max: 1024, .. }));
    }

    #[tokio::test]
    async fn other_version_is_named() {
        let bytes = vec![0, 0, 0, 11, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let error = decode_all(bytes, 1024).await.unwrap_err();
        assert!(matches!(error, FrameError::Version { theirs: 2 }));
    }

    #[tokio::test]
    async fn malformed_frames_are_errors() {
        let short = vec![0, 0, 0, 2, 1, 0];
        let unknown_type = vec![0, 0, 0, 11, 1, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let truncated = vec![0, 0, 0, 20, 1, 0, 0];
        let empty = vec![0, 0, 0, 0];
        for bytes in [short, unknown_type, truncated, empty] {
            let error = decode_all(bytes, 1024).await.unwrap_err();
            assert!(matches!(error, FrameError::Malformed(_)), "{error}");
        }
    }
}
