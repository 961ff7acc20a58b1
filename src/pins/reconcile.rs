//! The pass before each routing build: every running backend's tools and prompts against
//! the book. First sight of a server pins what screening does not flag, and the server
//! itself (an empty list too: what it offers later is new); afterwards a changed, new or
//! flagged item is held (or, under `tool_changes: accept`, re-pinned). A held item whose
//! server offers another definition is reviewed afresh at once (after a rejection too);
//! only a definition that changes again while held waits [`REWRITE_AFTER`].
//! Each hold and each accepted change is written in one transaction per server, goes to
//! the events stream (admins) and to the audit trail, and is counted by the
//! `metamcp_tools_held` gauge.

use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool_postgres::Pool;
use serde_json::json;

use super::screen::{Context, screened};
use super::store::{self, Write};
use super::{Book, Digested, Held, Item, Review};
use crate::backend::Backend;
use crate::model::{Snapshot, ToolChanges};
use crate::observe::Observe;
use crate::observe::events::Audience;

/// A held item whose server offers yet another definition after it was already written
/// over once is written down again at most this often (a server that changes a
/// description on every list costs one row write a minute, not one per list). The first
/// new definition after a hold, a rejection or a restart is written at once.
const REWRITE_AFTER: Duration = Duration::from_secs(60);

/// What a pass reads and where it reports.
#[derive(Clone, Copy)]
pub struct Pass<'a> {
    pub book: &'a Book,
    pub pool: &'a Pool,
    pub snapshot: &'a Snapshot,
    pub backends: &'a [Arc<Backend>],
    pub observe: &'a Observe,
}

/// Loads the book from the database.
pub async fn reload(pool: &Pool, book: &Book) -> Result<(), crate::store::db::DbError> {
    let (pins, held, servers) = store::load(pool).await?;
    book.replace(pins, held, servers);
    Ok(())
}

/// Runs one pass; failures are logged (what is not pinned stays held). Whether it
/// wrote anything (the routing table is then to be rebuilt).
pub async fn run(pass: Pass<'_>) -> bool {
    let Pass {
        book,
        pool,
        backends,
        ..
    } = pass;
    let _serial = book.pass.lock().await;
    if !book.loaded()
        && let Err(e) = reload(pool, book).await
    {
        tracing::warn!(error = %e, "tool pins could not be loaded; unpinned tools stay held");
        return false;
    }
    let mut changed = false;
    for b in backends {
        changed |= server_pass(&pass, b).await;
    }
    changed
}

