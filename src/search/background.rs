//! What tools exist besides a view's own: the background against which tool search tells
//! a need no tool of the view serves. A cosine alone cannot say "nothing fits": how close
//! a fitting tool sits to a need depends on how long the need is and how the tools are
//! described, so a cut-off fit to one set's phrasing turns away real needs of another's.
//! What does transfer is a comparison: "send an SMS to my mother" is far from every tool
//! of a developer's view, and much nearer to a messaging tool the view does not have. So
//! a search answers nothing only when its best tool is not close and a background tool
//! fits the need clearly better ([`super::hybrid`]).
//!
//! The catalogue (`background.jsonl`, written by `bench/toolsearch/background.py`) is
//! the English tools of two public benchmarks that nobody on this project wrote:
//! MetaTool's 199 ChatGPT plugins (MIT) and LiveMCPBench's MCP tools (Apache-2.0):
//! their names, the start of their descriptions and their parameters' names. Each is
//! embedded once, as a tool is, and kept with the tools' embeddings (memory and
//! PostgreSQL), so a gateway computes them once (about 646 × a tool's embedding, on the
//! embeddings worker) and a restart reads them back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;

use super::semantic::{self, Key, Store, Vector};

/// One tool of the catalogue: the benchmark it comes from, the text it is embedded as,
/// and that embedding's key.
pub struct Entry {
    pub from: String,
    pub text: String,
    pub key: Key,
}

static CATALOGUE: OnceLock<Vec<Entry>> = OnceLock::new();

/// The catalogue, read on first use.
pub fn catalogue() -> &'static [Entry] {
    CATALOGUE.get_or_init(|| parse(include_str!("background.jsonl")))
}

fn parse(lines: &str) -> Vec<Entry> {
    lines
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| {
            let text = |k: &str| v[k].as_str().unwrap_or_default().to_string();
            let server = text("server");
            let name = format!("{server}__{}", text("name"));
            let params: Vec<&str> = v["params"]
                .as_array()
                .map(|p| p.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let description = text("description");
            let fields = super::Fields {
                name: &name,
                description: &description,
                param_names: params.join(" "),
                server: &server,
                ..super::Fields::default()
            };
            let text_embedded = semantic::text_of(&fields);
            Entry {
                from: text("from"),
                key: semantic::key_of(&text_embedded),
                text: text_embedded,
            }
        })
        .collect()
}

/// The catalogue's embeddings that `store` holds, by position (`None`: not yet there);
/// those missing are asked for.
pub fn vectors(store: &Store) -> Vec<Option<Vector>> {
    let all = catalogue();
    let found: Vec<Option<Vector>> = all.iter().map(|e| store.get(&e.key)).collect();
    let missing: Vec<semantic::Wanted> = all
        .iter()
        .zip(&found)
        .filter(|(_, v)| v.is_none())
        .map(|(e, _)| (e.key, e.text.clone()))
        .collect();
    if !missing.is_empty() {
        store.want(missing);
    }
    found
}

/// Whether `key` is one of the catalogue's (the embeddings worker computes a view's own
/// tools first).
pub fn is_background(key: &Key) -> bool {
    static KEYS: OnceLock<std::collections::HashSet<Key>> = OnceLock::new();
    KEYS.get_or_init(|| catalogue().iter().map(|e| e.key).collect())
        .contains(key)
}

/// A tool's embedding ([`semantic::embed_tool`]), the catalogue's computed once a
/// process: the same text gives the same vector whichever gateway asks, so a process
/// that starts several gateways (the test suite starts hundreds, each on a database of its
/// own) embeds the 646 once, not once each (they were a tenth of the suite's CPU). The
/// memo holds the catalogue's entries alone, so it is bounded by the catalogue; each
/// gateway's worker still writes what it is given to its own database. Callers at once
/// take turns (all of them want the same entries, in the same order): the second finds
/// what the first computed instead of computing it beside it.
pub fn embed(key: &Key, text: &str) -> Result<Vector, String> {
    static MEMO: OnceLock<Mutex<HashMap<Key, Vector>>> = OnceLock::new();
    static TURN: Mutex<()> = Mutex::new(());
    if !is_background(key) {
        return semantic::embed_tool(text);
    }
    let memo = MEMO.get_or_init(Mutex::default);
    let known = || {
        memo.lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned()
    };
    if let Some(v) = known() {
        return Ok(v);
    }
    let _turn = TURN.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(v) = known() {
        return Ok(v);
    }
    let v = semantic::embed_tool(text)?;
    memo.lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(*key, v.clone());
    Ok(v)
}

