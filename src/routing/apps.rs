//! MCP Apps (`io.modelcontextprotocol/ui`, SEP-1865) across servers. A tool names the
//! view a host renders for it in `_meta.ui.resourceUri` (earlier drafts:
//! `_meta["ui/resourceUri"]`), a `ui://` resource its server serves, listed or not.
//! Servers pick such URIs on their own, so two of them often use the same one
//! (`ui://widget/main.html`). The oldest registration keeps a URI; a later server's is
//! renamed `ui://<server>/<rest>`, in its resource listing and in its tools' `_meta`
//! alike, and a read of the new name reaches that server under its own URI.

use foldhash::{HashMap, HashMapExt};
use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;
use uuid::Uuid;

use crate::backend::{Backend, Status};
use crate::jsonrpc::frame::json_string;

pub use crate::base::caps::UI_EXTENSION;

const SCHEME: &str = "ui://";
/// The `_meta` key of the first drafts, still sent by some servers.
const LEGACY_KEY: &str = "ui/resourceUri";

/// The view URIs of one view: what each member's `ui://` URIs are exposed as, and the
/// URIs its tools name without listing them.
#[derive(Default)]
pub(super) struct UiNames {
    /// (server, its own URI) → exposed URI, for the renamed ones only.
    renamed: HashMap<(Uuid, String), String>,
    /// Exposed URI → owner and (when renamed) its own URI: every `ui://` URI of the view.
    owners: HashMap<String, (Arc<Backend>, Option<String>)>,
}

/// A `ui://` resource's route: its owner and, when the gateway renamed it, the owner's
/// own URI as a JSON string literal (spliced into the request).
#[derive(Clone)]
pub struct UiRoute {
    pub backend: Arc<Backend>,
    pub upstream: Option<Bytes>,
}

/// The `ui://` URIs a tool names in its `_meta`.
fn named_by(tool: &Value) -> impl Iterator<Item = &str> {
    let meta = &tool["_meta"];
    [&meta["ui"]["resourceUri"], &meta[LEGACY_KEY]]
        .into_iter()
        .filter_map(Value::as_str)
        .filter(|u| u.starts_with(SCHEME))
}

impl UiNames {
    /// Names every `ui://` URI of the running `members`, oldest registration first.
    pub(super) fn of(members: &[&Arc<Backend>]) -> UiNames {
        let mut by_age: Vec<&&Arc<Backend>> = members.iter().collect();
        by_age.sort_by_key(|b| (b.server.registered_us, b.id));
        let mut names = UiNames::default();
        for b in by_age.into_iter().filter(|b| b.status() == Status::Running) {
            let lists = b.lists();
            let listed = lists.resources.iter().filter_map(|r| r["uri"].as_str());
            let named = lists.tools.iter().flat_map(named_by);
            for uri in listed.chain(named).filter(|u| u.starts_with(SCHEME)) {
                if names.renamed.contains_key(&(b.id, uri.to_string())) {
                    continue;
                }
                let mine = names.owners.get(uri).is_some_and(|(o, _)| o.id == b.id);
                if mine {
                    continue;
                }
                if !names.owners.contains_key(uri) {
                    names.owners.insert(uri.to_string(), ((*b).clone(), None));
                    continue;
                }
                let exposed = format!("{SCHEME}{}/{}", b.name, &uri[SCHEME.len()..]);
                if names.owners.contains_key(&exposed) {
                    // Taken even so (a server named like another's path): the older
                    // one keeps it, and the clash is reported with the resources'.
                    continue;
                }
                names
                    .owners
                    .insert(exposed.clone(), ((*b).clone(), Some(uri.to_string())));
                names.renamed.insert((b.id, uri.to_string()), exposed);
            }
        }
        names
    }

    /// What `backend` names `uri` exposed as.
    pub(super) fn exposed<'a>(&'a self, backend: Uuid, uri: &'a str) -> &'a str {
        self.renamed
            .get(&(backend, uri.to_string()))
            .map_or(uri, String::as_str)
    }

    /// Whether [`tool_entry`](Self::tool_entry) may change `tool`'s entry (it names a
    /// `ui://` resource and some are renamed).
    pub(super) fn touches(&self, tool: &Value) -> bool {
        !self.renamed.is_empty() && tool.get("_meta").is_some()
    }

    /// A tool's listing entry with its view URIs as exposed.
    pub(super) fn tool_entry(&self, backend: Uuid, entry: &mut Value) {
        if self.renamed.is_empty() {
            return;
        }
        let Some(meta) = entry.get_mut("_meta") else {
            return;
        };
        let rename = |v: &mut Value| {
            if let Some(uri) = v.as_str()
                && let Some(new) = self.renamed.get(&(backend, uri.to_string()))
            {
                *v = Value::String(new.clone());
            }
        };
        if let Some(v) = meta.get_mut("ui").and_then(|u| u.get_mut("resourceUri")) {
            rename(v);
        }
        if let Some(v) = meta.get_mut(LEGACY_KEY) {
            rename(v);
        }
    }

    /// The routes of the view URIs its members' resource lists leave out (a tool names
    /// them), and of the renamed ones.
    pub(super) fn routes(self) -> HashMap<String, UiRoute> {
        let mut out = HashMap::with_capacity(self.owners.len());
        for (exposed, (backend, own)) in self.owners {
            out.insert(
                exposed,
                UiRoute {
                    backend,
                    upstream: own.map(|u| Bytes::from(json_string(&u))),
                },
            );
        }
        out
    }
}

/// Whether a server offers MCP Apps: it declares the extension, or a tool names a view.
pub(super) fn offers_apps(caps: &Value, tools: &[Value]) -> bool {
    caps["extensions"][UI_EXTENSION].is_object()
        || tools.iter().any(|t| named_by(t).next().is_some())
}
