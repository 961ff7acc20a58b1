//! Command-line flags shared by the binaries: a small hand-written parser.
//!
//! Flags take `--name value` or `--name=value`; settings flags map onto the configuration
//! variables they override.

use std::borrow::Cow;
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

/// Whether `c` must not reach a terminal as itself: C0 and C1 controls, DEL, and the
/// Unicode marks that reorder or hide text (bidirectional overrides and isolates).
fn unprintable(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// A client- or backend-controlled string made safe for one cell or line of text
/// output: every control character is written as an escape (`\n`, `\r`, `\t`, `\x1b`,
/// `\u{202e}`), so it can neither start a row of its own nor drive the terminal.
pub fn printable(s: &str) -> Cow<'_, str> {
    if !s.chars().any(unprintable) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if unprintable(c) && (c as u32) < 0x100 => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if unprintable(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// JSON about to be printed with every unprintable character inside its strings written
/// as a `\uXXXX` escape (serde escapes only C0): still the same JSON, and nothing in it
/// drives a terminal (DEL, C1 controls such as CSI, bidirectional overrides).
pub fn json_safe(json: &str) -> Cow<'_, str> {
    if !json.chars().any(|c| c != '\n' && unprintable(c)) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if c != '\n' && unprintable(c) {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// What a command prints, made safe for a terminal: JSON stays JSON ([`json_safe`]),
/// any other text goes through [`terminal_safe`].
pub fn safe_output(text: &str) -> Cow<'_, str> {
    let t = text.trim_start();
    if (t.starts_with('{') || t.starts_with('['))
        && serde_json::Deserializer::from_str(text)
            .into_iter::<serde::de::IgnoredAny>()
            .all(|v| v.is_ok())
    {
        json_safe(text)
    } else {
        terminal_safe(text)
    }
}

/// Text about to be printed, line by line: each line passes through [`printable`], so
/// the lines the program meant stay lines and nothing else reaches the terminal raw.
/// The last guard of keyadm's and mcpc's output, whatever built the text.
pub fn terminal_safe(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c != '\n' && unprintable(c)) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.split('\n')
            .map(printable)
            .collect::<Vec<_>>()
            .join("\n"),
    )
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

    #[test]
    fn control_characters_never_reach_the_terminal_raw() {
        let forged = "a\n2026-01-01T00:00:00Z  tools/call FORGED-ROW ok\x1b[2J\x07\u{9b}\u{202e}";
        let cell = printable(forged);
        assert_eq!(
            cell,
            "a\\n2026-01-01T00:00:00Z  tools/call FORGED-ROW ok\\x1b[2J\\x07\\x9b\\u{202e}"
        );
        assert!(!cell.contains('\n') && !cell.contains('\x1b'));
        assert!(matches!(printable("plain words"), Cow::Borrowed(_)));
        // Whole outputs keep their lines.
        let text = format!("HEADER\nrow {forged}\n");
        let safe = terminal_safe(&text);
        assert_eq!(safe.lines().count(), 3, "{safe}");
        assert!(!safe.chars().any(|c| c != '\n' && unprintable(c)), "{safe}");
        // JSON stays the same JSON.
        let json = serde_json::json!({"uri": forged}).to_string();
        let safe = safe_output(&json);
        assert!(!safe.chars().any(unprintable), "{safe}");
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back["uri"], forged);
        let astral = safe_output("[\"\u{1f600}\u{202e}\"]\n");
        assert_eq!(astral, "[\"\u{1f600}\\u202e\"]\n");
        assert_eq!(safe_output("not json \x1b"), "not json \\x1b");
    }
}
