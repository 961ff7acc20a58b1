//! Tool definitions pinned on first sight, and changes held for an admin's review.
//!
//! Each tool and prompt of each server is pinned the first time the gateway sees the
//! server: the SHA-256 of its canonical definition ([`canon`]) is kept in PostgreSQL
//! (`tool_pins`). Afterwards a definition that differs from its pin, a new tool of a
//! pinned server, or a definition screening flags ([`screen`], even at first sight) is
//! held (`tool_reviews`): it is left out of every list and search, and its calls are
//! refused with `data.held: true`, until an admin approves it (it is re-pinned) or
//! rejects it (the old pin stays; it stays held until the server offers the pinned
//! definition again). `tool_changes: accept` on the server or one of its namespaces
//! re-pins at once instead.
//!
//! The [`Book`] is this process's copy of both tables, reloaded whenever either changes
//! (NOTIFY, so every replica follows). The routing build asks it which items of a
//! backend's lists are held ([`Book::judge`]); [`reconcile::run`], before each build,
//! pins what is new, records what is held, and announces it.

pub mod asks;
pub mod canon;
pub mod decode;
pub mod fold;
pub mod lang;
pub mod names;
pub mod params;
pub mod reconcile;
pub mod screen;
pub mod store;
pub mod text;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use serde_json::Value;
use uuid::Uuid;

use crate::backend::Lists;

/// Which list of a server an item is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Item {
    Tool,
    Prompt,
}

impl Item {
    pub fn as_str(self) -> &'static str {
        match self {
            Item::Tool => "tool",
            Item::Prompt => "prompt",
        }
    }

    pub fn parse(s: &str) -> Option<Item> {
        match s {
            "tool" => Some(Item::Tool),
            "prompt" => Some(Item::Prompt),
            _ => None,
        }
    }
}

/// Why an item is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Review {
    /// Its definition differs from its pin.
    Changed,
    /// A pinned server offers it for the first time.
    Added,
    /// Screening found something in it.
    Flagged,
}

impl Review {
    pub fn as_str(self) -> &'static str {
        match self {
            Review::Changed => "changed",
            Review::Added => "added",
            Review::Flagged => "flagged",
        }
    }

    pub fn parse(s: &str) -> Option<Review> {
        match s {
            "changed" => Some(Review::Changed),
            "added" => Some(Review::Added),
            "flagged" => Some(Review::Flagged),
            _ => None,
        }
    }
}

/// One held item as recorded.
#[derive(Debug, Clone)]
pub struct Held {
    pub review: Review,
    pub digest: String,
    pub findings: Vec<String>,
    pub rejected: bool,
    /// When this process recorded or loaded it (bounds how often a server that changes
    /// a definition on every list is written down).
    pub seen: std::time::Instant,
    /// This process wrote it over another held definition: a definition that changes
    /// again while held is written down at most once a [`reconcile`] interval (the
    /// first change after a hold, a rejection or a restart opens a fresh review at once).
    pub rewritten: bool,
}

/// What a call of a held item is told.
#[derive(Debug, Clone, PartialEq)]
pub struct Why {
    pub server: String,
    pub item: Item,
    /// The server's own name for it.
    pub name: String,
    /// `changed`, `added`, `flagged`, or `pending` (seen, not judged yet).
    pub kind: &'static str,
    pub rejected: bool,
    pub findings: Vec<String>,
}

impl Why {
    /// The sentence a client reads: what is held, why, and who can release it (a
    /// command that works for this item: a rejected definition is approved by name; a
    /// definition not checked yet has nothing to approve).
    pub fn message(&self, exposed: &str) -> String {
        let what = match (self.kind, self.rejected) {
            ("pending", _) => {
                "its definition has not been checked yet (it is new or changed); try again shortly"
                    .to_string()
            }
            (_, true) => "an admin rejected its new definition; it is served again when the \
                 server offers its pinned one, and another definition opens a fresh review"
                .to_string(),
            ("changed", _) => "its definition changed since it was pinned".to_string(),
            ("added", _) => "it is new on a server whose tools are pinned".to_string(),
            ("flagged", _) => format!("screening flagged it ({})", self.findings.join("; ")),
            _ => "its definition has not been checked yet; try again shortly".to_string(),
        };
        let who = match (self.kind, self.rejected) {
            ("pending", _) => String::new(),
            (_, true) => format!(
                " An admin can still approve the rejected definition ({})",
                self.commands()
            ),
            _ => format!(" An admin can approve it ({})", self.commands()),
        };
        format!(
            "{} {exposed:?} of server {} is held for review: {what}.{who}",
            self.item.as_str(),
            self.server,
        )
    }

