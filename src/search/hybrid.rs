//! Lexical and semantic retrieval joined: the lexical index scores a tool by the query's
//! words, the embeddings by meaning; a tool's score is [`LEXICAL_WEIGHT`] of its lexical
//! score (against the best of the query, and only when its words cover enough of the
//! query) plus the rest of its cosine to the query. A tool is a hit when its meaning is
//! close ([`ACCEPT`]), when its words cover the query and its meaning is not far
//! ([`ACCEPT_WITH_WORDS`]), or when its words cover nearly all of the query
//! ([`ACCEPT_BY_WORDS`]); a need no tool serves gets nothing. The figures are
//! calibrated on `bench/toolsearch/` (README, "Tool search").
//!
//! Tools whose embeddings are not there yet (being computed, [`super::semantic`]) are
//! ranked by their words alone meanwhile.

use std::sync::Arc;

use arc_swap::ArcSwap;

use super::index::{Hit, Index, Tuning, best};
use super::semantic::{self, DIM, Key, Vector};
use super::{Doc, Fields, MIN_COVERAGE};

/// The share of the lexical score in a tool's score (the rest is the cosine).
pub const LEXICAL_WEIGHT: f32 = 0.3;

/// The cosine at which a tool is a hit on meaning alone.
pub const ACCEPT: f32 = 0.35;

/// The cosine at which a tool whose words cover the query is a hit.
pub const ACCEPT_WITH_WORDS: f32 = 0.3;

/// The share of the query's weight a tool's words cover to be a hit whatever its cosine
/// (a short description under an arbitrary server name can sit far from a query that
/// says exactly what it does).
pub const ACCEPT_BY_WORDS: f32 = 0.8;

/// How lexical and semantic scores are joined: the defaults are [`LEXICAL_WEIGHT`],
/// [`ACCEPT`] and [`ACCEPT_WITH_WORDS`] (the benchmark's calibration varies them).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Blend {
    pub lexical_weight: f32,
    pub accept: f32,
    pub accept_with_words: f32,
    pub accept_by_words: f32,
}

impl Default for Blend {
    fn default() -> Blend {
        Blend {
            lexical_weight: LEXICAL_WEIGHT,
            accept: ACCEPT,
            accept_with_words: ACCEPT_WITH_WORDS,
            accept_by_words: ACCEPT_BY_WORDS,
        }
    }
}

/// A list of tools, searched by words and (when on) by meaning.
pub struct Searcher {
    lexical: Index,
    semantic: Option<Semantic>,
}

struct Semantic {
    store: Arc<semantic::Store>,
    keys: Vec<Key>,
    texts: Vec<String>,
    vectors: ArcSwap<Vectors>,
}

/// The tools' embeddings, one row each, as half floats (a search streams them all: half
/// the bytes of f32, and cosines that move by less than 1e-3); a row not yet there is
/// zeros.
struct Vectors {
    rows: Vec<u16>,
    present: Vec<bool>,
    missing: usize,
}

