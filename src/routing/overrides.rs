//! How a namespace's overrides (and its allow-list, `tools_default: disabled`) meet the
//! tools its members offer: each tool's override, looked up by the server and the tool's
//! own name or by the name it is exposed under; the overrides that meet no tool.
//!
//! A key that names a member server (`alw__echo`, where `alw` is a member) binds that
//! server's tool only. Another member offering a tool whose exposed name is that key
//! (`evl`'s own `alw__echo` under `tool_prefix: never`) does not take the override: its
//! tool is left out and the namespace reports the collision, so an allow-list entry never
//! lets through a tool of a server it does not name.

use std::sync::Arc;

use crate::backend::{Backend, Status};
use crate::model::{Namespace, ToolOverride};

use super::{Problem, View, exposed_name};

/// How a namespace exposes one tool of `server` (its own name `original`).
pub(crate) enum Exposure<'n> {
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
fn owner<'a>(ns: &'a Namespace, key: &str) -> Option<&'a str> {
    let (server, _) = key.split_once("__")?;
    if server.eq_ignore_ascii_case(super::SERVED_BY) {
        return Some(super::SERVED_BY);
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
pub(crate) fn exposure<'n>(
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

/// Overrides that name no tool of the namespace: a server outside it, a tool its server
/// no longer offers, an exposed name nothing has. Only judged against running servers
/// (a server that is down has no list to judge by).
pub(super) fn unmatched_overrides(
    view: &mut View,
    members: &[&Arc<Backend>],
    ns: &Namespace,
    matched: &std::collections::HashSet<&str>,
) {
    let all_running = members.iter().all(|b| b.status() == Status::Running);
    for key in ns.tools.keys().filter(|k| !matched.contains(k.as_str())) {
        let server = key.split_once("__").map(|(s, _)| s);
        let member = server.and_then(|s| members.iter().find(|b| b.name.eq_ignore_ascii_case(s)));
        let problem = match (server, member) {
            (Some(_), Some(b)) if b.status() == Status::Running => Problem {
                servers: vec![b.name.clone()],
                message: format!(
                    "the override of {key:?} names a tool server {} does not offer",
                    b.name
                ),
            },
            (Some(_), Some(_)) => continue,
            _ if !all_running => continue,
            (Some(s), None) if ns.servers.iter().all(|m| !m.eq_ignore_ascii_case(s)) => Problem {
                servers: vec![],
                message: format!(
                    "the override of {key:?} names server {s}, which is not in namespace {}",
                    ns.name
                ),
            },
            _ => Problem {
                servers: vec![],
                message: format!(
                    "the override of {key:?} matches no tool of namespace {}",
                    ns.name
                ),
            },
        };
        view.errors.push(problem);
    }
}