/// One server's part of a pass: whether it wrote anything.
async fn server_pass(pass: &Pass<'_>, b: &Arc<Backend>) -> bool {
    let &Pass {
        book,
        pool,
        snapshot,
        backends,
        observe,
    } = pass;
    if b.status() != crate::backend::Status::Running {
        return false;
    }
    let Some(server) = snapshot.server_by_id(&b.id) else {
        return false;
    };
    let lists = b.lists();
    if lists.tools.is_empty() && lists.prompts.is_empty() {
        pin_empty(book, pool, b).await;
        return false;
    }
    // Every item its pin and nothing recorded as held (the judgement is cached per
    // lists and book): nothing to do.
    // (At first sight the judgement serves what screening passes, so it says nothing of
    // whether the pins are written: a server with none is always passed.)
    if book.loaded()
        && book.server_pinned(b.id)
        && book
            .judge(b.id, &b.name, &lists, &super::Others::none())
            .is_empty()
        && !book.holds_any(b.id)
    {
        return false;
    }
    let accept = snapshot.tool_changes(server) == ToolChanges::Accept;
    let digested = book.digested(b.id, &lists);
    let first_sight = !book.server_pinned(b.id);
    let own: Vec<&str> = lists
        .tools
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    // The other servers' tools (server, name, digest), read only when something is
    // screened.
    let others_lists = std::sync::OnceLock::new();
    let others = std::sync::OnceLock::new();
    let others = || {
        others.get_or_init(|| {
            other_tools(others_lists.get_or_init(|| other_lists(book, backends, b.id)))
        })
    };
    let gone = gone(book, b.id, &digested);
    let mut writes: Vec<Write> = gone
        .iter()
        .map(|(item, name)| Write::Release { item: *item, name })
        .collect();
    let mut notes: Vec<Note> = gone
        .iter()
        .map(|(item, name)| Note::Released(*item, name.clone()))
        .collect();
    for (item, name, digest, index) in &digested.items {
        let pin = book.pin(b.id, *item, name);
        let held = book.held(b.id, *item, name);
        if pin.as_deref() == Some(digest.as_str()) {
            if held.is_some() {
                writes.push(Write::Release { item: *item, name });
                notes.push(Note::Released(*item, name.clone()));
            }
            continue;
        }
        if let Some(h) = &held
            && !rewrite(h, digest, accept)
        {
            continue;
        }
        let definition = digested.definition(*item, *index);
        // Another server's tool of the same name is shadowing unless it is this very
        // definition (two instances of one server).
        let others: Vec<(&str, &str, &str)> = others()
            .iter()
            .filter(|(_, t, d)| !(*item == Item::Tool && t == name && d == digest))
            .copied()
            .collect();
        let clashes = match item {
            Item::Tool => clashes(snapshot, &b.name, name, &others),
            Item::Prompt => Vec::new(),
        };
        let ctx = Context {
            sibling_lengths: siblings(&lists.tools, *item, *index),
            own: own.clone(),
            others: others.iter().map(|(s, t, _)| (*s, *t)).collect(),
            clashes,
        };
        let screened = screened(definition, &ctx);
        let review = review_of(&screened.holds, pin.is_some(), first_sight);
        // The review shows the notes beside what holds.
        let mut findings = screened.holds;
        findings.extend(screened.notes);
        match review {
            Some(review) if !accept => {
                writes.push(Write::Hold {
                    item: *item,
                    name,
                    definition,
                    review,
                    findings: findings.clone(),
                });
                notes.push(Note::Held(
                    *item,
                    name.clone(),
                    review,
                    findings,
                    digest.clone(),
                    held.is_some(),
                ));
            }
            _ => {
                writes.push(Write::Pin {
                    item: *item,
                    name,
                    definition,
                    first: review.is_none(),
                });
                notes.push(Note::Pinned(
                    *item,
                    name.clone(),
                    review,
                    findings,
                    digest.clone(),
                ));
            }
        }
    }
    if first_sight {
        writes.push(Write::Server);
    }
    if writes.is_empty() {
        return false;
    }
    if !written(pool, b, &writes).await {
        return false;
    }
    if first_sight {
        book.note_server(b.id);
    }
    for note in notes {
        announce(book, observe, &b.name, b.id, note);
    }
    true
}

/// Pins a server whose lists are empty (once the book is loaded, and unless anything of
/// it is pinned or held already): what it offers later is new, not a first sight.
async fn pin_empty(book: &Book, pool: &Pool, b: &Backend) {
    if !book.loaded() || book.server_pinned(b.id) || book.holds_any(b.id) {
        return;
    }
    if written(pool, b, &[Write::Server]).await {
        book.note_server(b.id);
    }
}

/// The other servers' lists, digested.
fn other_lists(
    book: &Book,
    backends: &[Arc<Backend>],
    id: uuid::Uuid,
) -> Vec<(String, Arc<Digested>)> {
    backends
        .iter()
        .filter(|o| o.id != id)
        .map(|o| (o.name.clone(), book.digested(o.id, &o.lists())))
        .collect()
}

