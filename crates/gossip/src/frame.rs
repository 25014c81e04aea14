//! The TCP join exchange's framing: a 4-byte big-endian length, then a version byte and a
//! bincode body. Oversize, truncated or garbled frames are errors, never panics.

use crate::codec::{options, WireMember};
use crate::identity::NodeId;
use crate::intents::LeaveIntent;
use bincode::Options;
use serde::{Deserialize, Serialize};
use std::io;
use std::net::SocketAddr;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The version byte of every join frame.
pub(crate) const FRAME_VERSION: u8 = 1;

/// The largest frame either side accepts (a full membership list of a large cluster fits).
pub(crate) const MAX_FRAME: usize = 8 << 20;

/// What the two ends of a join say to each other.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum JoinFrame {
    /// The joiner: who it is and what it knows.
    Hello { from: NodeId, roster: Roster },
    /// The contacted node accepts: who it is and what it knows.
    Welcome { from: NodeId, roster: Roster },
    /// The contacted node will not admit the joiner.
    Refused(Refusal),
}

/// What a node knows of the cluster: every member foca knows (down ones included) and the
/// leave intents, so a joiner lists left members as Left from the start.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Roster {
    pub(crate) members: Vec<WireMember>,
    pub(crate) intents: Vec<LeaveIntent>,
}

/// Why a node refused a joiner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Refusal {
    /// A live member already uses the joiner's name at another address.
    NameConflict { name: String, existing: SocketAddr },
    /// Anything else, said in words.
    Other(String),
}

/// Why a frame could not be read or written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FrameError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("frame of {0} bytes is larger than the {MAX_FRAME}-byte limit")]
    TooLarge(usize),
    #[error("empty frame")]
    Empty,
    #[error("unsupported join protocol version {0} (this node speaks {FRAME_VERSION})")]
    Version(u8),
    #[error("malformed join frame: {0}")]
    Malformed(#[from] bincode::Error),
}

/// The bytes of one frame, length prefix included.
pub(crate) fn encode(frame: &JoinFrame) -> Result<Vec<u8>, FrameError> {
    let mut body = vec![FRAME_VERSION];
    options().serialize_into(&mut body, frame)?;
    if body.len() > MAX_FRAME {
        return Err(FrameError::TooLarge(body.len()));
    }
    let length = u32::try_from(body.len()).map_err(|_| FrameError::TooLarge(body.len()))?;
    let mut bytes = Vec::with_capacity(body.len() + 4);
    bytes.extend_from_slice(&length.to_be_bytes());
    bytes.extend_from_slice(&body);
    Ok(bytes)
}

/// Decodes a frame's body: the version byte and what follows it.
pub(crate) fn decode_body(body: &[u8]) -> Result<JoinFrame, FrameError> {
    let (&version, rest) = body.split_first().ok_or(FrameError::Empty)?;
    if version != FRAME_VERSION {
        return Err(FrameError::Version(version));
    }
    Ok(options().deserialize(rest)?)
}

/// Reads one frame, refusing lengths over [`MAX_FRAME`] before reading the body.
pub(crate) async fn read<R: AsyncRead + Unpin>(reader: &mut R) -> Result<JoinFrame, FrameError> {
    let mut prefix = [0u8; 4];
    reader.read_exact(&mut prefix).await?;
    let length = usize::try_from(u32::from_be_bytes(prefix)).unwrap_or(usize::MAX);
    if length == 0 {
        return Err(FrameError::Empty);
    }
    if length > MAX_FRAME {
        return Err(FrameError::TooLarge(length));
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).await?;
    decode_body(&body)
}

/// Writes already-encoded frame bytes and flushes them.
pub(crate) async fn write<W: AsyncWrite + Unpin>(
    writer: &mut W,
    bytes: &[u8],
) -> Result<(), FrameError> {
    writer.write_all(bytes).await?;
    writer.flush().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Tags;

    fn hello() -> JoinFrame {
        let from = NodeId::new("a", SocketAddr::from(([127, 0, 0, 1], 8301)), Tags::new());
        JoinFrame::Hello {
            from,
            roster: Roster::default(),
        }
    }

    #[tokio::test]
    async fn frames_round_trip() {
        let bytes = encode(&hello()).expect("encodes");
        let mut reader = &bytes[..];
        match read(&mut reader).await.expect("reads") {
            JoinFrame::Hello { from, roster } => {
                assert_eq!(&*from.name, "a");
                assert!(roster.members.is_empty());
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test]
    async fn oversize_length_is_refused_before_reading() {
        let bytes = u32::MAX.to_be_bytes();
        let mut reader = &bytes[..];
        assert!(matches!(
            read(&mut reader).await,
            Err(FrameError::TooLarge(_))
        ));
    }

    #[tokio::test]
    async fn garbage_and_truncation_are_errors() {
        let mut truncated = &[0, 0, 0, 9, FRAME_VERSION, 1][..];
        assert!(matches!(read(&mut truncated).await, Err(FrameError::Io(_))));
        let mut garbage = &[0, 0, 0, 3, FRAME_VERSION, 0xFF, 0xFF][..];
        assert!(matches!(
            read(&mut garbage).await,
            Err(FrameError::Malformed(_))
        ));
        let mut wrong_version = &[0, 0, 0, 2, 99, 0][..];
        assert!(matches!(
            read(&mut wrong_version).await,
            Err(FrameError::Version(99))
        ));
        let mut http = &b"GET / HTTP/1.1\r\n\r\n"[..];
        assert!(read(&mut http).await.is_err());
    }
}
