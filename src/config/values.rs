//! How one setting's value is read (sizes, durations, lists, hex keys, on/off), secrets
//! whose `Debug` never shows them, and the list of bad settings a parse collects.

use std::fmt;
use std::time::Duration;

/// A secret string whose `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A 32-byte symmetric key whose `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyBytes(pub [u8; 32]);

impl fmt::Debug for KeyBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyBytes(***)")
    }
}

/// Collects bad settings while parsing goes on.
#[derive(Default)]
pub(super) struct Collector(pub(super) Vec<ConfigError>);

impl Collector {
    pub(super) fn push(&mut self, key: &str, message: impl Into<String>) {
        self.0.push(ConfigError::new(key, message));
    }

    pub(super) fn has(&self, key: &str) -> bool {
        self.0.iter().any(|e| e.key == key)
    }

    pub(super) fn check<T>(&mut self, key: &str, r: Result<T, String>) -> Option<T> {
        r.map_err(|message| self.push(key, message)).ok()
    }
}

pub(super) fn default_hosts() -> Vec<String> {
    ["localhost", "127.0.0.1", "[::1]"]
        .map(String::from)
        .to_vec()
}

pub(super) fn default_origins() -> Vec<String> {
    [
        "http://localhost",
        "http://127.0.0.1",
        "http://[::1]",
        "https://localhost",
        "https://127.0.0.1",
        "https://[::1]",
    ]
    .map(String::from)
    .to_vec()
}

/// A comma-separated list with blanks dropped; empty entries are an error.
pub(super) fn parse_list(s: &str) -> Result<Vec<String>, String> {
    let items: Vec<String> = s.split(',').map(|p| p.trim().to_string()).collect();
    if items
        .iter()
        .any(|i| i.is_empty() || i.contains(char::is_whitespace))
    {
        return Err("expected a comma-separated list without empty entries".to_string());
    }
    Ok(items)
}

/// Decodes exactly 64 hex digits into 32 bytes.
pub fn parse_key_hex(s: &str) -> Option<[u8; 32]> {
    let s = s.trim().as_bytes();
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in s.chunks_exact(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

/// Parses `4MiB`, `512 KiB`, `1048576`, `10MB`, `2G` into bytes.
pub fn parse_size(s: &str) -> Result<usize, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: usize = num
        .parse()
        .map_err(|_| format!("expected a size like 4MiB, got {s:?}"))?;
    let mult: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => return Err(format!("unknown size unit in {s:?} (use B, KiB, MiB, GiB)")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("size {s:?} is too large"))
}

/// A whole number from 1 to `max`.
pub(super) fn whole_number(s: &str, max: usize) -> Result<usize, String> {
    s.trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| format!("must be a whole number from 1 to {max}"))
}

/// Parses `90s`, `15m`, `24h`, `7d` or a plain number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("expected a duration like 24h, got {s:?}"))?;
    let millis = match unit.trim() {
        "ms" => 1,
        "" | "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => {
            return Err(format!(
                "unknown duration unit in {s:?} (use ms, s, m, h, d)"
            ));
        }
    };
    match n.checked_mul(millis) {
        Some(0) | None => Err(format!("duration {s:?} must be positive and finite")),
        Some(total) => Ok(Duration::from_millis(total)),
    }
}

/// `on`/`off` (also `true`/`false`, `1`/`0`).
pub(super) fn on_off(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "on" | "true" | "1" | "yes" => Ok(true),
        "off" | "false" | "0" | "no" => Ok(false),
        _ => Err(format!("expected on or off, got {s:?}")),
    }
}

/// A duration that may also be zero (`0`, `0s`).
pub(super) fn parse_duration_or_zero(s: &str) -> Result<Duration, String> {
    match parse_duration(s) {
        Err(e) => {
            let t = s.trim();
            let rest = t.trim_start_matches('0');
            // All zeros with a valid unit: zero.
            if rest.len() < t.len()
                && !rest.starts_with(|c: char| c.is_ascii_digit())
                && parse_duration(&format!("1{rest}")).is_ok()
            {
                Ok(Duration::ZERO)
            } else {
                Err(e)
            }
        }
        ok => ok,
    }
}

/// One bad setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

impl ConfigError {
    pub(super) fn new(key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            key: key.to_string(),
            message: message.into(),
        }
    }
}

/// Every bad setting found in one pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    pub fn of(key: &str, message: impl Into<String>) -> ConfigErrors {
        ConfigErrors(vec![ConfigError::new(key, message)])
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "configuration error: {}: {}", e.key, e.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}