    /// The command and the REST call that approve this item.
    pub fn commands(&self) -> String {
        approve_commands(&self.server, self.item, &self.name)
    }

    /// The error's `data`.
    pub fn data(&self, exposed: &str) -> Value {
        serde_json::json!({"held": true, "reason": self.message(exposed), "kind": self.kind,
            "item": self.item.as_str(), "server": self.server, "tool": self.name,
            "findings": self.findings})
    }
}

/// `keyadm reviews approve …` and the `POST /api/v1/reviews/approve` body that approve
/// `server`'s held `item` `name`.
pub fn approve_commands(server: &str, item: Item, name: &str) -> String {
    let (flag, field) = match item {
        Item::Tool => ("", String::new()),
        Item::Prompt => (" --prompt", r#", "item": "prompt""#.to_string()),
    };
    format!(
        "`keyadm reviews approve {server} {name}{flag}` or POST /api/v1/reviews/approve \
         {{\"server\": {}, \"tool\": {}{field}}}",
        serde_json::Value::from(server),
        serde_json::Value::from(name)
    )
}

type Key = (Uuid, Item, String);

/// The held items of one backend's lists, as judged against the book.
#[derive(Default)]
pub struct Judged {
    held: HashMap<(Item, String), Arc<Why>>,
}

impl Judged {
    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    pub fn get(&self, item: Item, name: &str) -> Option<&Arc<Why>> {
        if self.held.is_empty() {
            return None;
        }
        self.held.get(&(item, name.to_string()))
    }
}

/// A backend's lists with each item's digest, computed once per lists.
pub struct Digested {
    lists: Arc<Lists>,
    /// (item, name, digest, index in its list).
    pub items: Vec<(Item, String, String, usize)>,
}

impl Digested {
    fn of(lists: &Arc<Lists>) -> Digested {
        let mut items = Vec::new();
        for (item, list) in [(Item::Tool, &lists.tools), (Item::Prompt, &lists.prompts)] {
            for (i, d) in list.iter().enumerate() {
                if let Some(name) = d["name"].as_str() {
                    let digest = canon::digest(&canon::canonical(item, d));
                    items.push((item, name.to_string(), digest, i));
                }
            }
        }
        Digested {
            lists: lists.clone(),
            items,
        }
    }

    pub fn definition(&self, item: Item, index: usize) -> &Value {
        let list = match item {
            Item::Tool => &self.lists.tools,
            Item::Prompt => &self.lists.prompts,
        };
        &list[index]
    }
}

#[derive(Default)]
struct Inner {
    loaded: bool,
    /// Bumped on every change, so judgements cached against the old state are redone.
    generation: u64,
    pins: HashMap<Key, String>,
    pinned_servers: HashSet<Uuid>,
    held: HashMap<Key, Held>,
    /// Per backend: its last lists' digests, and the judgement of them at a generation.
    digested: HashMap<Uuid, Arc<Digested>>,
    judged: HashMap<Uuid, (usize, u64, Arc<Judged>)>,
}

/// This process's copy of the pins and of what is held.
#[derive(Default)]
pub struct Book {
    inner: RwLock<Inner>,
    /// Serialises reconcile passes.
    pub(crate) pass: tokio::sync::Mutex<()>,
}

impl Book {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    pub fn loaded(&self) -> bool {
        self.read().loaded
    }

    /// Replaces the whole book with what the database holds: the pins, the held items,
    /// and the servers whose lists were pinned (an empty list too).
    pub fn replace(&self, pins: Vec<(Key, String)>, held: Vec<(Key, Held)>, servers: Vec<Uuid>) {
        let mut inner = self.write();
        inner.pinned_servers = pins.iter().map(|((id, _, _), _)| *id).collect();
        inner.pinned_servers.extend(servers);
        inner.pins = pins.into_iter().collect();
        // A held item this process recorded recently keeps its time.
        let old = std::mem::take(&mut inner.held);
        inner.held = held
            .into_iter()
            .map(|(k, mut h)| {
                if let Some(o) = old.get(&k).filter(|o| o.digest == h.digest) {
                    h.seen = o.seen;
                    h.rewritten = o.rewritten;
                }
                (k, h)
            })
            .collect();
        inner.loaded = true;
        inner.generation += 1;
        inner.judged.clear();
    }

    /// How many items are held (the `metamcp_tools_held` gauge).
    pub fn held_count(&self) -> usize {
        self.read().held.len()
    }

    /// `lists`' digests (computed once per lists).
    pub fn digested(&self, server: Uuid, lists: &Arc<Lists>) -> Arc<Digested> {
        if let Some(d) = self.read().digested.get(&server)
            && Arc::ptr_eq(&d.lists, lists)
        {
            return d.clone();
        }
        let d = Arc::new(Digested::of(lists));
        self.write().digested.insert(server, d.clone());
        d
    }

    pub fn pin(&self, server: Uuid, item: Item, name: &str) -> Option<String> {
        self.read()
            .pins
            .get(&(server, item, name.to_string()))
            .cloned()
    }

    pub fn held(&self, server: Uuid, item: Item, name: &str) -> Option<Held> {
        self.read()
            .held
            .get(&(server, item, name.to_string()))
            .cloned()
    }

    pub fn server_pinned(&self, server: Uuid) -> bool {
        self.read().pinned_servers.contains(&server)
    }

    /// The held items of `server`'s (named `label`) `lists`: every item whose digest is
    /// not its pin. Before the book is first loaded, everything is held. `others` are
    /// the tools of every server, which first-sight screening judges shadowing against.
    pub fn judge(
        &self,
        server: Uuid,
        label: &str,
        lists: &Arc<Lists>,
        others: &Others<'_>,
    ) -> Arc<Judged> {
        let ptr = Arc::as_ptr(lists) as usize;
        {
            let inner = self.read();
            if let Some((p, g, j)) = inner.judged.get(&server)
                && *p == ptr
                && *g == inner.generation
            {
                return j.clone();
            }
        }
        let digested = self.digested(server, lists);
        // The other servers' tools, read (outside the lock: reading digests them) only
        // for a server not pinned yet.
        let unpinned = {
            let inner = self.read();
            inner.loaded && !inner.pinned_servers.contains(&server)
        };
        let all = if unpinned { others.tools(self) } else { None };
        let mut inner = self.write();
        let mut judged = Judged::default();
        // At first sight (a server with no pin and nothing held), what screening passes is
        // served at once: the reconcile pass pins it before or just after this build, and
        // holding it meanwhile would leave a server "running" whose tools are unknown.
        // Screening here sees the server's own list and every other server's tools, as
        // the pass does: a tool shadowing another server's is held from the first list
        // on, never served until the pass records it. Without the others' tools (none
        // were given), nothing is served at first sight.
        let first_sight = inner.loaded
            && all.is_some()
            && !inner.pinned_servers.contains(&server)
            && !inner.held.keys().any(|(s, _, _)| *s == server);
        let all = all.unwrap_or(&[]);
        let own: Vec<&str> = if first_sight {
            lists
                .tools
                .iter()
                .filter_map(|t| t["name"].as_str())
                .collect()
        } else {
            Vec::new()
        };
        for (item, name, digest, index) in &digested.items {
            let key = (server, *item, name.clone());
            if inner.loaded && inner.pins.get(&key) == Some(digest) {
                continue;
            }
            if first_sight
                && screen::screen(
                    digested.definition(*item, *index),
                    &screen::Context {
                        sibling_lengths: sibling_lengths(lists, *item, *index),
                        own: own.clone(),
                        others: others_of(all, server, *item, name, digest),
                        // A clash of exposed names is the reconcile pass's to find: it
                        // knows the namespaces; the build holds what it sees here.
                        clashes: Vec::new(),
                    },
                )
                .is_empty()
            {
                continue;
            }
            // What is recorded speaks for the definition it recorded only: another one
            // (a fix after a rejection or a flag) is not checked yet, and a call does
            // not quote the old findings or the old rejection.
            let why = match inner.held.get(&key).filter(|h| h.digest == *digest) {
                Some(h) => Why {
                    server: label.to_string(),
                    item: *item,
                    name: name.clone(),
                    kind: h.review.as_str(),
                    rejected: h.rejected,
                    findings: h.findings.clone(),
                },
                None => Why {
                    server: label.to_string(),
                    item: *item,
                    name: name.clone(),
                    kind: "pending",
                    rejected: false,
                    findings: Vec::new(),
                },
            };
            judged.held.insert((*item, name.clone()), Arc::new(why));
        }
        let judged = Arc::new(judged);
        let generation = inner.generation;
        inner
            .judged
            .insert(server, (ptr, generation, judged.clone()));
        judged
    }

    /// Records in memory what a reconcile pass wrote (the reload that NOTIFY brings
    /// confirms it).
    fn note_pin(&self, server: Uuid, item: Item, name: &str, digest: &str) {
        let mut inner = self.write();
        let key = (server, item, name.to_string());
        inner.held.remove(&key);
        inner.pins.insert(key, digest.to_string());
        inner.pinned_servers.insert(server);
        inner.generation += 1;
    }

    /// Records that `server`'s lists are pinned (an empty list included).
    fn note_server(&self, server: Uuid) {
        let mut inner = self.write();
        if inner.pinned_servers.insert(server) {
            inner.generation += 1;
        }
    }

    fn note_held(&self, server: Uuid, item: Item, name: &str, held: Held) {
        let mut inner = self.write();
        inner.held.insert((server, item, name.to_string()), held);
        inner.generation += 1;
    }

    fn forget_held(&self, server: Uuid, item: Item, name: &str) {
        let mut inner = self.write();
        inner.held.remove(&(server, item, name.to_string()));
        inner.generation += 1;
    }

    /// Whether anything of `server` is recorded as held.
    pub fn holds_any(&self, server: Uuid) -> bool {
        self.read().held.keys().any(|(id, _, _)| *id == server)
    }

    /// The held items of `server` (name, item, held).
    pub fn held_of(&self, server: Uuid) -> Vec<(Item, String, Held)> {
        self.read()
            .held
            .iter()
            .filter(|((id, _, _), _)| *id == server)
            .map(|((_, item, name), h)| (*item, name.clone(), h.clone()))
            .collect()
    }
}

/// Every server's tools (server id, name, tool, digest), read once per routing build
/// and only when a server not pinned yet is judged.
pub struct Others<'a> {
    backends: Option<&'a [Arc<crate::backend::Backend>]>,
    tools: std::sync::OnceLock<Vec<(Uuid, String, String, String)>>,
}

