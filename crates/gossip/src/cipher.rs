//! One gossip key and what it does: parsing it from base64 as `consul keygen` prints it, and
//! sealing and opening messages with AES-GCM as `[version][12-byte nonce][ciphertext + tag]`,
//! the version byte authenticated as associated data.

use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::aes::Aes192;
use aes_gcm::{Aes128Gcm, Aes256Gcm, AesGcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::fmt;

/// The first byte of every sealed message: version 1, with the high bit set to tell it from
/// plaintext, whose datagrams and frames start with a small version byte of their own.
pub(crate) const SEALED_VERSION: u8 = 0x81;

/// The nonce's length: 96 bits, GCM's standard.
const NONCE_SIZE: usize = 12;

/// The authentication tag's length.
const TAG_SIZE: usize = 16;

/// How many bytes sealing adds to a message.
pub(crate) const SEAL_OVERHEAD: usize = 1 + NONCE_SIZE + TAG_SIZE;

type Aes192Gcm = AesGcm<Aes192, U12>;

/// Why a key could not be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("not valid base64: {0}")]
    NotBase64(String),
    #[error("must be 16, 24 or 32 bytes base64-encoded, got {0} bytes")]
    Length(usize),
}

/// Why a message could not be sealed or opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CryptoError {
    #[error("message too short to be encrypted")]
    TooShort,
    #[error("unsupported encryption version {0} (this node speaks {SEALED_VERSION})")]
    Version(u8),
    #[error("no installed key decrypts the message")]
    NoKey,
    #[error("plaintext refused: this node requires encrypted gossip")]
    Plaintext,
    #[error("encrypted input, but gossip encryption is not enabled on this node")]
    NotEnabled,
    #[error("encryption failed")]
    Seal,
}

/// An AES-GCM key of one of the three sizes.
#[derive(Clone)]
enum Cipher {
    Aes128(Aes128Gcm),
    Aes192(Aes192Gcm),
    Aes256(Aes256Gcm),
}

impl Cipher {
    fn new(bytes: &[u8]) -> Result<Cipher, KeyError> {
        let wrong_length = |_| KeyError::Length(bytes.len());
        match bytes.len() {
            16 => Aes128Gcm::new_from_slice(bytes).map(Cipher::Aes128),
            24 => Aes192Gcm::new_from_slice(bytes).map(Cipher::Aes192),
            32 => Aes256Gcm::new_from_slice(bytes).map(Cipher::Aes256),
            other => return Err(KeyError::Length(other)),
        }
        .map_err(wrong_length)
    }

    fn encrypt(
        &self,
        nonce: &Nonce<U12>,
        payload: Payload<'_, '_>,
    ) -> aes_gcm::aead::Result<Vec<u8>> {
        match self {
            Cipher::Aes128(cipher) => cipher.encrypt(nonce, payload),
            Cipher::Aes192(cipher) => cipher.encrypt(nonce, payload),
            Cipher::Aes256(cipher) => cipher.encrypt(nonce, payload),
        }
    }

    fn decrypt(
        &self,
        nonce: &Nonce<U12>,
        payload: Payload<'_, '_>,
    ) -> aes_gcm::aead::Result<Vec<u8>> {
        match self {
            Cipher::Aes128(cipher) => cipher.decrypt(nonce, payload),
            Cipher::Aes192(cipher) => cipher.decrypt(nonce, payload),
            Cipher::Aes256(cipher) => cipher.decrypt(nonce, payload),
        }
    }
}

/// A gossip key: its canonical base64 text (as listed and persisted) and its cipher.
#[derive(Clone)]
pub(crate) struct GossipKey {
    encoded: String,
    cipher: Cipher,
}

impl GossipKey {
    /// A key as `consul keygen` prints it: standard base64 of 16, 24 or 32 bytes.
    pub(crate) fn parse(text: &str) -> Result<GossipKey, KeyError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|error| KeyError::NotBase64(error.to_string()))?;
        Ok(GossipKey {
            cipher: Cipher::new(&bytes)?,
            encoded: STANDARD.encode(&bytes),
        })
    }

    /// The key in standard base64.
    pub(crate) fn encoded(&self) -> &str {
        &self.encoded
    }

    /// `[version][nonce][ciphertext + tag]` with a fresh random nonce.
    pub(crate) fn seal(&self, plain: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let payload = Payload {
            msg: plain,
            aad: &[SEALED_VERSION],
        };
        let ciphertext = self
            .cipher
            .encrypt(&nonce, payload)
            .map_err(|_| CryptoError::Seal)?;
        let mut sealed = Vec::with_capacity(SEAL_OVERHEAD + plain.len());
        sealed.push(SEALED_VERSION);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    /// The plaintext of a message sealed with this key.
    pub(crate) fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let (version, nonce, ciphertext) = split_sealed(sealed)?;
        let payload = Payload {
            msg: ciphertext,
            aad: &[version],
        };
        self.cipher
            .decrypt(Nonce::from_slice(nonce), payload)
            .map_err(|_| CryptoError::NoKey)
    }
}

