//! Why an agent configuration could not be loaded; every message names the file (or flag) and key.

use std::path::PathBuf;

/// A configuration problem that stops the agent from starting.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A config file or directory could not be read.
    #[error("failed to read {path}: {cause}")]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// What the operating system said.
        cause: std::io::Error,
    },
    /// A config file given with `-config-file` is neither `.json` nor `.hcl`.
    #[error("file {0} has unknown extension; must be .hcl or .json")]
    UnknownExtension(PathBuf),
    /// A file or `-hcl` snippet is not valid JSON/HCL.
    #[error("failed to parse {origin}: {message}")]
    Syntax {
        /// The file name, or `-hcl` snippet number.
        origin: String,
        /// The parser's message.
        message: String,
    },
    /// A key holds a value of the wrong type or out of range.
    #[error("{origin}: invalid value for {key}: {reason}")]
    Value {
        /// The file name, `-hcl` snippet, or "command line".
        origin: String,
        /// The key as written (`ports.http`) or the flag (`-http-port`).
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The merged configuration is inconsistent (e.g. `bootstrap` without `server`).
    #[error("{0}")]
    Invalid(String),
}
