//! Tool search that learns from the gateway's own agents. What an agent calls after a
//! search is a label the gateway already sees: a `search_tools` (or REST search)
//! followed, in the same thread (a code-mode run, a session, or a key's stateless
//! conversation), by a call of one of its results (a positive for it; the results shown
//! above it are weak negatives) or of a tool it did not show (a positive it missed)
//! ([`pairs`]). Each pair moves a per-namespace table of weights from the need's words to
//! the tool called ([`Table`]); a later search in the same namespace adds a bounded
//! boost to the tools those words led agents to ([`rerank`]).
//!
//! Bounds: a namespace's table is its own (another namespace's searches never read it);
//! within it one key's weight in a cell (a word and a tool) is capped at [`KEY_CAP`] and
//! a cell holds at most [`KEYS_PER_CELL`] keys, so one key's flood moves a ranking no
//! more than the cap allows; cells per namespace, namespaces and cells in total are
//! capped, and every weight halves every [`HALF_LIFE_SECS`] (a stale pattern fades and
//! its cells are pruned). Only the need's words and the tool's name are kept: never the
//! arguments, never the query text. `METAMCP_SEARCH_LEARNING=off` turns it off.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::base::KeyId;

pub mod kept;
pub mod pairs;

pub use kept::Row;
pub use pairs::{Asker, thread_of};

/// Most weight one key holds in one cell (a word and a tool), either way.
pub const KEY_CAP: f32 = 2.0;
/// Most keys whose weight one cell holds (the weakest gives way).
pub const KEYS_PER_CELL: usize = 8;
/// Most cells (a word and a tool) one namespace's table holds.
pub const CELLS_PER_NAMESPACE: usize = 20_000;
/// Most namespaces that learn at once.
pub const NAMESPACES: usize = 1024;
/// Most cells over every namespace.
pub const CELLS_TOTAL: usize = 200_000;
/// Every weight halves in this long (14 days).
pub const HALF_LIFE_SECS: u64 = 14 * 86_400;
/// A cell whose weight has faded under this is pruned when room is needed.
const FADED: f32 = 0.05;
/// Words of a need taken, at most.
pub const MAX_TERMS: usize = 12;
/// What a call of a tool the search showed adds to its cells.
pub const POSITIVE: f32 = 1.0;
/// What a tool shown above the one called loses (a weak negative).
pub const NEGATIVE: f32 = 0.25;
/// Pseudo-count in a word's share: a word seen once leads less than one seen often.
const PRIOR: f32 = 1.0;
/// The most a learned share adds to (or takes from) a tool's score; the search's own
/// scores run from 0 to about 1.1. Chosen by the replay (`bench/toolsearch/replay.sh`).
pub const BOOST: f32 = 1.2;

/// The learning of every namespace, and the searches waiting for the call that follows.
#[derive(Default)]
pub struct Learning {
    table: Mutex<Table>,
    pending: Mutex<pairs::Pending>,
    /// Searches waiting for a call: the call path looks at nothing else while it is 0.
    waiting: AtomicUsize,
}

impl Learning {
    /// Whether any search waits for its call (the call path's one check).
    #[inline]
    pub fn waiting(&self) -> bool {
        self.waiting.load(Ordering::Relaxed) > 0
    }

    /// The boost each tool gets for `query` in `namespace`, by the tool's name; empty
    /// when the namespace has learned nothing of its words.
    pub fn boosts(&self, namespace: &str, query: &str) -> HashMap<String, f32> {
        self.boosts_at(namespace, query, crate::base::unix_now())
    }

    /// [`Learning::boosts`] as of `now` (unix seconds; the replay's days).
    pub fn boosts_at(&self, namespace: &str, query: &str, now: u64) -> HashMap<String, f32> {
        self.lock_table().boosts(namespace, &terms_of(query), now)
    }

    /// Cells held, over every namespace (the bound's measure).
    pub fn cells(&self) -> usize {
        self.table.lock().unwrap_or_else(|p| p.into_inner()).cells
    }

    fn lock_table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The words of a need the table is keyed by: folded, stop words out, each once, at
/// most [`MAX_TERMS`].
pub fn terms_of(query: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in super::text::words(query) {
        if out.len() == MAX_TERMS {
            break;
        }
        if w.len() > 1 && w.len() <= 64 && !out.contains(&w) {
            out.push(w);
        }
    }
    out
}

/// One key's weight in a cell, as of `at` (unix seconds).
#[derive(Debug, Clone, Copy)]
struct Share {
    key: KeyId,
    weight: f32,
    at: u64,
}

/// How much of a weight is left after `dt` seconds.
fn decay(dt: u64) -> f32 {
    0.5f32.powf(dt as f32 / HALF_LIFE_SECS as f32)
}

impl Share {
    fn now(&self, now: u64) -> f32 {
        self.weight * decay(now.saturating_sub(self.at))
    }
}

/// A word's cells: by tool, each key's share.
type Cells = HashMap<Box<str>, Vec<Share>>;

/// One namespace's table: by word, by tool.
#[derive(Default)]
struct Namespace {
    words: HashMap<Box<str>, Cells>,
    cells: usize,
    /// When it was last pruned (pruning scans it: at most once a minute).
    pruned: u64,
}

/// Every namespace's table, with the bounds' counts.
#[derive(Default)]
pub struct Table {
    namespaces: HashMap<Arc<str>, Namespace>,
    cells: usize,
    /// Pairs dropped because a bound was reached (and nothing had faded).
    pub dropped: u64,
    /// The shares moved since they were last written ([`kept`]), at most [`kept::DIRTY`].
    dirty: Vec<Row>,
}

impl Table {
    /// Moves `namespace`'s cells of `terms` and `tool` by `delta` for `key` (a key's
    /// share capped at [`KEY_CAP`] either way).
    pub fn learn(
        &mut self,
        namespace: &str,
        key: KeyId,
        terms: &[String],
        tool: &str,
        delta: f32,
        now: u64,
    ) {
        if !self.namespaces.contains_key(namespace) {
            if self.namespaces.len() >= NAMESPACES {
                self.dropped += 1;
                return;
            }
            self.namespaces
                .insert(namespace.into(), Namespace::default());
        }
        for term in terms {
            self.learn_one(namespace, key, term, tool, delta, now);
        }
    }

