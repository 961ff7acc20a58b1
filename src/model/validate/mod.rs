//! Client input for servers and namespaces, checked field by field so a client learns
//! exactly which field is wrong; unknown fields are refused. `PUT` changes the fields it
//! names and keeps the rest, and a masked secret sent back unchanged keeps the stored
//! value, so GET → edit → PUT works.
//!
//! This file holds what both drafts share (field readers, names, secrets; the error,
//! [`Invalid`], is `model::invalid`, since `model::auth` returns it too);
//! [`server`] the server object's fields, its URL and header rules; [`namespace`] the
//! namespace object's.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::model::MASK;
use crate::model::names::is_valid_name;

pub use crate::model::invalid::Invalid;

pub(super) const MAX_URL: usize = 2048;
pub(super) const MAX_COMMAND: usize = 1024;
pub(super) const MAX_ARGS: usize = 256;
pub(super) const MAX_MAP_ENTRIES: usize = 100;
pub(super) const MAX_VALUE: usize = 8192;
pub(super) const MAX_DESCRIPTION: usize = 1000;
pub(super) const MAX_TIMEOUT_MS: i64 = 3_600_000;
pub(super) const DEFAULT_TIMEOUT_MS: i32 = 60_000;
pub(super) const DEFAULT_MAX_CONCURRENCY: i32 = 32;
pub(super) const MAX_CONCURRENCY: i64 = 1024;
pub(super) const DEFAULT_MAX_INSTANCES: i32 = 8;
pub(super) const DEFAULT_BREAKER_FAILURES: i32 = 5;
pub(super) const DEFAULT_BREAKER_COOLDOWN_MS: i32 = 10_000;
pub(super) const MAX_INSTANCES: i64 = 1024;
/// Headers the gateway sets itself on upstream requests.
pub(super) const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "upgrade",
    "te",
    "trailer",
    "keep-alive",
    "proxy-connection",
    "accept",
    "mcp-session-id",
    "mcp-protocol-version",
    "last-event-id",
];

mod namespace;
mod server;

pub use namespace::NamespaceDraft;
pub use server::ServerDraft;

pub fn object(body: &Value) -> Result<&Map<String, Value>, Invalid> {
    body.as_object().ok_or_else(|| Invalid {
        field: None,
        message: "the request body must be a JSON object".into(),
    })
}

/// A field's value: absent, explicitly null, or present.
pub(super) enum Field<'a> {
    Absent,
    Null,
    Value(&'a Value),
}

pub(super) fn field<'a>(obj: &'a Map<String, Value>, name: &str) -> Field<'a> {
    match obj.get(name) {
        None => Field::Absent,
        Some(Value::Null) => Field::Null,
        Some(v) => Field::Value(v),
    }
}

pub(super) fn string_field(
    obj: &Map<String, Value>,
    name: &str,
) -> Result<Option<Option<String>>, Invalid> {
    match field(obj, name) {
        Field::Absent => Ok(None),
        Field::Null => Ok(Some(None)),
        Field::Value(Value::String(s)) => Ok(Some(Some(s.clone()))),
        Field::Value(_) => Err(Invalid::field(name, "must be a string")),
    }
}

pub(super) fn reject_unknown(
    obj: &Map<String, Value>,
    known: &[&str],
    read_only: &[&str],
    allow_read_only: bool,
) -> Result<(), Invalid> {
    for k in obj.keys() {
        if read_only.contains(&k.as_str()) {
            if !allow_read_only {
                return Err(Invalid::field(k, "is assigned by the gateway"));
            }
        } else if !known.contains(&k.as_str()) {
            return Err(Invalid::field(
                k,
                format!("unknown field (expected one of: {})", known.join(", ")),
            ));
        }
    }
    Ok(())
}

