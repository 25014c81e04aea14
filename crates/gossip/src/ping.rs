//! Coordinate pings on the gossip UDP socket: a ping carries the sender's name, coordinate
//! and a nonce; the ack answers with the same nonce and the peer's own name and coordinate.
//! Their first byte tells them from foca's datagrams.

use crate::codec::{decode_tagged, encode_tagged, TaggedError, DATAGRAM_VERSION};
use senate_coordinate::Coordinate;
use serde::{Deserialize, Serialize};

/// The first byte of a coordinate ping or ack (foca's datagrams start with
/// [`DATAGRAM_VERSION`]).
pub(crate) const PING_DATAGRAM: u8 = DATAGRAM_VERSION + 1;

/// A coordinate ping or its ack.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) enum Ping {
    Request(Report),
    Ack(Report),
}

/// What each side of a ping says: the probe's nonce, who it is, and where it thinks it is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Report {
    pub(crate) nonce: u64,
    pub(crate) from: String,
    pub(crate) coordinate: Coordinate,
}

impl Ping {
    /// Whether `datagram` is a coordinate ping or ack rather than one of foca's.
    pub(crate) fn is_ping(datagram: &[u8]) -> bool {
        datagram.first() == Some(&PING_DATAGRAM)
    }

    pub(crate) fn encode(&self) -> Result<Vec<u8>, bincode::Error> {
        encode_tagged(PING_DATAGRAM, self)
    }

    pub(crate) fn decode(datagram: &[u8]) -> Result<Ping, TaggedError> {
        decode_tagged(PING_DATAGRAM, datagram)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use senate_coordinate::Config;

    #[test]
    fn pings_round_trip_and_are_told_from_foca_datagrams() {
        let ping = Ping::Ack(Report {
            nonce: u64::MAX,
            from: "b".into(),
            coordinate: Coordinate::new(&Config::default()),
        });
        let bytes = ping.encode().expect("encodes");
        assert!(Ping::is_ping(&bytes));
        assert!(!Ping::is_ping(&[DATAGRAM_VERSION, 1, 2]));
        assert!(!Ping::is_ping(&[]));
        assert!(bytes.len() < 120, "small: {} bytes", bytes.len());
        assert_eq!(Ping::decode(&bytes).expect("decodes"), ping);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let good = Ping::Request(Report {
            nonce: 7,
            from: "a".into(),
            coordinate: Coordinate::new(&Config::default()),
        })
        .encode()
        .expect("encodes");
        for bytes in [
            &[][..],
            &[PING_DATAGRAM][..],
            &[PING_DATAGRAM, 9][..],
            &[
                PING_DATAGRAM,
                0,
                7,
                1,
                b'a',
                253,
                0xFF,
                0xFF,
                0xFF,
                0xFF,
                0xFF,
                0xFF,
                0xFF,
                0x7F,
            ][..],
            &good[..good.len() - 1],
            &[DATAGRAM_VERSION, 0][..],
        ] {
            assert!(Ping::decode(bytes).is_err(), "{bytes:?}");
        }
    }
}
