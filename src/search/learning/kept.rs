//! The learning kept in PostgreSQL (`crate::store::search_learning`), so replicas agree
//! and a restart keeps it: every share a pair moves is queued ([`Table::moved`], at most
//! [`DIRTY`]; over that the oldest are written first and the rest wait for the next
//! pair), written in batches, and what other replicas wrote is merged in
//! ([`Learning::merge`]): a row replaces a share only when it is later.

use super::{KEY_CAP, KEYS_PER_CELL, Learning, Share, Table};
use crate::base::KeyId;

/// Shares moved and not yet written, at most.
pub const DIRTY: usize = 50_000;
/// A row last moved this long ago has faded under anything a search can notice (a
/// key's most, 2, halved nine times): deleted.
pub const FADED_AFTER_SECS: u64 = 9 * super::HALF_LIFE_SECS;

/// One key's weight in one namespace's cell, as of `at` (unix seconds).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub namespace: String,
    pub term: String,
    pub tool: String,
    pub key: KeyId,
    pub weight: f32,
    pub at: u64,
}

impl Table {
    /// Queues a moved share to be written (dropped past [`DIRTY`]: counted).
    pub(super) fn moved(&mut self, row: Row) {
        if self.dirty.len() < DIRTY {
            self.dirty.push(row);
        } else {
            self.dropped += 1;
        }
    }

    /// Takes in a row another replica (or an earlier run) wrote, within the bounds.
    fn merge(&mut self, row: Row, now: u64) {
        let weight = row.weight.clamp(-KEY_CAP, KEY_CAP);
        let current = self.share_at(&row.namespace, &row.term, &row.tool, row.key);
        if current.is_some_and(|at| at >= row.at) {
            return;
        }
        // Made room for as a pair is, then set to the row's weight and time.
        let before = self.dirty.len();
        self.learn(
            &row.namespace,
            row.key,
            std::slice::from_ref(&row.term),
            &row.tool,
            0.0,
            now,
        );
        self.dirty.truncate(before);
        let Some(cell) = self
            .namespaces
            .get_mut(row.namespace.as_str())
            .and_then(|ns| ns.words.get_mut(row.term.as_str()))
            .and_then(|c| c.get_mut(row.tool.as_str()))
        else {
            return;
        };
        let share = Share {
            key: row.key,
            weight,
            at: row.at,
        };
        let room = cell.len() < KEYS_PER_CELL;
        match cell.iter_mut().find(|s| s.key == row.key) {
            Some(s) => *s = share,
            None if room => cell.push(share),
            None => {}
        }
    }

    /// When `key`'s share of a cell was last moved, if it has one.
    fn share_at(&self, namespace: &str, term: &str, tool: &str, key: KeyId) -> Option<u64> {
        self.namespaces
            .get(namespace)?
            .words
            .get(term)?
            .get(tool)?
            .iter()
            .find(|s| s.key == key)
            .map(|s| s.at)
    }
}

impl Learning {
    /// The shares moved since the last call, to be written.
    pub fn take_moved(&self) -> Vec<Row> {
        let moved = std::mem::take(&mut self.lock_table().dirty);
        // A share moved twice since: its last move alone (one statement writes a row once).
        let mut seen = std::collections::HashSet::new();
        let mut out: Vec<Row> = moved
            .into_iter()
            .rev()
            .filter(|r| seen.insert((r.namespace.clone(), r.term.clone(), r.tool.clone(), r.key)))
            .collect();
        out.reverse();
        out
    }

    /// Gives back shares that could not be written (the next write tries them again),
    /// within [`DIRTY`].
    pub fn put_back(&self, rows: Vec<Row>) {
        let mut table = self.lock_table();
        for row in rows {
            table.moved(row);
        }
    }

    /// Takes in rows written elsewhere (another replica, an earlier run).
    pub fn merge(&self, rows: Vec<Row>) {
        let now = crate::base::unix_now();
        let mut table = self.lock_table();
        for row in rows {
            table.merge(row, now);
        }
    }
}
