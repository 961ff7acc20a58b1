//! Pairs: a search, and the call that follows it in the same thread within a window of
//! [`WINDOW_CALLS`] calls and [`WINDOW_SECS`] seconds. A call of a tool the search showed
//! is a positive for it and a weak negative for each tool shown above it; the first call
//! after the search, of a tool it did not show, is a positive the search missed. A
//! search waits in memory only for its window: at most [`PER_KEY`] per key and
//! [`WAITING`] in all (the oldest gives way), each its namespace, its key, the need's
//! words and the names shown.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::{Learning, NEGATIVE, POSITIVE, terms_of};
use crate::base::KeyId;

/// Calls after a search that can be its pairs.
pub const WINDOW_CALLS: u8 = 3;
/// Seconds after a search that a call can be its pair.
pub const WINDOW_SECS: u64 = 300;
/// Searches one key has waiting at once.
pub const PER_KEY: usize = 32;
/// Searches waiting at once, over every key.
pub const WAITING: usize = 4096;
/// Names of a search's results kept (the first ones: an agent reads from the top).
pub const SHOWN: usize = 10;

/// Who searched, and the thread its next calls come in.
#[derive(Debug, Clone)]
pub struct Asker {
    pub key: KeyId,
    pub thread: Arc<str>,
}

/// The thread a call or search belongs to: its code-mode run, else its conversation
/// (a session; a key's stateless requests), else the key's own.
pub fn thread_of(run: Option<uuid::Uuid>, conversation: &Arc<str>, key: KeyId) -> Arc<str> {
    match run {
        Some(r) => Arc::from(format!("r:{r}")),
        None if !conversation.is_empty() => conversation.clone(),
        None => Arc::from(format!("k:{key}")),
    }
}

/// A search waiting for its calls.
struct Search {
    namespace: Arc<str>,
    key: KeyId,
    terms: Vec<String>,
    shown: Vec<String>,
    at: u64,
    calls: u8,
    /// The tools already credited (a tool called twice counts once).
    credited: Vec<String>,
}

/// The searches waiting, by thread.
#[derive(Default)]
pub(super) struct Pending {
    by_thread: HashMap<Arc<str>, Search>,
}

impl Pending {
    /// Drops searches past their window; how many are left.
    fn sweep(&mut self, now: u64) -> usize {
        self.by_thread
            .retain(|_, s| now <= s.at + WINDOW_SECS && s.calls < WINDOW_CALLS);
        self.by_thread.len()
    }

    /// Makes room for one more of `key`'s: its oldest over [`PER_KEY`], the oldest of
    /// all over [`WAITING`].
    fn room_for(&mut self, key: KeyId) {
        let oldest = |pending: &HashMap<Arc<str>, Search>, only: Option<KeyId>| {
            pending
                .iter()
                .filter(|(_, s)| only.is_none_or(|k| s.key == k))
                .min_by_key(|(_, s)| s.at)
                .map(|(t, _)| t.clone())
        };
        let mine = self.by_thread.values().filter(|s| s.key == key).count();
        if mine >= PER_KEY
            && let Some(t) = oldest(&self.by_thread, Some(key))
        {
            self.by_thread.remove(&t);
        }
        if self.by_thread.len() >= WAITING
            && let Some(t) = oldest(&self.by_thread, None)
        {
            self.by_thread.remove(&t);
        }
    }
}

impl Learning {
    /// A search in `namespace` by `asker` for `query` showed `shown` (best first): the
    /// calls that follow in its thread are its pairs. Replaces the thread's earlier search.
    pub fn searched(&self, namespace: &str, asker: &Asker, query: &str, shown: Vec<String>) {
        self.searched_at(namespace, asker, query, shown, crate::base::unix_now());
    }

    pub fn searched_at(
        &self,
        namespace: &str,
        asker: &Asker,
        query: &str,
        mut shown: Vec<String>,
        now: u64,
    ) {
        let terms = terms_of(query);
        if terms.is_empty() {
            return;
        }
        shown.truncate(SHOWN);
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.sweep(now);
        if !pending.by_thread.contains_key(&asker.thread) {
            pending.room_for(asker.key);
        }
        pending.by_thread.insert(
            asker.thread.clone(),
            Search {
                namespace: namespace.into(),
                key: asker.key,
                terms,
                shown,
                at: now,
                calls: 0,
                credited: Vec::new(),
            },
        );
        self.waiting
            .store(pending.by_thread.len(), Ordering::Relaxed);
    }

    /// A call of `tool` (as the view names it) in `namespace`, by `key`, in `thread`,
    /// routed and answered: the pair of the thread's waiting search, if any.
    pub fn called(&self, namespace: &str, key: KeyId, thread: &str, tool: &str) {
        self.called_at(namespace, key, thread, tool, crate::base::unix_now());
    }

    pub fn called_at(&self, namespace: &str, key: KeyId, thread: &str, tool: &str, now: u64) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let Some(search) = pending.by_thread.get_mut(thread) else {
            return;
        };
        // Another namespace's call, another key's, or one past the window: no pair.
        let fits = &*search.namespace == namespace
            && search.key == key
            && now <= search.at + WINDOW_SECS
            && search.calls < WINDOW_CALLS;
        let first = search.calls == 0;
        search.calls = search.calls.saturating_add(1);
        let credit = fits && !search.credited.iter().any(|t| t == tool);
        let learned = credit.then(|| {
            search.credited.push(tool.to_string());
            let place = search.shown.iter().position(|t| t == tool);
            // The tools shown above it, less those the agent called too.
            let above: Vec<String> = search.shown[..place.unwrap_or(0)]
                .iter()
                .filter(|t| !search.credited.contains(t))
                .cloned()
                .collect();
            (search.terms.clone(), place.is_some() || first, above)
        });
        let left = pending.sweep(now);
        self.waiting.store(left, Ordering::Relaxed);
        drop(pending);
        let Some((terms, positive, above)) = learned else {
            return;
        };
        if !positive {
            return;
        }
        let mut table = self.lock_table();
        table.learn(namespace, key, &terms, tool, POSITIVE, now);
        for other in &above {
            table.learn(namespace, key, &terms, other, -NEGATIVE, now);
        }
    }
}