impl<'a> Others<'a> {
    /// The tools of `backends`.
    pub fn of(backends: &'a [Arc<crate::backend::Backend>]) -> Others<'a> {
        Others {
            backends: Some(backends),
            tools: std::sync::OnceLock::new(),
        }
    }

    /// None known: a server seen for the first time is not served until the pass
    /// screens it.
    pub fn none() -> Others<'a> {
        Others {
            backends: None,
            tools: std::sync::OnceLock::new(),
        }
    }

    fn tools(&self, book: &Book) -> Option<&[(Uuid, String, String, String)]> {
        let backends = self.backends?;
        Some(self.tools.get_or_init(|| {
            backends
                .iter()
                .flat_map(|b| {
                    let d = book.digested(b.id, &b.lists());
                    d.items
                        .iter()
                        .filter(|(i, ..)| *i == Item::Tool)
                        .map(|(_, t, dg, _)| (b.id, b.name.clone(), t.clone(), dg.clone()))
                        .collect::<Vec<_>>()
                })
                .collect()
        }))
    }
}

/// The tools of servers other than `server` that `name` (of `item`, at `digest`) is
/// screened against: another server's tool of the same name is shadowing unless it is
/// this very definition (two instances of one server), as the pass judges.
fn others_of<'t>(
    all: &'t [(Uuid, String, String, String)],
    server: Uuid,
    item: Item,
    name: &str,
    digest: &str,
) -> Vec<(&'t str, &'t str)> {
    all.iter()
        .filter(|(id, ..)| *id != server)
        .filter(|(_, _, t, d)| !(item == Item::Tool && t == name && d == digest))
        .map(|(_, s, t, _)| (s.as_str(), t.as_str()))
        .collect()
}