/// The other servers' tools (of `others`: server, name, digest) that a client sees
/// under the exposed name of `server`'s tool `name`: in a namespace holding both under
/// `tool_prefix: never`, or renamed so by an override.
fn clashes<'o>(
    snapshot: &Snapshot,
    server: &str,
    name: &str,
    others: &[(&'o str, &'o str, &'o str)],
) -> Vec<(&'o str, &'o str)> {
    use crate::model::exposure::{Exposure, exposure};
    let mut out = Vec::new();
    let holds = |ns: &crate::model::Namespace, s: &str| {
        ns.servers.iter().any(|m| m.eq_ignore_ascii_case(s))
    };
    for ns in snapshot.namespaces.iter().filter(|ns| holds(ns, server)) {
        let mut matched = std::collections::HashSet::new();
        let Exposure::Exposed(mine, _) = exposure(server, name, Some(ns), &mut matched) else {
            continue;
        };
        for (o, t, _) in others.iter().filter(|(o, ..)| holds(ns, o)) {
            if let Exposure::Exposed(theirs, _) = exposure(o, t, Some(ns), &mut matched)
                && theirs == mine
                && !out.contains(&(*o, *t))
            {
                out.push((*o, *t));
            }
        }
    }
    out
}

/// Their tools as (server, name, digest).
fn other_tools(lists: &[(String, Arc<Digested>)]) -> Vec<(&str, &str, &str)> {
    lists
        .iter()
        .flat_map(|(n, d)| {
            d.items
                .iter()
                .filter(|(i, ..)| *i == Item::Tool)
                .map(move |(_, t, dg, _)| (n.as_str(), t.as_str(), dg.as_str()))
        })
        .collect()
}

/// What is recorded as held but no longer offered, to go (once it has been held a
/// while: a tool that comes and goes on every list is not rewritten each time).
fn gone(book: &Book, id: uuid::Uuid, digested: &Digested) -> Vec<(Item, String)> {
    book.held_of(id)
        .into_iter()
        .filter(|(item, name, h)| {
            h.seen.elapsed() >= REWRITE_AFTER
                && !digested
                    .items
                    .iter()
                    .any(|(i, n, _, _)| i == item && n == name)
        })
        .map(|(item, name, _)| (item, name))
        .collect()
}

/// Writes one server's pass; whether it was written. A write refused because the server
/// was removed meanwhile (its pins went with it) holds nothing and is no warning.
async fn written(pool: &Pool, b: &Backend, writes: &[Write<'_>]) -> bool {
    match store::apply(pool, b.id, writes).await {
        Ok(()) => true,
        Err(e) if e.is_foreign_key_violation() => {
            tracing::debug!(server = %b.name, "server removed while its tool pins were written");
            false
        }
        Err(e) => {
            tracing::warn!(server = %b.name, error = %e, "tool pins could not be written; the changes stay held");
            false
        }
    }
}

/// The description lengths of a tool's siblings (none for a prompt).
fn siblings(tools: &[serde_json::Value], item: Item, index: usize) -> Vec<usize> {
    match item {
        Item::Tool => tools
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != index)
            .filter_map(|(_, t)| t["description"].as_str().map(|d| d.chars().count()))
            .collect(),
        Item::Prompt => Vec::new(),
    }
}

/// Whether a held item `h`, its server now offering `digest`, is judged again: a
/// definition other than the one on record opens a fresh review at once (after a
/// rejection too), unless it is the definition changing again within [`REWRITE_AFTER`]
/// of the last rewrite (churn); the definition on record stays held unless `accept` now
/// covers it and no admin rejected it (an explicit rejection outlasts the setting).
fn rewrite(h: &Held, digest: &str, accept: bool) -> bool {
    if h.digest == digest {
        return accept && !h.rejected;
    }
    h.rejected || !h.rewritten || h.seen.elapsed() >= REWRITE_AFTER
}

/// Why an item that is not its pin is held: flagged when screening found anything,
/// changed when it had a pin, added when its server had pins; `None` at first sight.
fn review_of(findings: &[String], pinned: bool, first_sight: bool) -> Option<Review> {
    match (findings.is_empty(), pinned, first_sight) {
        (false, _, _) => Some(Review::Flagged),
        (true, true, _) => Some(Review::Changed),
        (true, false, true) => None,
        (true, false, false) => Some(Review::Added),
    }
}

enum Note {
    /// Held; the last field: over another held definition.
    Held(Item, String, Review, Vec<String>, String, bool),
    /// Pinned at first sight (`None`) or a change accepted.
    Pinned(Item, String, Option<Review>, Vec<String>, String),
    Released(Item, String),
}

/// Notes `note` in the book, and announces and audits it.
fn announce(book: &Book, observe: &Observe, server: &str, id: uuid::Uuid, note: Note) {
    let (kind, item, name, fields) = match note {
        Note::Held(item, name, review, findings, digest, rewritten) => {
            tracing::warn!(server, tool = %name, kind = review.as_str(), findings = ?findings,
                "a tool definition is held for review");
            let fields = json!({"server": server, "tool": name, "item": item.as_str(),
                "kind": review.as_str(), "findings": findings,
                "approve": super::approve_commands(server, item, &name)});
            book.note_held(
                id,
                item,
                &name,
                Held {
                    review,
                    digest,
                    findings,
                    rejected: false,
                    seen: Instant::now(),
                    rewritten,
                },
            );
            ("tool.held", item, name, fields)
        }
        Note::Pinned(item, name, review, findings, digest) => {
            book.note_pin(id, item, &name, &digest);
            let Some(review) = review else {
                // First sight: nothing to announce per tool, but for notes (the same
                // name as another server's tool), which an admin reads as an event.
                if findings.is_empty() {
                    return;
                }
                tracing::info!(server, tool = %name, findings = ?findings,
                    "a tool pinned at first sight has notes");
                let fields = json!({"server": server, "tool": name, "item": item.as_str(),
                    "findings": findings});
                observe.events.publish(
                    "tool.noted",
                    crate::observe::events::fields(fields),
                    Audience::Admin,
                );
                return;
            };
            tracing::info!(server, tool = %name, kind = review.as_str(),
                "a tool definition change was accepted (tool_changes: accept)");
            let fields = json!({"server": server, "tool": name, "item": item.as_str(),
                "kind": review.as_str(), "findings": findings});
            ("tool.accepted", item, name, fields)
        }
        Note::Released(item, name) => {
            book.forget_held(id, item, &name);
            let fields = json!({"server": server, "tool": name, "item": item.as_str()});
            ("tool.released", item, name, fields)
        }
    };
    let _ = item;
    observe.events.publish(
        kind,
        crate::observe::events::fields(fields),
        Audience::Admin,
    );
    let object = format!("{server}/{name}");
    observe
        .audit
        .record(crate::observe::audit::Entry::change_by(None, kind, &object));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(digest: &str, rejected: bool, rewritten: bool, age: Duration) -> Held {
        Held {
            review: Review::Changed,
            digest: digest.into(),
            findings: vec![],
            rejected,
            seen: Instant::now().checked_sub(age).unwrap_or_else(Instant::now),
            rewritten,
        }
    }

    #[test]
    fn a_new_definition_is_reviewed_at_once_and_only_churn_waits() {
        let now = Duration::ZERO;
        // Rejected, then a fixed definition a second later: a fresh review at once.
        assert!(rewrite(&held("a", true, false, now), "b", false));
        assert!(rewrite(&held("a", true, true, now), "b", false));
        // Held (flagged, say), then fixed: at once.
        assert!(rewrite(&held("a", false, false, now), "b", false));
        // As loaded after a restart (seen now, not rewritten): at once.
        assert!(rewrite(&held("a", true, false, now), "b", true));
        // Changing again within the interval after a rewrite: waits; after it, written.
        assert!(!rewrite(&held("a", false, true, now), "b", false));
        assert!(rewrite(&held("a", false, true, REWRITE_AFTER), "b", false));
        // The definition on record: stays held under hold; `accept` takes it unless an
        // admin rejected it.
        assert!(!rewrite(&held("a", false, false, now), "a", false));
        assert!(rewrite(&held("a", false, false, now), "a", true));
        assert!(!rewrite(&held("a", true, false, now), "a", true));
    }
}