    fn learn_one(
        &mut self,
        namespace: &str,
        key: KeyId,
        term: &str,
        tool: &str,
        delta: f32,
        now: u64,
    ) {
        let full = self.cells >= CELLS_TOTAL;
        let Some(ns) = self.namespaces.get_mut(namespace) else {
            return;
        };
        let exists = ns.words.get(term).is_some_and(|c| c.contains_key(tool));
        if !exists {
            if full || ns.cells >= CELLS_PER_NAMESPACE {
                let freed = ns.prune(now);
                self.cells -= freed;
            }
            if self.cells >= CELLS_TOTAL || ns.cells >= CELLS_PER_NAMESPACE {
                self.dropped += 1;
                return;
            }
            ns.cells += 1;
            self.cells += 1;
        }
        let cell = ns
            .words
            .entry(term.into())
            .or_default()
            .entry(tool.into())
            .or_default();
        let weight = match cell.iter_mut().find(|s| s.key == key) {
            Some(s) => {
                s.weight = (s.now(now) + delta).clamp(-KEY_CAP, KEY_CAP);
                s.at = now;
                s.weight
            }
            None => {
                let share = Share {
                    key,
                    weight: delta.clamp(-KEY_CAP, KEY_CAP),
                    at: now,
                };
                if cell.len() < KEYS_PER_CELL {
                    cell.push(share);
                } else if let Some(weakest) = cell
                    .iter_mut()
                    .min_by(|a, b| a.now(now).abs().total_cmp(&b.now(now).abs()))
                    .filter(|w| w.now(now).abs() < delta.abs())
                {
                    *weakest = share;
                } else {
                    return;
                }
                share.weight
            }
        };
        self.moved(Row {
            namespace: namespace.to_string(),
            term: term.to_string(),
            tool: tool.to_string(),
            key,
            weight,
            at: now,
        });
    }

    /// The boost of each tool for a need of `terms` in `namespace` ([`BOOST`] times the
    /// mean, over the need's words, of the tool's share of what that word led to).
    pub fn boosts(&self, namespace: &str, terms: &[String], now: u64) -> HashMap<String, f32> {
        let mut out: HashMap<String, f32> = HashMap::new();
        let Some(ns) = self.namespaces.get(namespace) else {
            return out;
        };
        if terms.is_empty() {
            return out;
        }
        for term in terms {
            let Some(cells) = ns.words.get(term.as_str()) else {
                continue;
            };
            let weights: Vec<(&str, f32)> = cells
                .iter()
                .map(|(tool, shares)| (&**tool, shares.iter().map(|s| s.now(now)).sum::<f32>()))
                .collect();
            let total: f32 = weights.iter().map(|(_, w)| w.abs()).sum::<f32>() + PRIOR;
            for (tool, w) in weights {
                *out.entry(tool.to_string()).or_default() += w / total;
            }
        }
        let n = terms.len() as f32;
        out.retain(|_, b| {
            *b *= BOOST / n;
            b.abs() >= 1e-3
        });
        out
    }

    /// One key's weight in `namespace`'s cell of `term` and `tool` (the tests' measure).
    pub fn share(&self, namespace: &str, term: &str, tool: &str, key: KeyId, now: u64) -> f32 {
        self.namespaces
            .get(namespace)
            .and_then(|ns| ns.words.get(term))
            .and_then(|c| c.get(tool))
            .and_then(|c| c.iter().find(|s| s.key == key))
            .map_or(0.0, |s| s.now(now))
    }

    /// Cells held, over every namespace.
    pub fn cells(&self) -> usize {
        self.cells
    }
}

impl Namespace {
    /// Drops the cells whose weight has faded (at most once a minute); how many.
    fn prune(&mut self, now: u64) -> usize {
        if now < self.pruned + 60 {
            return 0;
        }
        self.pruned = now;
        let before = self.cells;
        self.words.retain(|_, cells| {
            cells.retain(|_, shares| shares.iter().map(|s| s.now(now)).sum::<f32>().abs() >= FADED);
            !cells.is_empty()
        });
        self.cells = self.words.values().map(HashMap::len).sum();
        before - self.cells
    }
}

/// `found` (best first, each with its score) moved by `boosts` (by the tool's name,
/// `name_of`), best first again, at most `limit`. The search asked for every candidate
/// when there are boosts, so a tool it ranked low can rise.
pub fn rerank<'n, T>(
    found: Vec<T>,
    boosts: &HashMap<String, f32>,
    name_of: impl Fn(&T) -> &'n str,
    score_of: impl Fn(&mut T) -> &mut f32,
    limit: usize,
) -> Vec<T> {
    let mut found = found;
    for t in found.iter_mut() {
        if let Some(b) = boosts.get(name_of(t)) {
            *score_of(t) += *b;
        }
    }
    let mut scored: Vec<(f32, T)> = found
        .into_iter()
        .map(|mut t| (*score_of(&mut t), t))
        .collect();
    // Stable: ties keep the search's order.
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.into_iter().take(limit).map(|(_, t)| t).collect()
}

#[cfg(test)]
mod tests;