/// The lengths, in characters, of a server's other tool descriptions (prompts have none
/// screened for length).
fn sibling_lengths(lists: &Lists, item: Item, index: usize) -> Vec<usize> {
    match item {
        Item::Tool => lists
            .tools
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != index)
            .filter_map(|(_, t)| t["description"].as_str().map(|d| d.chars().count()))
            .collect(),
        Item::Prompt => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lists(description: &str) -> Arc<Lists> {
        Arc::new(Lists {
            tools: vec![json!({"name": "echo", "description": description})],
            prompts: vec![json!({"name": "greet"})],
            ..Lists::default()
        })
    }

    #[test]
    fn only_the_pinned_digest_passes() {
        let book = Book::default();
        let id = Uuid::new_v4();
        let l = lists("Echoes");
        // Not loaded yet: everything is held, as pending.
        let j = book.judge(id, "s", &l, &Others::none());
        assert_eq!(j.get(Item::Tool, "echo").map(|w| w.kind), Some("pending"));
        let d = book.digested(id, &l);
        let pins: Vec<_> = d
            .items
            .iter()
            .map(|(i, n, dg, _)| ((id, *i, n.clone()), dg.clone()))
            .collect();
        book.replace(pins, vec![], vec![]);
        assert!(
            book.judge(id, "s", &l, &Others::none())
                .get(Item::Tool, "echo")
                .is_none()
        );
        assert!(book.server_pinned(id));
        let changed = lists("Echoes. <IMPORTANT>");
        let j = book.judge(id, "s", &changed, &Others::none());
        let why = j.get(Item::Tool, "echo").expect("held");
        // Not recorded yet: nothing to approve, so no command is named.
        assert_eq!(why.kind, "pending");
        assert!(!why.message("s__echo").contains("keyadm"));
        assert!(
            j.get(Item::Prompt, "greet").is_none(),
            "the rest still pass"
        );
        let digest = book.digested(id, &changed).items[0].2.clone();
        let held = Held {
            review: Review::Changed,
            digest: digest.clone(),
            findings: vec![],
            rejected: false,
            seen: std::time::Instant::now(),
            rewritten: false,
        };
        book.note_held(id, Item::Tool, "echo", held);
        let j = book.judge(id, "s", &changed, &Others::none());
        assert_eq!(j.get(Item::Tool, "echo").map(|w| w.kind), Some("changed"));
        assert!(
            j.get(Item::Tool, "echo")
                .expect("held")
                .message("s__echo")
                .contains("`keyadm reviews approve s echo`")
        );
        assert_eq!(book.held_count(), 1);
        assert_eq!(book.held_of(id).len(), 1);
        book.note_pin(id, Item::Tool, "echo", &digest);
        assert!(
            book.judge(id, "s", &changed, &Others::none())
                .get(Item::Tool, "echo")
                .is_none()
        );
        assert_eq!(book.held_count(), 0);
        book.forget_held(id, Item::Tool, "echo");
        assert!(Item::parse("prompt") == Some(Item::Prompt) && Review::parse("x").is_none());
    }

    #[test]
    fn a_held_record_speaks_for_its_own_definition_only() {
        let book = Book::default();
        let id = Uuid::new_v4();
        let l = lists("Echoes");
        let d = book.digested(id, &l);
        let pins: Vec<_> = d
            .items
            .iter()
            .map(|(i, n, dg, _)| ((id, *i, n.clone()), dg.clone()))
            .collect();
        book.replace(pins, vec![], vec![]);
        let bad = lists("Echoes. <IMPORTANT>");
        let bad_digest = book.digested(id, &bad).items[0].2.clone();
        let rejected = Held {
            review: Review::Flagged,
            digest: bad_digest,
            findings: vec!["addresses the model".into()],
            rejected: true,
            seen: std::time::Instant::now(),
            rewritten: false,
        };
        book.note_held(id, Item::Tool, "echo", rejected);
        let why = book.judge(id, "s", &bad, &Others::none());
        let why = why.get(Item::Tool, "echo").expect("held");
        let m = why.message("s__echo");
        assert!(
            m.contains("rejected") && m.contains("keyadm reviews approve s echo`"),
            "{m}"
        );
        // The server now offers a fix: not the rejection, not the old findings.
        let fixed = lists("Echoes the message");
        let j = book.judge(id, "s", &fixed, &Others::none());
        let why = j.get(Item::Tool, "echo").expect("held until reviewed");
        assert_eq!(why.kind, "pending");
        let m = why.message("s__echo");
        assert!(
            !m.contains("rejected") && !m.contains("addresses") && !m.contains("keyadm"),
            "{m}"
        );
    }

    #[test]
    fn a_prompt_s_message_names_a_command_for_a_prompt() {
        let why = Why {
            server: "srv".into(),
            item: Item::Prompt,
            name: "greet".into(),
            kind: "changed",
            rejected: false,
            findings: vec![],
        };
        let m = why.message("srv__greet");
        assert!(
            m.contains("`keyadm reviews approve srv greet --prompt`")
                && m.contains(r#"{"server": "srv", "tool": "greet", "item": "prompt"}"#),
            "{m}"
        );
        assert_eq!(why.data("srv__greet")["item"], "prompt");
    }

    #[test]
    fn an_empty_server_is_pinned() {
        let book = Book::default();
        let id = Uuid::new_v4();
        book.replace(vec![], vec![], vec![id]);
        assert!(book.server_pinned(id));
        // What it offers later is not first sight: held until the pass records it.
        let j = book.judge(id, "s", &lists("Echoes"), &Others::none());
        assert_eq!(j.get(Item::Tool, "echo").map(|w| w.kind), Some("pending"));
    }
}

#[cfg(test)]
mod screen_class_tests;
#[cfg(test)]
mod screen_tests;
