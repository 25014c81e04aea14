//! The keyring on disk, in the format of Consul's `serf/local.keyring`: a JSON array of base64
//! keys, the primary first. Written atomically: a synced temporary file renamed over the old.

use crate::cipher::GossipKey;
use crate::keyring::Keyring;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Why the keyring file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum KeyringFileError {
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("{} is not a JSON array of base64 keys: {reason}", path.display())]
    Malformed { path: PathBuf, reason: String },
}

/// The keyring in `path`, or `None` when there is no such file.
pub(crate) fn load(path: &Path) -> Result<Option<Keyring>, KeyringFileError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(KeyringFileError::Read {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    parse(&text)
        .map(Some)
        .map_err(|reason| KeyringFileError::Malformed {
            path: path.to_path_buf(),
            reason,
        })
}

fn parse(text: &str) -> Result<Keyring, String> {
    let encoded: Vec<String> = serde_json::from_str(text).map_err(|error| error.to_string())?;
    let keys = encoded
        .iter()
        .enumerate()
        .map(|(at, key)| GossipKey::parse(key).map_err(|error| format!("key {at}: {error}")))
        .collect::<Result<Vec<_>, _>>()?;
    Keyring::from_keys(keys).map_err(|error| error.to_string())
}

/// Replaces `path` with `keyring`, creating its directory if needed.
pub(crate) fn store(path: &Path, keyring: &Keyring) -> Result<(), KeyringFileError> {
    write_atomically(path, keyring).map_err(|source| KeyringFileError::Write {
        path: path.to_path_buf(),
        source,
    })
}

fn write_atomically(path: &Path, keyring: &Keyring) -> io::Result<()> {
    let text = serde_json::to_vec(&keyring.encoded()).map_err(io::Error::other)?;
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    fs::create_dir_all(directory)?;
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    {
        let mut file = private_file(&temporary)?;
        file.write_all(&text)?;
        file.sync_all()?;
    }
    fs::rename(&temporary, path)?;
    // The rename itself is durable once the directory is synced.
    fs::File::open(directory)?.sync_all()
}

/// A new file only its owner can read: it holds the cluster's keys.
fn private_file(path: &Path) -> io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cipher::tests::{key, key_text};

    fn scratch(name: &str) -> PathBuf {
        let unique = format!("senate-gossip-{name}-{}", std::process::id());
        std::env::temp_dir().join(unique)
    }

    #[test]
    fn a_stored_keyring_loads_back_in_order() {
        let directory = scratch("round-trip");
        let path = directory.join("serf").join("local.keyring");
        assert!(load(&path).expect("no file is no error").is_none());
        let keyring = Keyring::from_keys(vec![key(2), key(1)]).expect("keyring");
        store(&path, &keyring).expect("stores");
        let text = fs::read_to_string(&path).expect("written");
        assert_eq!(
            text,
            format!("[\"{}\",\"{}\"]", key_text(32, 2), key_text(32, 1))
        );
        assert_eq!(load(&path).expect("loads"), Some(keyring));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).expect("exists").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        fs::remove_dir_all(directory).expect("cleans up");
    }

    #[test]
    fn a_malformed_file_is_an_error_naming_it() {
        let directory = scratch("malformed");
        fs::create_dir_all(&directory).expect("creates");
        for (name, content) in [
            ("not-json", "keys!".to_string()),
            ("empty", "[]".to_string()),
            ("short-key", format!("[\"{}\"]", key_text(10, 1))),
        ] {
            let path = directory.join(name);
            fs::write(&path, content).expect("writes");
            let error = load(&path).expect_err("malformed").to_string();
            assert!(error.contains(&path.display().to_string()), "{error}");
        }
        let path = directory.join("short-key");
        let error = load(&path).expect_err("malformed").to_string();
        assert!(error.contains("got 10 bytes"), "{error}");
        fs::remove_dir_all(directory).expect("cleans up");
    }
}
