//! The keyring: the primary key, which seals what this node sends, and the other installed
//! keys, which open what it receives along with the primary; and the operations that change
//! it, with serf's rules (installing twice is fine, the primary cannot be removed, only an
//! installed key can become primary).

use crate::cipher::{CryptoError, GossipKey, KeyError};
use serde::{Deserialize, Serialize};

/// An operation of Consul's `/v1/operator/keyring`; keys are base64 as `consul keygen` prints.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyringOp {
    /// Report the installed keys.
    List,
    /// Install a key, which then opens incoming messages (sending keeps the primary).
    Install(String),
    /// Make an installed key the primary: messages are sealed with it from then on.
    Use(String),
    /// Remove a key other than the primary.
    Remove(String),
}

/// A keyring operation that changes the keyring, its key parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum KeyChange {
    Install(GossipKey),
    Use(GossipKey),
    Remove(GossipKey),
}

impl KeyringOp {
    /// The change this operation asks for (none for a listing); a malformed key is an error.
    pub(crate) fn change(&self) -> Result<Option<KeyChange>, KeyError> {
        Ok(match self {
            KeyringOp::List => None,
            KeyringOp::Install(key) => Some(KeyChange::Install(GossipKey::parse(key)?)),
            KeyringOp::Use(key) => Some(KeyChange::Use(GossipKey::parse(key)?)),
            KeyringOp::Remove(key) => Some(KeyChange::Remove(GossipKey::parse(key)?)),
        })
    }
}

/// Why a keyring change was refused; the words are serf's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum KeyringError {
    #[error("Requested key is not in the keyring")]
    NotInstalled,
    #[error("Removing the primary key is not allowed")]
    RemovePrimary,
    #[error("the keyring has no keys")]
    Empty,
}

/// The installed keys: the primary and the others, each once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Keyring {
    primary: GossipKey,
    others: Vec<GossipKey>,
}

impl Keyring {
    /// A keyring holding just `primary`.
    pub(crate) fn new(primary: GossipKey) -> Keyring {
        Keyring {
            primary,
            others: Vec::new(),
        }
    }

    /// A keyring of `keys`, the first the primary; repeats are dropped.
    pub(crate) fn from_keys(keys: Vec<GossipKey>) -> Result<Keyring, KeyringError> {
        let mut keys = keys.into_iter();
        let mut keyring = Keyring::new(keys.next().ok_or(KeyringError::Empty)?);
        for key in keys {
            keyring.install(key);
        }
        Ok(keyring)
    }

    /// The key messages are sealed with.
    pub(crate) fn primary(&self) -> &GossipKey {
        &self.primary
    }

    /// Every installed key, the primary first.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &GossipKey> {
        std::iter::once(&self.primary).chain(&self.others)
    }

    /// The keys in base64, the primary first (the keyring file's content).
    pub(crate) fn encoded(&self) -> Vec<String> {
        self.keys().map(|key| key.encoded().to_string()).collect()
    }

    /// This keyring after `change`, or why the change is refused.
    pub(crate) fn changed(&self, change: &KeyChange) -> Result<Keyring, KeyringError> {
        let mut next = self.clone();
        match change {
            KeyChange::Install(key) => next.install(key.clone()),
            KeyChange::Use(key) if *key == self.primary => {}
            KeyChange::Use(key) => {
                let at = next
                    .others
                    .iter()
                    .position(|installed| installed == key)
                    .ok_or(KeyringError::NotInstalled)?;
                let primary = next.others.remove(at);
                let old = std::mem::replace(&mut next.primary, primary);
                next.others.insert(0, old);
            }
            KeyChange::Remove(key) if *key == self.primary => {
                return Err(KeyringError::RemovePrimary)
            }
            KeyChange::Remove(key) => next.others.retain(|installed| installed != key),
        }
        Ok(next)
    }

    fn install(&mut self, key: GossipKey) {
        if !self.keys().any(|installed| *installed == key) {
            self.others.push(key);
        }
    }

    /// Seals with the primary key.
    pub(crate) fn seal(&self, plain: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.primary.seal(plain)
    }

    /// Opens with the first installed key that fits, the primary tried first.
    pub(crate) fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.keys()
            .find_map(|key| key.open(sealed).ok())
            .ok_or(CryptoError::NoKey)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cipher::tests::{key, key_text};

    fn ring(fills: &[u8]) -> Keyring {
        Keyring::from_keys(fills.iter().map(|fill| key(*fill)).collect()).expect("keyring")
    }

    #[test]
    fn operations_parse_their_keys() {
        assert_eq!(KeyringOp::List.change(), Ok(None));
        assert_eq!(
            KeyringOp::Use(key_text(32, 1)).change(),
            Ok(Some(KeyChange::Use(key(1))))
        );
        assert_eq!(
            KeyringOp::Install(key_text(10, 1)).change(),
            Err(KeyError::Length(10))
        );
        assert!(KeyringOp::Remove("%%%".into()).change().is_err());
    }

    #[test]
    fn installing_is_idempotent_and_keeps_the_primary() {
        let installed = ring(&[1])
            .changed(&KeyChange::Install(key(2)))
            .expect("installs");
        assert_eq!(installed, ring(&[1, 2]));
        assert_eq!(
            installed.changed(&KeyChange::Install(key(2))),
            Ok(ring(&[1, 2]))
        );
        assert_eq!(installed.primary(), &key(1));
    }

    #[test]
    fn only_an_installed_key_becomes_primary() {
        let keyring = ring(&[1, 2, 3]);
        assert_eq!(
            keyring.changed(&KeyChange::Use(key(3))),
            Ok(ring(&[3, 1, 2]))
        );
        assert_eq!(
            keyring.changed(&KeyChange::Use(key(1))),
            Ok(keyring.clone())
        );
        assert_eq!(
            keyring.changed(&KeyChange::Use(key(9))),
            Err(KeyringError::NotInstalled)
        );
        assert_eq!(
            KeyringError::NotInstalled.to_string(),
            "Requested key is not in the keyring"
        );
    }

    #[test]
    fn the_primary_cannot_be_removed_and_others_can() {
        let keyring = ring(&[1, 2]);
        assert_eq!(
            keyring.changed(&KeyChange::Remove(key(1))),
            Err(KeyringError::RemovePrimary)
        );
        assert_eq!(
            KeyringError::RemovePrimary.to_string(),
            "Removing the primary key is not allowed"
        );
        assert_eq!(keyring.changed(&KeyChange::Remove(key(2))), Ok(ring(&[1])));
        assert_eq!(
            keyring.changed(&KeyChange::Remove(key(9))),
            Ok(keyring.clone()),
            "removing a key not installed changes nothing"
        );
    }

    #[test]
    fn any_installed_key_opens_and_the_primary_seals() {
        let old = ring(&[1]);
        let rotated = ring(&[2, 1]);
        let from_old = old.seal(b"m").expect("seals");
        assert_eq!(
            rotated.open(&from_old).expect("opens with a secondary"),
            b"m"
        );
        let from_rotated = rotated.seal(b"m").expect("seals");
        assert_eq!(
            key(2).open(&from_rotated).expect("sealed with the primary"),
            b"m"
        );
        assert_eq!(old.open(&from_rotated), Err(CryptoError::NoKey));
    }

    #[test]
    fn keyrings_are_never_empty_and_hold_each_key_once() {
        assert_eq!(Keyring::from_keys(Vec::new()), Err(KeyringError::Empty));
        assert_eq!(ring(&[1, 2, 1]).keys().count(), 2);
        assert_eq!(ring(&[2, 1]).encoded(), [key_text(32, 2), key_text(32, 1)]);
    }
}
