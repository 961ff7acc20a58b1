//! Command-line flags shared by the binaries: a small hand-written parser.
//!
//! Flags take `--name value` or `--name=value`; settings flags map onto the configuration
//! variables they override.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::config;

/// A usage error: the binaries print it with a pointer to `--help` and exit 64.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Flags that override configuration variables, shared by every binary.
pub const SETTING_FLAGS: &[(&str, &str)] = &[
    ("--listen", config::LISTEN),
    ("--database-url", config::DATABASE_URL),
    ("--data-dir", config::DATA_DIR),
    ("--max-body", config::MAX_BODY),
];

/// Arguments left after the settings flags were taken out.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Variable name → value, for [`config::Config::load`].
    pub overrides: HashMap<String, String>,
    /// `--config FILE`.
    pub config_file: Option<PathBuf>,
    /// Everything else, in order, with `--flag=value` split into two items.
    pub rest: Vec<String>,
}

/// Takes the settings flags (wherever they appear) out of `args`.
pub fn parse_settings(args: impl IntoIterator<Item = String>) -> Result<Parsed, UsageError> {
    let mut parsed = Parsed::default();
    let mut it = args.into_iter().flat_map(split_equals);
    while let Some(arg) = it.next() {
        let setting = SETTING_FLAGS.iter().find(|(f, _)| *f == arg);
        if let Some((flag, var)) = setting {
            let value = it
                .next()
                .ok_or_else(|| UsageError(format!("{flag} needs a value")))?;
            parsed.overrides.insert(var.to_string(), value);
        } else if arg == "--config" {
            let value = it
                .next()
                .ok_or_else(|| UsageError("--config needs a file".to_string()))?;
            parsed.config_file = Some(PathBuf::from(value));
        } else {
            parsed.rest.push(arg);
        }
    }
    Ok(parsed)
}

fn split_equals(arg: String) -> Vec<String> {
    if arg.starts_with("--")
        && let Some((flag, value)) = arg.split_once('=')
    {
        return vec![flag.to_string(), value.to_string()];
    }
    vec![arg]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn settings_flags_anywhere() {
        let p = parse_settings(args(
            "keys --data-dir /d list --database-url=postgresql:///x --json",
        ))
        .unwrap();
        assert_eq!(p.overrides[config::DATA_DIR], "/d");
        assert_eq!(p.overrides[config::DATABASE_URL], "postgresql:///x");
        assert_eq!(p.rest, args("keys list --json"));
        assert!(parse_settings(args("--listen")).is_err());
    }
}