impl Searcher {
    /// Indexes `tools` (a hit's `doc` is a position in it); with a `store` (semantic
    /// retrieval on), their embeddings are taken from it and the missing ones asked for.
    pub fn build<'a>(tools: Vec<Fields<'a>>, store: Option<Arc<semantic::Store>>) -> Searcher {
        Searcher::of_docs(&docs(&tools), store)
    }

    /// [`Searcher::build`] from the tools' [`Doc`]s, made earlier.
    pub fn of_docs(docs: &[Arc<Doc>], store: Option<Arc<semantic::Store>>) -> Searcher {
        let searcher = Searcher::index(docs, store);
        if let Some(s) = &searcher.semantic {
            s.want();
        }
        searcher
    }

    /// [`Searcher::build`], the missing embeddings computed before it returns (the
    /// benchmark; blocking).
    pub fn build_now<'a>(tools: Vec<Fields<'a>>, store: Arc<semantic::Store>) -> Searcher {
        let searcher = Searcher::index(&docs(&tools), Some(store));
        if let Some(s) = &searcher.semantic {
            let wanted: Vec<semantic::Wanted> = s
                .keys
                .iter()
                .zip(&s.texts)
                .filter(|(k, _)| s.store.get(k).is_none())
                .map(|(k, t)| (*k, t.clone()))
                .collect();
            s.store.compute(wanted);
            s.refresh();
        }
        searcher
    }

    fn index(docs: &[Arc<Doc>], store: Option<Arc<semantic::Store>>) -> Searcher {
        let semantic = store.map(|store| {
            let s = Semantic {
                store,
                keys: docs.iter().map(|d| d.key).collect(),
                texts: docs.iter().map(|d| d.text.clone()).collect(),
                vectors: ArcSwap::from_pointee(Vectors {
                    rows: vec![0; docs.len() * DIM],
                    present: vec![false; docs.len()],
                    missing: docs.len(),
                }),
            };
            s.refresh();
            s
        });
        let terms: Vec<_> = docs.iter().map(|d| &d.terms).collect();
        Searcher {
            lexical: Index::of_terms(&terms),
            semantic,
        }
    }

    /// How many tools it holds.
    pub fn len(&self) -> usize {
        self.lexical.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lexical.is_empty()
    }

    /// Whether a search wants the query's embedding (semantic retrieval is on).
    pub fn semantic(&self) -> bool {
        self.semantic.is_some()
    }

    /// Tools whose embeddings are not there yet.
    pub fn missing(&self) -> usize {
        self.semantic.as_ref().map_or(0, |s| s.refresh().missing)
    }

    /// The tools that fit `query`, best first, at most `limit`. `vector` is the query's
    /// embedding; without it (or with semantic retrieval off) the words alone decide.
    pub fn search(&self, query: &str, limit: usize, vector: Option<&Vector>) -> Vec<Hit> {
        self.search_blended(query, limit, vector, &Blend::default())
    }

    /// The lexical index alone (the benchmark's comparison).
    pub fn lexical(&self) -> &Index {
        &self.lexical
    }

    /// [`Searcher::search`] with another [`Blend`].
    pub fn search_blended(
        &self,
        query: &str,
        limit: usize,
        vector: Option<&Vector>,
        blend: &Blend,
    ) -> Vec<Hit> {
        let (Some(s), Some(q)) = (&self.semantic, vector) else {
            return self.lexical.search(query, limit);
        };
        let all = Tuning {
            min_coverage: 0.0,
            ..Tuning::default()
        };
        let n = self.lexical.len();
        let mut lexical = vec![0f32; n];
        let mut coverage = vec![0f32; n];
        let mut top = 0f32;
        for h in self.lexical.scores(query, &all) {
            lexical[h.doc] = h.score;
            coverage[h.doc] = h.coverage;
            top = top.max(h.score);
        }
        let vectors = s.refresh();
        let mut hits = Vec::new();
        for doc in 0..n {
            let words = coverage[doc] >= MIN_COVERAGE;
            let cosine = match vectors.present[doc] {
                true => minilm::dot_half(&q[..], &vectors.rows[doc * DIM..(doc + 1) * DIM]),
                // Not embedded yet: its words decide, its meaning counts as just enough.
                false if words => blend.accept_with_words,
                false => continue,
            };
            let hit = cosine >= blend.accept
                || (words && cosine >= blend.accept_with_words)
                || coverage[doc] >= blend.accept_by_words;
            if !hit {
                continue;
            }
            let lex = match words && top > 0.0 {
                true => lexical[doc] / top,
                false => 0.0,
            };
            hits.push(Hit {
                doc,
                score: blend.lexical_weight * lex + (1.0 - blend.lexical_weight) * cosine,
                coverage: coverage[doc],
            });
        }
        best(hits, limit)
    }
}

/// The [`Doc`]s of `tools`.
fn docs(tools: &[Fields]) -> Vec<Arc<Doc>> {
    tools.iter().map(|f| Arc::new(Doc::of(f))).collect()
}

