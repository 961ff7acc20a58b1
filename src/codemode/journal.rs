//! A run's journal: the script's digest, its clock and random seed, and each completed
//! inner call (its order among the run's calls, its tool, a digest of its arguments, its
//! outcome). Serialisable, so any replica can hold it between a suspended run and its
//! resumption; a re-run answers a call from the journal when order, kind, tool and
//! digest match, and fails when they do not (never a silent second call).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::InnerError;

/// A run's journal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Journal {
    /// SHA-256 of the code, hex: a journal resumes only its own script.
    pub code: String,
    /// What `Date.now()` gives, in milliseconds since the epoch.
    pub time: f64,
    /// `Math.random`'s seed.
    pub seed: u32,
    /// The completed calls, in the order they completed.
    pub entries: Vec<Entry>,
    /// Results past [`MAX_JOURNAL`] came since: this journal no longer holds every
    /// completed call, and cannot resume its run (never sealed, so never read back).
    #[serde(skip)]
    pub overflowed: bool,
}

/// Bytes of results a journal keeps (as their answers came): more could not be carried in
/// a run's state anyway (it is bounded at 1 MiB), so a run whose results pass it keeps
/// none past it, and cannot be suspended.
pub const MAX_JOURNAL: usize = 1 << 20;

/// Whether an entry is a tool call or a search.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Call,
    Search,
}

/// One completed inner call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Its place among the run's inner calls, from 0, in the order the script made them.
    pub order: u32,
    pub kind: Kind,
    /// The tool's name as called (the query, for a search).
    pub tool: String,
    /// SHA-256 of the arguments in canonical form (members sorted), hex.
    pub digest: String,
    /// The `CallToolResult`, or the error.
    pub outcome: Result<Value, InnerError>,
    pub ms: u64,
}

impl Journal {
    /// A new run's journal for `code`: the clock read now, a fresh seed.
    pub fn start(code: &str) -> Journal {
        let time = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_millis() as f64);
        // A v4 UUID's bits come from the operating system's random source.
        let seed = uuid::Uuid::new_v4().as_u128() as u32;
        Journal {
            code: code_digest(code),
            time,
            seed,
            entries: Vec::new(),
            overflowed: false,
        }
    }

    /// Whether this journal is `code`'s.
    pub fn is_of(&self, code: &str) -> bool {
        self.code == code_digest(code)
    }

    /// The entry of the call made `order`th.
    pub fn entry(&self, order: u32) -> Option<&Entry> {
        self.entries.iter().find(|e| e.order == order)
    }
}

/// SHA-256 of the code, hex.
pub fn code_digest(code: &str) -> String {
    hex(&Sha256::digest(code.as_bytes()))
}

/// SHA-256 of `arguments` in canonical form: object members sorted by name, no blanks,
/// strings and numbers as serde_json writes them.
pub fn digest(arguments: &Map<String, Value>) -> String {
    let mut out = String::new();
    canonical_object(arguments, &mut out);
    hex(&Sha256::digest(out.as_bytes()))
}

fn canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => canonical_object(m, out),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(x, out);
            }
            out.push(']');
        }
        v => out.push_str(&v.to_string()),
    }
}

fn canonical_object(m: &Map<String, Value>, out: &mut String) {
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    out.push('{');
    for (i, k) in keys.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&Value::String(k.clone()).to_string());
        out.push(':');
        canonical(&m[k], out);
    }
    out.push('}');
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
