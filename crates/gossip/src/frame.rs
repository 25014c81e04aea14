//! The framing of the TCP exchanges on the gossip port (join, keyring): a 4-byte big-endian
//! length, then a version byte and a bincode body — sealed as a whole when encryption is on.
//! Oversize, truncated, garbled or undecryptable frames are errors, never panics.

use crate::cipher::CryptoError;
use crate::codec::{options, WireMember};
use crate::encryption::Envelope;
use crate::identity::NodeId;
use crate::intents::LeaveIntent;
use crate::key_query::KeyringReply;
use crate::keyring::KeyringOp;
use bincode::Options;
use serde::{Deserialize, Serialize};
use std::io;
use std::net::SocketAddr;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The version byte of every frame.
pub(crate) const FRAME_VERSION: u8 = 1;

/// The largest frame either side accepts (a full membership list of a large cluster fits).
pub(crate) const MAX_FRAME: usize = 8 << 20;

/// How much of a frame's body is allocated before its bytes arrive.
const READ_AHEAD: usize = 16 * 1024;

/// What the two ends of an exchange say to each other: a join (hello, then welcome or
/// refusal) or a keyring operation (request, then reply).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum Frame {
    /// The joiner: who it is and what it knows.
    Hello { from: NodeId, roster: Roster },
    /// The contacted node accepts: who it is and what it knows.
    Welcome { from: NodeId, roster: Roster },
    /// The contacted node will not admit the joiner (or did not understand the request).
    Refused(Refusal),
    /// Run a keyring operation on the contacted node.
    KeyringRequest(KeyringOp),
    /// The contacted node's keyring after the operation, and why it failed, if it did.
    KeyringReply(KeyringReply),
}

/// A frame as read, and whether it came sealed with an installed key.
#[derive(Debug)]
pub(crate) struct Received {
    pub(crate) frame: Frame,
    pub(crate) sealed: bool,
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
    #[error("unsupported gossip TCP protocol version {0} (this node speaks {FRAME_VERSION})")]
    Version(u8),
    #[error("malformed gossip TCP frame: {0}")]
    Malformed(#[from] bincode::Error),
    #[error("{0}")]
    Crypto(#[from] CryptoError),
}

/// The bytes of one frame as `envelope` seals them, length prefix included.
pub(crate) fn encode(frame: &Frame, envelope: &Envelope) -> Result<Vec<u8>, FrameError> {
    let mut plain = vec![FRAME_VERSION];
    options().serialize_into(&mut plain, frame)?;
    let body = envelope.seal(&plain)?;
    if body.len() > MAX_FRAME {
        return Err(FrameError::TooLarge(body.len()));
    }
    let length = u32::try_from(body.len()).map_err(|_| FrameError::TooLarge(body.len()))?;
    let mut bytes = Vec::with_capacity(body.len() + 4);
    bytes.extend_from_slice(&length.to_be_bytes());
    bytes.extend_from_slice(&body);
    Ok(bytes)
}

/// Decodes a frame's opened body: the version byte and what follows it.
fn decode_body(body: &[u8]) -> Result<Frame, FrameError> {
    let (&version, rest) = body.split_first().ok_or(FrameError::Empty)?;
    if version != FRAME_VERSION {
        return Err(FrameError::Version(version));
    }
    Ok(options().deserialize(rest)?)
}

/// Reads one frame and opens it with `envelope`, refusing lengths over [`MAX_FRAME`] before
/// reading the body, and holding no more memory than the body bytes that arrived.
pub(crate) async fn read<R: AsyncRead + Unpin>(
    reader: &mut R,
    envelope: &Envelope,
) -> Result<Received, FrameError> {
    let mut prefix = [0u8; 4];
    reader.read_exact(&mut prefix).await?;
    let length = usize::try_from(u32::from_be_bytes(prefix)).unwrap_or(usize::MAX);
    if length == 0 {
        return Err(FrameError::Empty);
    }
    if length > MAX_FRAME {
        return Err(FrameError::TooLarge(length));
    }
    // The body grows as its bytes arrive: a 4-byte prefix alone must not make this node
    // allocate (and zero) 8 MiB.
    let mut body = Vec::with_capacity(length.min(READ_AHEAD));
    let read = reader.take(length as u64).read_to_end(&mut body).await?;
    if read < length {
        return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
    }
    let opened = envelope.open(&body)?;
    Ok(Received {
        frame: decode_body(opened.bytes())?,
        sealed: opened.was_sealed(),
    })
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
    use crate::cipher::tests::key_text;
    use crate::config::EncryptionConfig;
    use crate::identity::Tags;

    fn hello() -> Frame {
        let from = NodeId::new("a", SocketAddr::from(([127, 0, 0, 1], 8301)), Tags::new());
        Frame::Hello {
            from,
            roster: Roster::default(),
        }
    }

    async fn read_plain(mut reader: &[u8]) -> Result<Frame, FrameError> {
        read(&mut reader, &Envelope::default())
            .await
            .map(|received| received.frame)
    }

    fn encrypted(fill: u8) -> Envelope {
        let config = EncryptionConfig::with_key(key_text(32, fill));
        Envelope::start(Some(&config)).expect("starts")
    }

    #[tokio::test]
    async fn frames_round_trip() {
        let bytes = encode(&hello(), &Envelope::default()).expect("encodes");
        match read_plain(&bytes).await.expect("reads") {
            Frame::Hello { from, roster } => {
                assert_eq!(&*from.name, "a");
                assert!(roster.members.is_empty());
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test]
    async fn sealed_frames_open_with_the_key_only() {
        let request = Frame::KeyringRequest(KeyringOp::List);
        let bytes = encode(&request, &encrypted(1)).expect("encodes");
        let received = read(&mut &bytes[..], &encrypted(1)).await.expect("reads");
        assert!(received.sealed);
        assert!(matches!(
            received.frame,
            Frame::KeyringRequest(KeyringOp::List)
        ));
        assert!(matches!(
            read(&mut &bytes[..], &encrypted(2)).await,
            Err(FrameError::Crypto(CryptoError::NoKey))
        ));
        let plain = encode(&request, &Envelope::default()).expect("encodes");
        assert!(
            read(&mut &plain[..], &encrypted(1)).await.is_err(),
            "plaintext refused"
        );
    }

    #[tokio::test]
    async fn oversize_length_is_refused_before_reading() {
        let bytes = u32::MAX.to_be_bytes();
        assert!(matches!(
            read_plain(&bytes).await,
            Err(FrameError::TooLarge(_))
        ));
    }

    #[tokio::test]
    async fn garbage_and_truncation_are_errors() {
        let truncated = [0, 0, 0, 9, FRAME_VERSION, 1];
        assert!(matches!(
            read_plain(&truncated).await,
            Err(FrameError::Io(_))
        ));
        let garbage = [0, 0, 0, 3, FRAME_VERSION, 0xFF, 0xFF];
        assert!(matches!(
            read_plain(&garbage).await,
            Err(FrameError::Malformed(_))
        ));
        let wrong_version = [0, 0, 0, 2, 99, 0];
        assert!(matches!(
            read_plain(&wrong_version).await,
            Err(FrameError::Version(99))
        ));
        assert!(read_plain(b"GET / HTTP/1.1\r\n\r\n").await.is_err());
    }
}
