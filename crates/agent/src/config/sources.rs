//! Reads config files, config directories and `-hcl` snippets into parsed JSON trees.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::ConfigError;

/// One parsed config file or snippet, and the name it goes by in messages.
#[derive(Debug)]
pub(super) struct Source {
    pub(super) origin: String,
    pub(super) value: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Hcl,
}

impl Format {
    fn of(path: &Path) -> Option<Format> {
        match path.extension()?.to_str()? {
            "json" => Some(Format::Json),
            "hcl" => Some(Format::Hcl),
            _ => None,
        }
    }
}

/// Reads each path in order: a file as itself, a directory as its `*.json` and `*.hcl` files in
/// lexical order (sub-directories skipped, other files skipped with a warning).
pub(super) fn read_paths(
    paths: &[PathBuf],
    warnings: &mut Vec<String>,
) -> Result<Vec<Source>, ConfigError> {
    let mut sources = Vec::new();
    for path in paths {
        let metadata = fs::metadata(path).map_err(|cause| read_error(path, cause))?;
        if metadata.is_dir() {
            for file in dir_files(path, warnings)? {
                sources.extend(read_file(&file)?);
            }
        } else {
            sources.extend(read_file(path)?);
        }
    }
    Ok(sources)
}

/// Parses a `-hcl` snippet; `origin` names it in messages.
pub(super) fn parse_snippet(origin: &str, text: &str) -> Result<Source, ConfigError> {
    Ok(Source {
        origin: origin.to_string(),
        value: parse(origin, text, Format::Hcl)?,
    })
}

fn dir_files(dir: &Path, warnings: &mut Vec<String>) -> Result<Vec<PathBuf>, ConfigError> {
    let entries = fs::read_dir(dir).map_err(|cause| read_error(dir, cause))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|cause| read_error(dir, cause))?.path();
        if path.is_dir() {
            continue;
        }
        if Format::of(&path).is_some() {
            files.push(path);
        } else {
            warnings.push(format!(
                "skipping file {}, extension must be .hcl or .json",
                path.display()
            ));
        }
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(files)
}

/// Reads one file; an empty file yields nothing, as in Consul.
fn read_file(path: &Path) -> Result<Option<Source>, ConfigError> {
    let format = Format::of(path).ok_or_else(|| ConfigError::UnknownExtension(path.into()))?;
    let text = fs::read_to_string(path).map_err(|cause| read_error(path, cause))?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    let origin = path.display().to_string();
    let value = parse(&origin, &text, format)?;
    Ok(Some(Source { origin, value }))
}

fn parse(origin: &str, text: &str, format: Format) -> Result<Value, ConfigError> {
    let parsed = match format {
        Format::Json => serde_json::from_str(text).map_err(|e| e.to_string()),
        Format::Hcl => parse_hcl(text),
    };
    parsed.map_err(|message| ConfigError::Syntax {
        origin: origin.to_string(),
        message,
    })
}

/// Parses HCL, accepting Consul's HCL 1 one-line objects when the text is not valid HCL 2 as it is.
pub fn parse_hcl(text: &str) -> Result<Value, String> {
    hcl::from_str(text).or_else(|error| {
        hcl::from_str(&super::hcl1::split_object_items(text)).map_err(|_| error.to_string())
    })
}

fn read_error(path: &Path, cause: std::io::Error) -> ConfigError {
    ConfigError::Read {
        path: path.into(),
        cause,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::TempDir;

    #[test]
    fn directory_files_load_in_lexical_order_skipping_others() {
        let dir = TempDir::new("sources-order");
        dir.write("b.hcl", "datacenter = \"b\"\n");
        dir.write("a.json", r#"{"datacenter": "a"}"#);
        dir.write("notes.txt", "ignored");
        dir.write("empty.json", "");
        fs::create_dir(dir.path().join("sub.json")).unwrap();
        let mut warnings = Vec::new();
        let sources = read_paths(&[dir.path().to_path_buf()], &mut warnings).unwrap();
        let origins: Vec<_> = sources.iter().map(|s| s.origin.clone()).collect();
        assert_eq!(origins.len(), 2);
        assert!(origins[0].ends_with("a.json") && origins[1].ends_with("b.hcl"));
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("notes.txt"));
    }

    #[test]
    fn hcl_and_json_parse_to_the_same_tree() {
        let hcl = parse(
            "x.hcl",
            "ports {\n  http = 8501\n}\nretry_join = [\"a\"]\nacl {\n  tokens {\n    master = \"m\"\n  }\n}\n",
            Format::Hcl,
        )
        .unwrap();
        let json = parse(
            "x.json",
            r#"{"ports": {"http": 8501}, "retry_join": ["a"], "acl": {"tokens": {"master": "m"}}}"#,
            Format::Json,
        )
        .unwrap();
        assert_eq!(hcl, json);
    }

    #[test]
    fn syntax_errors_name_the_origin() {
        let error = parse("bad.json", "{", Format::Json)
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("failed to parse bad.json"), "{error}");
    }

    #[test]
    fn unknown_extension_is_an_error_for_named_files() {
        let dir = TempDir::new("sources-ext");
        let file = dir.write("agent.conf", "{}");
        let error = read_paths(&[file], &mut Vec::new()).unwrap_err();
        assert!(matches!(error, ConfigError::UnknownExtension(_)));
    }
}
