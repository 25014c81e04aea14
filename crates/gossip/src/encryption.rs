//! Gossip encryption on the wire: what this node sends is sealed with the keyring's primary
//! key (with `verify_outgoing`), what it receives is opened with any installed key, and
//! plaintext is refused (with `verify_incoming`) or let through. Behind it, the keyring as
//! this node starts with it (the keyring file wins over the initial key) and as keyring
//! operations change it, each change persisted before it takes effect.

use crate::cipher::{self, CryptoError, GossipKey};
use crate::config::EncryptionConfig;
use crate::error::GossipError;
use crate::keyring::{KeyChange, Keyring, KeyringError};
use crate::keyring_file::{self, KeyringFileError};
use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

/// How this node seals and opens messages; clones share the keyring. The default is off:
/// everything passes unchanged.
#[derive(Clone, Default)]
pub(crate) struct Envelope {
    encryption: Option<Arc<Encryption>>,
}

/// The keyring and the verification policy of a node with encryption on.
pub(crate) struct Encryption {
    keyring: RwLock<Arc<Keyring>>,
    /// Held while a change is persisted, so the file and memory change in the same order.
    changing: Mutex<()>,
    keyring_file: Option<PathBuf>,
    verify_incoming: bool,
    verify_outgoing: bool,
}

/// What arrived, once opened.
pub(crate) enum Opened<'a> {
    /// It was sealed with an installed key.
    Decrypted(Vec<u8>),
    /// It came as it is (encryption off, or plaintext let through).
    Plain(&'a [u8]),
}

impl Opened<'_> {
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Opened::Decrypted(bytes) => bytes,
            Opened::Plain(bytes) => bytes,
        }
    }

    pub(crate) fn was_sealed(&self) -> bool {
        matches!(self, Opened::Decrypted(_))
    }
}

/// Why a keyring change did not happen.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ChangeError {
    #[error("{0}")]
    Refused(#[from] KeyringError),
    #[error("{0}")]
    File(#[from] KeyringFileError),
    #[error("the keyring change was interrupted")]
    Interrupted,
}

impl Envelope {
    /// The envelope `config` asks for: off without a config or without any key; else the
    /// keyring file's keys when it exists, or the initial key (then written to the file).
    pub(crate) fn start(config: Option<&EncryptionConfig>) -> Result<Envelope, GossipError> {
        let Some(config) = config else {
            return Ok(Envelope::default());
        };
        let Some(keyring) = initial_keyring(config)? else {
            tracing::info!("no gossip encryption key configured; gossip is not encrypted");
            return Ok(Envelope::default());
        };
        tracing::info!(
            keys = keyring.keys().count(),
            verify_incoming = config.verify_incoming,
            verify_outgoing = config.verify_outgoing,
            "gossip encryption enabled"
        );
        Ok(Envelope {
            encryption: Some(Arc::new(Encryption {
                keyring: RwLock::new(Arc::new(keyring)),
                changing: Mutex::new(()),
                keyring_file: config.keyring_file.clone(),
                verify_incoming: config.verify_incoming,
                verify_outgoing: config.verify_outgoing,
            })),
        })
    }

    /// The keyring, when encryption is on.
    pub(crate) fn encryption(&self) -> Option<&Arc<Encryption>> {
        self.encryption.as_ref()
    }

    /// `plain` as it goes on the wire: sealed with the primary key when encrypting output.
    pub(crate) fn seal<'a>(&self, plain: &'a [u8]) -> Result<Cow<'a, [u8]>, CryptoError> {
        match &self.encryption {
            Some(encryption) if encryption.verify_outgoing => {
                encryption.keyring().seal(plain).map(Cow::Owned)
            }
            _ => Ok(Cow::Borrowed(plain)),
        }
    }

    /// What arrived: sealed input opened with any installed key (or refused when none
    /// opens it, or encryption is off); plaintext let through unless `verify_incoming`.
    pub(crate) fn open<'a>(&self, data: &'a [u8]) -> Result<Opened<'a>, CryptoError> {
        match (&self.encryption, cipher::is_sealed(data)) {
            (None, false) => Ok(Opened::Plain(data)),
            (None, true) => Err(CryptoError::NotEnabled),
            (Some(encryption), true) => encryption.keyring().open(data).map(Opened::Decrypted),
            (Some(encryption), false) if encryption.verify_incoming => Err(CryptoError::Plaintext),
            (Some(_), false) => Ok(Opened::Plain(data)),
        }
    }
}

impl Encryption {
    /// The keyring now.
    pub(crate) fn keyring(&self) -> Arc<Keyring> {
        let keyring = self.keyring.read().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(&keyring)
    }

    /// Applies `change`, persisting it first; nothing changes when it is refused or the
    /// keyring file cannot be written.
    pub(crate) async fn change(self: &Arc<Self>, change: KeyChange) -> Result<(), ChangeError> {
        let encryption = Arc::clone(self);
        tokio::task::spawn_blocking(move || encryption.change_now(&change))
            .await
            .map_err(|_| ChangeError::Interrupted)?
    }