/// Whether `data` is marked as sealed (it may still not open).
pub(crate) fn is_sealed(data: &[u8]) -> bool {
    data.first() == Some(&SEALED_VERSION)
}

/// The version byte, nonce and ciphertext of a sealed message, checked for shape.
fn split_sealed(sealed: &[u8]) -> Result<(u8, &[u8], &[u8]), CryptoError> {
    if sealed.len() < SEAL_OVERHEAD {
        return Err(CryptoError::TooShort);
    }
    let (&version, rest) = sealed.split_first().ok_or(CryptoError::TooShort)?;
    if version != SEALED_VERSION {
        return Err(CryptoError::Version(version));
    }
    let (nonce, ciphertext) = rest.split_at(NONCE_SIZE);
    Ok((version, nonce, ciphertext))
}

impl PartialEq for GossipKey {
    fn eq(&self, other: &Self) -> bool {
        self.encoded == other.encoded
    }
}

impl Eq for GossipKey {}

/// Keys never reach logs: only their size is shown.
impl fmt::Debug for GossipKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bits = match self.cipher {
            Cipher::Aes128(_) => 128,
            Cipher::Aes192(_) => 192,
            Cipher::Aes256(_) => 256,
        };
        write!(f, "GossipKey(AES-{bits})")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A valid key of `size` bytes, all `fill`.
    pub(crate) fn key_text(size: usize, fill: u8) -> String {
        STANDARD.encode(vec![fill; size])
    }

    pub(crate) fn key(fill: u8) -> GossipKey {
        GossipKey::parse(&key_text(32, fill)).expect("valid key")
    }

    #[test]
    fn keys_of_the_three_aes_sizes_parse() {
        for size in [16, 24, 32] {
            let text = key_text(size, 7);
            let key = GossipKey::parse(&format!(" {text}\n")).expect("parses");
            assert_eq!(key.encoded(), text, "canonical base64, trimmed");
        }
        let consul_keygen = "pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s=";
        assert_eq!(
            format!("{:?}", GossipKey::parse(consul_keygen).expect("parses")),
            "GossipKey(AES-256)"
        );
    }

    #[test]
    fn malformed_keys_say_what_is_wrong() {
        let short = GossipKey::parse(&key_text(10, 1)).unwrap_err();
        assert_eq!(short, KeyError::Length(10));
        assert_eq!(
            short.to_string(),
            "must be 16, 24 or 32 bytes base64-encoded, got 10 bytes"
        );
        assert!(matches!(
            GossipKey::parse("not base64!"),
            Err(KeyError::NotBase64(_))
        ));
        assert!(matches!(GossipKey::parse(""), Err(KeyError::Length(0))));
    }

    #[test]
    fn sealed_messages_open_with_the_same_key_only() {
        let message = b"ping from a";
        let sealed = key(1).seal(message).expect("seals");
        assert_eq!(sealed.len(), message.len() + SEAL_OVERHEAD);
        assert_eq!(sealed[0], SEALED_VERSION);
        assert_eq!(key(1).open(&sealed).expect("opens"), message);
        assert_eq!(key(2).open(&sealed), Err(CryptoError::NoKey));
        let again = key(1).seal(message).expect("seals");
        assert_ne!(sealed, again, "every message gets a fresh nonce");
    }

    #[test]
    fn the_version_byte_is_checked_and_authenticated() {
        let mut sealed = key(1).seal(b"hello").expect("seals");
        assert!(is_sealed(&sealed));
        sealed[0] = 1;
        assert!(!is_sealed(&sealed), "plaintext versions are small");
        assert_eq!(key(1).open(&sealed), Err(CryptoError::Version(1)));
        let mut tampered = key(1).seal(b"hello").expect("seals");
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(key(1).open(&tampered), Err(CryptoError::NoKey));
        assert_eq!(
            key(1).open(&[SEALED_VERSION; 5]),
            Err(CryptoError::TooShort)
        );
        assert_eq!(key(1).open(&[]), Err(CryptoError::TooShort));
    }
}
