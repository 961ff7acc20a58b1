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
use crate::model::Namespace;

pub(crate) use crate::model::exposure::{Exposure, exposure};

use super::{Problem, View};

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
