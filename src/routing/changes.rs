//! What differs between two routing tables: the views whose lists changed (for their
//! `notifications/*/list_changed` streams) and the configuration problems that are new.

use bytes::Bytes;

use super::{Problem, Table};

/// Which lists of each view differ between two tables (views new in `new` announce
/// nothing: nobody can be listening to them yet).
pub fn list_changes(old: &Table, new: &Table) -> Vec<ListChanged> {
    new.views
        .iter()
        .filter_map(|(key, view)| {
            let before = old.views.get(key)?.fingerprints;
            let kinds = [0, 1, 2].map(|i| before[i] != view.fingerprints[i]);
            kinds.iter().any(|k| *k).then(|| ListChanged {
                view: key.clone(),
                kinds,
            })
        })
        .collect()
}

/// Configuration problems in `new` that were not in `old`, with the view they are in.
pub fn new_problems<'a>(old: &Table, new: &'a Table) -> Vec<(Option<&'a str>, &'a Problem)> {
    let mut out = Vec::new();
    for (key, view) in &new.views {
        let before = old.views.get(key);
        for p in &view.errors {
            if !before.is_some_and(|b| b.errors.contains(p)) {
                out.push((key.as_deref(), p));
            }
        }
    }
    out
}

/// A change of one view's lists, for its notification streams.
#[derive(Debug, Clone)]
pub struct ListChanged {
    pub view: Option<String>,
    /// Which lists changed: tools, prompts, resources.
    pub kinds: [bool; 3],
}

impl ListChanged {
    /// The `notifications/*/list_changed` messages as SSE events.
    pub fn notification(&self) -> Bytes {
        let mut out = bytes::BytesMut::new();
        for (changed, kind) in self.kinds.iter().zip(["tools", "prompts", "resources"]) {
            if *changed {
                out.extend_from_slice(
                    b"event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/",
                );
                out.extend_from_slice(kind.as_bytes());
                out.extend_from_slice(b"/list_changed\"}\n\n");
            }
        }
        out.freeze()
    }
}