/// A whole-number field within `lo..=hi`: `None` when absent, `Some(None)` when null
/// (allowed only if `nullable`).
pub(super) fn whole_number(
    obj: &Map<String, Value>,
    name: &str,
    lo: i64,
    hi: i64,
    nullable: bool,
) -> Result<Option<Option<i32>>, Invalid> {
    let or_null = if nullable { ", or null" } else { "" };
    match field(obj, name) {
        Field::Absent => Ok(None),
        Field::Null if nullable => Ok(Some(None)),
        Field::Value(Value::Number(n)) => match n.as_i64() {
            Some(v) if (lo..=hi).contains(&v) => Ok(Some(Some(v as i32))),
            _ => Err(Invalid::field(
                name,
                format!("must be a whole number from {lo} to {hi}{or_null}"),
            )),
        },
        _ => Err(Invalid::field(name, format!("must be a number{or_null}"))),
    }
}

/// `name` (servers and namespaces): `Some` when given; required when creating.
pub(super) fn name_field(
    obj: &Map<String, Value>,
    creating: bool,
) -> Result<Option<String>, Invalid> {
    match string_field(obj, "name")? {
        Some(Some(n)) if is_valid_name(&n) => Ok(Some(n)),
        Some(Some(_)) => Err(Invalid::field(
            "name",
            "must match ^[A-Za-z0-9][A-Za-z0-9-]{0,31}$ (letters, digits, '-')",
        )),
        Some(None) => Err(Invalid::field("name", "cannot be null")),
        None if creating => Err(Invalid::field("name", "is required")),
        None => Ok(None),
    }
}

/// A string map of secrets (`env`, `headers`): a value equal to [`MASK`] keeps the stored
/// value for that key, so a masked GET can be sent back unchanged.
pub(super) fn secret_map(
    obj: &Map<String, Value>,
    name: &str,
    existing: Option<&BTreeMap<String, String>>,
) -> Result<Option<BTreeMap<String, String>>, Invalid> {
    match field(obj, name) {
        Field::Absent => Ok(None),
        Field::Null => Ok(Some(BTreeMap::new())),
        Field::Value(Value::Object(m)) => {
            if m.len() > MAX_MAP_ENTRIES {
                return Err(Invalid::field(
                    name,
                    format!("at most {MAX_MAP_ENTRIES} entries"),
                ));
            }
            let mut out = BTreeMap::new();
            for (k, v) in m {
                let Value::String(v) = v else {
                    return Err(Invalid::field(
                        name,
                        format!("the value of {k} must be a string"),
                    ));
                };
                if v.len() > MAX_VALUE || v.contains('\0') {
                    return Err(Invalid::field(
                        name,
                        format!("the value of {k} is too long or has NUL"),
                    ));
                }
                if let Err(e) = crate::model::refs::check(v) {
                    return Err(Invalid::field(name, format!("the value of {k}: {e}")));
                }
                let value = if v == MASK {
                    match existing.and_then(|e| e.get(k)) {
                        Some(old) => old.clone(),
                        None => {
                            return Err(Invalid::field(
                                name,
                                format!("{k} is masked but has no stored value to keep"),
                            ));
                        }
                    }
                } else {
                    v.clone()
                };
                out.insert(k.clone(), value);
            }
            Ok(Some(out))
        }
        Field::Value(_) => Err(Invalid::field(name, "must be an object of strings")),
    }
}

#[cfg(test)]
mod tests;

/// The `tool_changes` field of a server or a namespace: `hold` (also for `null`) or
/// `accept`; `current` when absent.
pub(super) fn tool_changes(
    obj: &Map<String, Value>,
    current: crate::model::ToolChanges,
) -> Result<crate::model::ToolChanges, Invalid> {
    match field(obj, "tool_changes") {
        Field::Absent => Ok(current),
        Field::Null => Ok(crate::model::ToolChanges::default()),
        Field::Value(v) => v
            .as_str()
            .and_then(crate::model::ToolChanges::parse)
            .ok_or_else(|| {
                Invalid::field(
                    "tool_changes",
                    "must be hold (changed and new tools wait for an admin's review) or accept",
                )
            }),
    }
}
