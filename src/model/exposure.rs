//! The names a client sees and how a namespace's overrides meet them: a server's item
//! exposed prefixed or bare, always a valid MCP tool name (with a stable short hash that
//! shortens one that is not), and each tool's override, looked up by the server and the
//! tool's own name or by the name it is exposed under (`routing` builds views with it,
//! `pins` finds clashes of exposed names with it).
//!
//! A key that names a member server (`alw__echo`, where `alw` is a member) binds that
//! server's tool only: another member offering a tool exposed under that key does not
//! take the override.

use super::names::is_valid_tool_name;
use super::{Namespace, ToolOverride};

/// FNV-1a, for stable short hashes.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The name a client sees for `server`'s `name`: prefixed (`server__name`) or bare,
/// always within `^[A-Za-z0-9_-]{1,64}$`. Too long or with other characters, it becomes
/// a readable prefix, `_`, and eight hex digits of a hash of the original.
pub fn exposed_name(server: &str, name: &str, prefix: bool) -> String {
    let full = if prefix {
        format!("{server}__{name}")
    } else {
        name.to_string()
    };
    if is_valid_tool_name(&full) {
        return full;
    }
    let hash = format!("{:08x}", fnv1a(full.as_bytes()) as u32);
    let clean: String = full
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let keep = 64 - 1 - hash.len();
    let head: String = clean.chars().take(keep).collect();
    format!("{head}_{hash}")
}

/// How a namespace exposes one tool of `server` (its own name `original`).
pub enum Exposure<'n> {
    /// Switched off, under the name it would have had.
    Disabled(String),
    /// Exposed under this name, with the override applied (if any).
    Exposed(String, Option<&'n ToolOverride>),
    /// Left out: its exposed name is the key of an override that binds another member's
    /// tool (`owner`, the member the key names).
    Claimed { name: String, owner: String },
}

/// The member server an override key names (`alw__echo` → `alw`), as the namespace
/// spells it; the gateway's own tools' name too. `None`: a key that names no member
/// (an exposed name, matched by whichever tool is exposed under it).
pub fn owner<'a>(ns: &'a Namespace, key: &str) -> Option<&'a str> {
    let (server, _) = key.split_once("__")?;
    if server.eq_ignore_ascii_case(super::names::GATEWAY_NAME) {
        return Some(super::names::GATEWAY_NAME);
    }
    ns.servers
        .iter()
        .find(|m| m.eq_ignore_ascii_case(server))
        .map(String::as_str)
}

/// The namespace's override of `server`'s tool `original`, looked up by the server and
/// the tool's own name (what the store keeps) or by the exposed name, and the name it is
/// exposed under; the override's key is added to `matched`. An exposed name that is the
/// key of another member's tool is not this tool's: [`Exposure::Claimed`].
pub fn exposure<'n>(
    server: &str,
    original: &str,
    ns: Option<&'n Namespace>,
    matched: &mut std::collections::HashSet<&'n str>,
) -> Exposure<'n> {
    let prefixed = exposed_name(server, original, true);
    let default_name = if ns.is_none_or(|n| n.prefix_tools) {
        prefixed.clone()
    } else {
        exposed_name(server, original, false)
    };
    let own_key = format!("{server}__{original}");
    let mut claimed_by = None;
    let o = ns.and_then(|n| {
        let own = [&own_key, &prefixed]
            .into_iter()
            .find_map(|k| n.tools.get_key_value(k.as_str()));
        own.or_else(|| {
            let by_name = n.tools.get_key_value(default_name.as_str())?;
            match owner(n, by_name.0) {
                Some(o) if !o.eq_ignore_ascii_case(server) => {
                    claimed_by = Some(o.to_string());
                    None
                }
                _ => Some(by_name),
            }
        })
    });
    if let Some(owner) = claimed_by {
        return Exposure::Claimed {
            name: default_name,
            owner,
        };
    }
    if let Some((k, _)) = o {
        matched.insert(k.as_str());
    }
    let o = o.map(|(_, o)| o);
    // An allow-list (`tools_default: disabled`) offers only the tools its overrides name.
    let allowed = o.map_or(ns.is_none_or(|n| n.tools_enabled_by_default), |o| o.enabled);
    if !allowed {
        return Exposure::Disabled(default_name);
    }
    Exposure::Exposed(o.and_then(|o| o.name.clone()).unwrap_or(default_name), o)
}