    fn change_now(&self, change: &KeyChange) -> Result<(), ChangeError> {
        let _one_at_a_time = self.changing.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.keyring();
        let next = current.changed(change)?;
        if next == *current {
            return Ok(());
        }
        if let Some(path) = &self.keyring_file {
            keyring_file::store(path, &next)?;
        }
        *self.keyring.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(next);
        tracing::info!(change = ?change, "gossip keyring changed");
        Ok(())
    }
}

/// The keyring to start with: the file's when it exists (warning when `encrypt` names
/// another primary key), else the initial key's, written to the file; none without either.
fn initial_keyring(config: &EncryptionConfig) -> Result<Option<Keyring>, GossipError> {
    let initial = config
        .initial_key
        .as_deref()
        .map(GossipKey::parse)
        .transpose()?;
    let file_error = |error: KeyringFileError| GossipError::KeyringFile(error.to_string());
    let from_file = match &config.keyring_file {
        Some(path) => keyring_file::load(path).map_err(file_error)?,
        None => None,
    };
    match (from_file, initial) {
        (Some(keyring), initial) => {
            if initial.is_some_and(|key| key != *keyring.primary()) {
                tracing::warn!(
                    file = ?config.keyring_file,
                    "the gossip keyring file exists and is used; the configured `encrypt` key differs from its primary key and is ignored"
                );
            }
            Ok(Some(keyring))
        }
        (None, Some(key)) => {
            let keyring = Keyring::new(key);
            if let Some(path) = &config.keyring_file {
                keyring_file::store(path, &keyring).map_err(file_error)?;
            }
            Ok(Some(keyring))
        }
        (None, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cipher::tests::{key, key_text};

    fn envelope(fill: u8, verify_incoming: bool, verify_outgoing: bool) -> Envelope {
        let config = EncryptionConfig {
            verify_incoming,
            verify_outgoing,
            ..EncryptionConfig::with_key(key_text(32, fill))
        };
        Envelope::start(Some(&config)).expect("starts")
    }

    #[test]
    fn off_passes_everything_unchanged() {
        let off = Envelope::start(None).expect("starts");
        assert!(off.encryption().is_none());
        assert_eq!(off.seal(b"m").expect("passes"), &b"m"[..]);
        assert!(!off.open(b"m").expect("passes").was_sealed());
        let sealed = envelope(1, true, true)
            .seal(b"m")
            .expect("seals")
            .into_owned();
        assert_eq!(off.open(&sealed).err(), Some(CryptoError::NotEnabled));
        let no_key = Envelope::start(Some(&EncryptionConfig::default())).expect("starts");
        assert!(no_key.encryption().is_none(), "no key anywhere: off");
    }

    #[test]
    fn sealed_output_opens_and_plaintext_is_refused() {
        let strict = envelope(1, true, true);
        let sealed = strict.seal(b"ping").expect("seals").into_owned();
        assert_ne!(sealed, b"ping");
        let opened = strict.open(&sealed).expect("opens");
        assert!(opened.was_sealed());
        assert_eq!(opened.bytes(), b"ping");
        assert_eq!(strict.open(b"ping").err(), Some(CryptoError::Plaintext));
        assert_eq!(
            envelope(2, true, true).open(&sealed).err(),
            Some(CryptoError::NoKey),
            "wrong key"
        );
    }

    #[test]
    fn without_verify_incoming_both_plaintext_and_sealed_input_pass() {
        let lenient = envelope(1, false, false);
        assert_eq!(lenient.seal(b"ping").expect("passes"), &b"ping"[..]);
        assert_eq!(lenient.open(b"ping").expect("passes").bytes(), b"ping");
        let sealed = envelope(1, true, true)
            .seal(b"ping")
            .expect("seals")
            .into_owned();
        let opened = lenient.open(&sealed).expect("opens");
        assert!(opened.was_sealed());
        assert_eq!(opened.bytes(), b"ping");
        let foreign = envelope(2, true, true)
            .seal(b"ping")
            .expect("seals")
            .into_owned();
        assert_eq!(
            lenient.open(&foreign).err(),
            Some(CryptoError::NoKey),
            "sealed input is never taken for plaintext"
        );
    }

    #[test]
    fn a_malformed_initial_key_is_refused() {
        let config = EncryptionConfig::with_key(key_text(10, 1));
        let error = Envelope::start(Some(&config)).err().expect("refused");
        assert_eq!(
            error.to_string(),
            "invalid encrypt key: must be 16, 24 or 32 bytes base64-encoded, got 10 bytes"
        );
    }

    #[tokio::test]
    async fn changes_take_effect_and_refusals_change_nothing() {
        let envelope = envelope(1, true, true);
        let encryption = envelope.encryption().expect("on").clone();
        encryption
            .change(KeyChange::Install(key(2)))
            .await
            .expect("installs");
        encryption
            .change(KeyChange::Use(key(2)))
            .await
            .expect("uses");
        let sealed = envelope.seal(b"m").expect("seals").into_owned();
        assert!(key(2).open(&sealed).is_ok(), "sealed with the new primary");
        let refused = encryption.change(KeyChange::Remove(key(2))).await;
        assert!(matches!(
            refused,
            Err(ChangeError::Refused(KeyringError::RemovePrimary))
        ));
        assert_eq!(
            encryption.keyring().encoded(),
            [key_text(32, 2), key_text(32, 1)]
        );
    }
}