/// How many of the catalogue's embeddings `store` holds.
pub fn embedded(store: &Store) -> usize {
    catalogue()
        .iter()
        .filter(|e| store.get(&e.key).is_some())
        .count()
}

/// The background a searcher compares with: the catalogue's embeddings as half floats,
/// one row each, without the entries of one benchmark (`skip`: the benchmark reporting on
/// that set leaves its own tools out).
pub struct Rows {
    pub rows: Vec<u16>,
    pub count: usize,
}

impl Rows {
    /// The rows from `store`, when every entry (but those skipped) is there.
    pub fn of(store: &Arc<Store>, skip: Option<&str>) -> Option<Rows> {
        let vectors = vectors(store);
        let mut rows = Vec::with_capacity(vectors.len() * semantic::DIM);
        let mut count = 0;
        for (e, v) in catalogue().iter().zip(vectors) {
            if skip.is_some_and(|s| s == e.from) {
                continue;
            }
            rows.extend(v?.iter().map(|x| minilm::half(*x)));
            count += 1;
        }
        Some(Rows { rows, count })
    }

    /// [`Rows::of`] without skipping, made once a process (the catalogue's embeddings
    /// are the same whichever store gave them).
    pub fn shared(store: &Arc<Store>) -> Option<Arc<Rows>> {
        static FULL: OnceLock<Arc<Rows>> = OnceLock::new();
        if let Some(rows) = FULL.get() {
            return Some(rows.clone());
        }
        let rows = Arc::new(Rows::of(store, None)?);
        Some(FULL.get_or_init(|| rows).clone())
    }

    pub fn row(&self, i: usize) -> &[u16] {
        &self.rows[i * semantic::DIM..(i + 1) * semantic::DIM]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_is_read_and_kept_apart_by_source() {
        let all = catalogue();
        assert!(all.len() > 600, "{}", all.len());
        assert!(all.iter().any(|e| e.from == "metatool"));
        assert!(all.iter().any(|e| e.from == "livemcpbench"));
        assert!(all.iter().all(|e| !e.text.is_empty()));
        let mut keys: Vec<Key> = all.iter().map(|e| e.key).collect();
        keys.sort();
        keys.dedup();
        assert!(keys.len() + 5 >= all.len(), "texts are distinct");
        assert!(parse("not json\n{}\n").len() == 1);
        assert!(is_background(&all[0].key));
        assert!(!is_background(&semantic::key_of("a tool of a view")));
    }

    #[test]
    fn the_catalogues_embeddings_are_computed_once_a_process_and_no_others_are_kept() {
        let e = &catalogue()[3];
        let first = embed(&e.key, &e.text).expect("the model");
        let again = embed(&e.key, &e.text).expect("the model");
        assert!(
            Arc::ptr_eq(&first, &again),
            "the memo gave the first vector back"
        );
        let direct = semantic::embed_tool(&e.text).expect("the model");
        assert!(
            first.iter().zip(direct.iter()).all(|(a, b)| a == b),
            "the same vector"
        );
        let text = "a tool of a view, not of the catalogue";
        let key = semantic::key_of(text);
        let (a, b) = (embed(&key, text).unwrap(), embed(&key, text).unwrap());
        assert!(
            !Arc::ptr_eq(&a, &b),
            "a view's tool is computed, not memoized"
        );
    }

    #[test]
    fn rows_wait_for_every_embedding() {
        let store = Arc::new(Store::default());
        let mut rx = store.attach();
        assert!(Rows::of(&store, None).is_none());
        let wanted: usize = std::iter::from_fn(|| rx.try_recv().ok())
            .map(|w| w.len())
            .sum();
        assert_eq!(wanted, catalogue().len(), "all asked for, once");
        let v: Vector = Arc::new([0.0; semantic::DIM]);
        store.put(
            catalogue()
                .iter()
                .filter(|e| e.from == "metatool")
                .map(|e| (e.key, v.clone())),
        );
        assert!(Rows::of(&store, None).is_none());
        assert!(embedded(&store) < catalogue().len());
        let only = Rows::of(&store, Some("livemcpbench")).expect("the rest are there");
        assert_eq!(
            only.count,
            catalogue().iter().filter(|e| e.from == "metatool").count()
        );
        assert_eq!(only.row(0).len(), semantic::DIM);
    }
}
