//! Listing entries carried from one routing table to the next. A table is built whole
//! whenever any member's list changes, reading every member's lists; a tool's entry is
//! serialised once per definition and exposed name instead of at every build, so a
//! server listing megabytes of tools costs nothing more when another server's list
//! changes, however often.
//!
//! An entry is kept by the address of the lists it came from (a backend's lists are
//! replaced whole when they change), its position in them, and what the view changed in
//! it (its exposed name, a namespace's description). The table keeps those lists alive,
//! so an address names one list for as long as entries are kept by it.
//!
//! A view's fingerprints, which tell whether a list changed from one table to the next,
//! hash its entries' bytes ([`fingerprints`]); a kept entry's hash is kept with it.

use std::sync::Arc;

use bytes::Bytes;
use foldhash::{HashMap, HashMapExt};
use serde_json::Value;

use super::View;
use super::search::DocCell;
use crate::backend::Lists;

/// Which list of a backend an entry is from.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(super) enum Kind {
    Tool,
    Prompt,
}

#[derive(PartialEq, Eq, Hash)]
struct Key {
    lists: usize,
    kind: Kind,
    index: usize,
    name: String,
    description: Option<String>,
}

/// An entry as a view holds it: its bytes, their [`content_hash`], and the cell of its
/// search document.
#[derive(Clone, Default)]
pub(super) struct Entry {
    pub bytes: Bytes,
    pub hash: u64,
    pub doc: DocCell,
}

impl Entry {
    /// `value`'s entry, serialised and hashed.
    pub(super) fn of(value: &Value) -> Entry {
        let bytes = Bytes::from(value.to_string());
        Entry {
            hash: content_hash(&bytes),
            bytes,
            doc: DocCell::default(),
        }
    }
}

/// The entries a table's views hold, by what they were made from.
#[derive(Default)]
pub(super) struct Entries {
    lists: Vec<Arc<Lists>>,
    kept: HashMap<Key, Entry>,
}

/// One build's entries: the previous table's, taken when their definition and exposure
/// are the same, and those of the table being built.
pub(super) struct Reuse<'a> {
    old: &'a Entries,
    new: Entries,
}

impl<'a> Reuse<'a> {
    pub(super) fn from(old: &'a Entries) -> Reuse<'a> {
        Reuse {
            old,
            new: Entries {
                lists: Vec::new(),
                kept: HashMap::with_capacity(old.kept.len()),
            },
        }
    }

    /// The entry of item `index` of `lists`' `kind` list, exposed as `name` with
    /// `description` (a namespace's override), and its search document's cell: the
    /// previous table's when it made the same one, otherwise `make`'s, serialised.
    pub(super) fn entry(
        &mut self,
        lists: &Arc<Lists>,
        (kind, index): (Kind, usize),
        name: &str,
        description: Option<&str>,
        make: impl FnOnce() -> Value,
    ) -> Entry {
        let key = Key {
            lists: Arc::as_ptr(lists) as usize,
            kind,
            index,
            name: name.to_string(),
            description: description.map(str::to_string),
        };
        if let Some(kept) = self.new.kept.get(&key) {
            return kept.clone();
        }
        let entry = match self.old.kept.get(&key) {
            Some(kept) => kept.clone(),
            None => Entry::of(&make()),
        };
        if !self.new.lists.iter().any(|l| Arc::ptr_eq(l, lists)) {
            self.new.lists.push(lists.clone());
        }
        self.new.kept.insert(key, entry.clone());
        entry
    }

    pub(super) fn finish(self) -> Entries {
        self.new
    }
}

/// A fingerprint of each list of a view: tools, prompts, resources.
pub(super) fn fingerprints(view: &View) -> [u64; 3] {
    let tools = view.tools.iter().map(|t| t.entry_hash);
    let served = view.served.iter().map(|s| content_hash(&s.entry));
    let resources = view.resources.iter().map(|r| &r.entry);
    let templates = view.templates.iter().map(|t| &t.entry);
    // Skills change with resources: a server tells of either by `resources/list_changed`.
    let templates = templates.chain(view.skills.listed.iter().map(|s| &s.entry));
    [
        fingerprint(tools.chain(served)),
        fingerprint(view.prompts.iter().map(|p| p.entry_hash)),
        fingerprint(resources.chain(templates).map(|e| content_hash(e))),
    ]
}

fn fingerprint(hashes: impl Iterator<Item = u64>) -> u64 {
    hashes.fold(0xcbf2_9ce4_8422_2325u64, |h, e| {
        e.wrapping_add(h.rotate_left(5))
    })
}

/// A hash of an entry's bytes, eight at a time (a list can hold megabytes, hashed at
/// every build): to tell whether a list changed, not stable across versions.
fn content_hash(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut words = bytes.chunks_exact(8);
    let mut h = (bytes.len() as u64).wrapping_mul(K);
    for w in &mut words {
        let w = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        h = (h ^ w).wrapping_mul(K).rotate_left(29);
    }
    super::fnv1a(words.remainder()) ^ h
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lists(tools: Vec<Value>) -> Arc<Lists> {
        Arc::new(Lists {
            tools,
            ..Lists::default()
        })
    }

    #[test]
    fn an_entry_is_made_once_per_definition_and_exposure() {
        let a = lists(vec![json!({"name": "add"})]);
        let made = std::cell::Cell::new(0);
        let make = || {
            made.set(made.get() + 1);
            json!({"name": "s__add"})
        };
        let old = Entries::default();
        let mut first = Reuse::from(&old);
        let e1 = first.entry(&a, (Kind::Tool, 0), "s__add", None, make);
        assert_eq!(e1.hash, content_hash(br#"{"name":"s__add"}"#));
        // A second view exposing it alike shares it, and its search document.
        let e2 = first.entry(&a, (Kind::Tool, 0), "s__add", None, make);
        assert_eq!((made.get(), e1.bytes.as_ptr()), (1, e2.bytes.as_ptr()));
        assert!(Arc::ptr_eq(&e1.doc, &e2.doc));
        let kept = first.finish();
        assert_eq!(kept.kept.len(), 1);
        // The next build takes it; another name, description, kind or list is made anew.
        let mut next = Reuse::from(&kept);
        let again = next.entry(&a, (Kind::Tool, 0), "s__add", None, make);
        assert_eq!((made.get(), again.bytes.as_ptr()), (1, e1.bytes.as_ptr()));
        assert!(Arc::ptr_eq(&e1.doc, &again.doc));
        next.entry(&a, (Kind::Tool, 0), "add", None, make);
        next.entry(&a, (Kind::Tool, 0), "s__add", Some("Sums"), make);
        next.entry(&a, (Kind::Prompt, 0), "s__add", None, make);
        let b = lists(vec![json!({"name": "add"})]);
        next.entry(&b, (Kind::Tool, 0), "s__add", None, make);
        assert_eq!(made.get(), 5);
        let kept = next.finish();
        assert_eq!((kept.kept.len(), kept.lists.len()), (5, 2));
    }

    #[test]
    fn a_content_hash_tells_apart_what_differs_anywhere() {
        let base = vec![b'a'; 1027];
        let h = content_hash(&base);
        assert_eq!(h, content_hash(&base.clone()));
        for at in [0, 7, 8, 512, 1023, 1024, 1026] {
            let mut other = base.clone();
            other[at] = b'b';
            assert_ne!(h, content_hash(&other), "a change at {at}");
        }
        assert_ne!(h, content_hash(&base[..1026]));
        assert_ne!(content_hash(b""), content_hash(b"\0"));
    }
}