impl Semantic {
    /// The vectors, with those that arrived in the store since taken in.
    fn refresh(&self) -> Arc<Vectors> {
        let current = self.vectors.load_full();
        if current.missing == 0 {
            return current;
        }
        let store = &self.store;
        let arrived: Vec<(usize, Vector)> = (0..self.keys.len())
            .filter(|&d| !current.present[d])
            .filter_map(|d| store.get(&self.keys[d]).map(|v| (d, v)))
            .collect();
        if arrived.is_empty() {
            return current;
        }
        let mut rows = current.rows.clone();
        let mut present = current.present.clone();
        for (d, v) in &arrived {
            for (h, x) in rows[d * DIM..(d + 1) * DIM].iter_mut().zip(&v[..]) {
                *h = minilm::half(*x);
            }
            present[*d] = true;
        }
        let fresh = Arc::new(Vectors {
            missing: current.missing - arrived.len(),
            rows,
            present,
        });
        self.vectors.store(fresh.clone());
        fresh
    }

    /// Asks the store for the embeddings still missing.
    fn want(&self) {
        let vectors = self.refresh();
        if vectors.missing == 0 {
            return;
        }
        let wanted = (0..self.keys.len())
            .filter(|&d| !vectors.present[d])
            .map(|d| (self.keys[d], self.texts[d].clone()))
            .collect();
        self.store.want(wanted);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool<'a>(name: &'a str, description: &'a str, server: &'a str) -> Fields<'a> {
        Fields {
            name,
            description,
            server,
            ..Fields::default()
        }
    }

    fn tools() -> Vec<Fields<'static>> {
        vec![
            tool(
                "time__get_current_time",
                "Get current time in a specific timezones",
                "time",
            ),
            tool(
                "git__git_create_branch",
                "Creates a new branch from an optional base branch",
                "git",
            ),
            tool(
                "github__create_branch",
                "Create a new branch in a GitHub repository",
                "github",
            ),
            tool(
                "fetch__fetch",
                "Fetches a URL from the internet and extracts its contents as markdown",
                "fetch",
            ),
            tool(
                "sqlite__read_query",
                "Execute a SELECT query on the SQLite database",
                "sqlite",
            ),
        ]
    }

    fn names(s: &Searcher, query: &str) -> Vec<&'static str> {
        let v = semantic::embed_query(query).unwrap();
        let all = tools();
        s.search(query, 3, Some(&v))
            .iter()
            .map(|h| all[h.doc].name)
            .collect()
    }

    #[test]
    fn meaning_finds_what_words_miss_and_nothing_fits_a_need_no_tool_serves() {
        let s = Searcher::build_now(tools(), Arc::default());
        assert_eq!(s.missing(), 0);
        assert_eq!(
            names(&s, "what hour is it in Tokyo")[0],
            "time__get_current_time"
        );
        assert_eq!(
            names(&s, "get the contents of a web page")[0],
            "fetch__fetch"
        );
        assert_eq!(
            names(&s, "list rows of my sqlite table")[0],
            "sqlite__read_query"
        );
        let branch = names(&s, "make a branch on github");
        assert_eq!(branch[0], "github__create_branch");
        assert!(names(&s, "send an SMS to my mother").is_empty());
        assert!(names(&s, "\u{7}\u{0}ᚠᛇᚻ᛫ᛒᛦᚦ").is_empty());
        // Without the query's embedding, the words alone.
        assert_eq!(
            s.search("create branch github", 3, None)[0].doc,
            s.lexical().search("create branch github", 3)[0].doc
        );
    }

    #[test]
    fn tools_not_embedded_yet_are_found_by_their_words() {
        let s = Searcher::index(&docs(&tools()), Some(Arc::default()));
        let v = semantic::embed_query("create a branch").unwrap();
        let found = s.search("create a branch", 5, Some(&v));
        assert!(!found.is_empty());
        let off = Searcher::build(tools(), None);
        assert!(!off.semantic());
        assert_eq!(off.missing(), 0);
        assert_eq!(off.len(), 5);
    }
}
