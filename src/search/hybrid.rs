//! Lexical and semantic retrieval joined. A need is read with its argument values
//! replaced by the words for their kinds ([`super::query`]); the lexical index scores a
//! tool by those words, the embeddings by meaning (the whole need's and, for a long one,
//! its clauses': a tool's cosine is half the whole's and half the best of the whole and
//! the clauses'). Each is scaled per query (the lexical score against the best, the
//! cosine between the query's lowest and highest), and a tool's score is
//! [`Blend::lexical_weight`] of the first plus the rest of the second, plus
//! [`Blend::mention`] when the need names the tool's server ("in Notion", "on GitLab").
//!
//! Nothing is answered only when the search is sure: the best tool's cosine is under
//! [`Blend::sure_cosine`], and either no tool has any of the need's words or a tool of
//! the background catalogue ([`super::background`]) fits the need better by
//! [`Blend::background_margin`]. Otherwise the best tools come
//! back, each with a [`Confidence`] a model can read. The figures are fit on some
//! benchmark sets and reported on the others (README, "Tool search").
//!
//! Until every tool of a list is embedded (seconds after a change), or when the query's
//! embedding cannot be had, the words alone rank ([`super::Index::search`]): never worse
//! than the lexical search.

use std::collections::HashSet;
use std::sync::Arc;

use arc_swap::ArcSwap;

use super::background::Rows;
use super::index::{Hit, Index, Tuning, best};
use super::semantic::{self, DIM, Key, Vector};
use super::{Doc, Fields, query, text};

/// How the signals are joined and when nothing is answered. The defaults are fit on the
/// benchmark sets (`bench/toolsearch/run.sh` prints the fit and the held-out figures).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Blend {
    /// The share of the lexical score (the rest is the cosine).
    pub lexical_weight: f32,
    /// Added to the score of the tools of a server the need names.
    pub mention: f32,
    /// Nothing fits only when the best cosine is under this...
    pub sure_cosine: f32,
    /// ...and a background tool's cosine is over the best by this.
    pub background_margin: f32,
}

impl Default for Blend {
    fn default() -> Blend {
        Blend {
            lexical_weight: 0.3,
            mention: 0.0,
            sure_cosine: 0.16,
            background_margin: 0.0,
        }
    }
}

/// How sure the search is that a tool it gives serves the need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confidence {
    /// Its meaning is close, or its words say nearly all the need says.
    High,
    Medium,
    /// The nearest there is, but it may not serve the need.
    Low,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::High => "high",
            Confidence::Medium => "medium",
            Confidence::Low => "low",
        }
    }
}

/// The cosine from which a tool is found with [`Confidence::High`].
pub const HIGH_COSINE: f32 = 0.5;

/// The share of the need's words a tool covers from which it is found with
/// [`Confidence::High`].
pub const HIGH_COVERAGE: f32 = 0.8;

/// One tool found: its position in the list, its score and the search's confidence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Found {
    pub doc: usize,
    pub score: f32,
    pub confidence: Confidence,
}

/// A query's embeddings: the whole need's (typed) and its clauses'.
pub struct QueryVectors {
    pub whole: Vector,
    pub clauses: Vec<Vector>,
}

impl QueryVectors {
    /// The embeddings of `need` (blocking: a query's embedding per clause, milliseconds).
    pub fn of(need: &str) -> Result<QueryVectors, String> {
        let typed = query::typed(need);
        let read = if typed.trim().is_empty() {
            need
        } else {
            &typed
        };
        Ok(QueryVectors {
            whole: semantic::embed_query(read)?,
            clauses: query::clauses(read)
                .into_iter()
                .map(semantic::embed_query)
                .collect::<Result<_, _>>()?,
        })
    }

    /// [`QueryVectors::of`] on the blocking pool, within [`semantic::QUERY_SLOTS`];
    /// `None` when the model cannot be read (said once in the log) or every slot stayed
    /// busy for [`semantic::QUERY_WAIT`] (the words alone then rank).
    pub async fn compute(need: &str) -> Option<QueryVectors> {
        static SLOTS: tokio::sync::Semaphore =
            tokio::sync::Semaphore::const_new(semantic::QUERY_SLOTS);
        static SAID: std::sync::Once = std::sync::Once::new();
        let slot = tokio::time::timeout(semantic::QUERY_WAIT, SLOTS.acquire())
            .await
            .ok()?
            .ok()?;
        let need = need.to_string();
        let result = tokio::task::spawn_blocking(move || QueryVectors::of(&need)).await;
        drop(slot);
        match result {
            Ok(Ok(v)) => Some(v),
            Ok(Err(e)) => {
                SAID.call_once(|| {
                    tracing::error!(error = %e, "tool search: the model cannot be read; searches rank by words alone")
                });
                None
            }
            Err(_) => None,
        }
    }

    /// The cosine of the need to a row of half floats: half the whole's, half the best
    /// of the whole's and the clauses'.
    fn cosine(&self, row: &[u16]) -> f32 {
        let whole = minilm::dot_half(&self.whole[..], row);
        let best = self
            .clauses
            .iter()
            .map(|c| minilm::dot_half(&c[..], row))
            .fold(whole, f32::max);
        0.5 * whole + 0.5 * best
    }
}

/// What a query says of every tool, before they are joined ([`Signals::rank`]).
pub struct Signals {
    /// The lexical score against the query's best (0 to 1).
    pub lexical: Vec<f32>,
    /// The share of the need's words each tool covers.
    pub coverage: Vec<f32>,
    /// The cosine ([`QueryVectors`]).
    pub cosine: Vec<f32>,
    /// Whether the need names the tool's server.
    pub named: Vec<bool>,
    /// The best background tool's cosine, when the background is there.
    pub background: Option<f32>,
    /// Whether any tool has any of the need's words.
    pub words_reach: bool,
}

impl Signals {
    /// The tools that fit, best first, at most `limit`; none when nothing fits for sure.
    pub fn rank(&self, blend: &Blend, limit: usize) -> Vec<Found> {
        let n = self.cosine.len();
        if n == 0 || limit == 0 {
            return Vec::new();
        }
        let (lo, hi) = self
            .cosine
            .iter()
            .fold((f32::MAX, f32::MIN), |(lo, hi), c| (lo.min(*c), hi.max(*c)));
        // Sure: nothing is close in meaning, and either no tool has any of the need's
        // words or a background tool fits clearly better.
        let better = self
            .background
            .is_some_and(|bg| bg - hi > blend.background_margin);
        if hi < blend.sure_cosine && (!self.words_reach || better) {
            return Vec::new();
        }
        let span = (hi - lo).max(1e-6);
        let hits: Vec<Hit> = (0..n)
            .map(|doc| Hit {
                doc,
                score: blend.lexical_weight * self.lexical[doc]
                    + (1.0 - blend.lexical_weight) * (self.cosine[doc] - lo) / span
                    + if self.named[doc] { blend.mention } else { 0.0 },
                coverage: self.coverage[doc],
            })
            .collect();
        best(hits, limit)
            .into_iter()
            .map(|h| Found {
                doc: h.doc,
                score: h.score,
                confidence: self.confidence(h.doc, blend),
            })
            .collect()
    }

    fn confidence(&self, doc: usize, blend: &Blend) -> Confidence {
        let cosine = self.cosine[doc];
        let beaten = self.background.is_some_and(|bg| bg > cosine);
        if cosine >= HIGH_COSINE || self.coverage[doc] >= HIGH_COVERAGE {
            Confidence::High
        } else if cosine < blend.sure_cosine || beaten {
            Confidence::Low
        } else {
            Confidence::Medium
        }
    }
}

/// The confidence of a tool found by its words alone: by the share of the need's words
/// it covers.
fn lexical_confidence(coverage: f32) -> Confidence {
    match coverage {
        c if c >= HIGH_COVERAGE => Confidence::High,
        c if c >= 0.5 => Confidence::Medium,
        _ => Confidence::Low,
    }
}

/// A list of tools, searched by words and (when on) by meaning.
pub struct Searcher {
    lexical: Index,
    /// Each tool's server's words (those a need would name it by).
    servers: Vec<Arc<[String]>>,
    semantic: Option<Semantic>,
    /// The background benchmark left out (the benchmark reporting on it).
    skip: Option<String>,
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

/// Words of a server's name that name no product.
const GENERIC: &[&str] = &["mcp", "server", "tool", "api", "plugin"];

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
        let searcher = Searcher::index(&docs(&tools), Some(store.clone()));
        if let Some(s) = &searcher.semantic {
            let wanted: Vec<semantic::Wanted> = s
                .keys
                .iter()
                .zip(&s.texts)
                .filter(|(k, _)| s.store.get(k).is_none())
                .map(|(k, t)| (*k, t.clone()))
                .collect();
            let mut found = Vec::with_capacity(wanted.len());
            for (key, text) in wanted {
                match semantic::embed_tool(&text) {
                    Ok(v) => found.push((key, v)),
                    Err(e) => {
                        tracing::warn!(error = %e, "tool search: a tool's embedding failed");
                        s.store.give_up([key]);
                    }
                }
            }
            s.store.put(found);
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
        let mut servers: Vec<Arc<[String]>> = Vec::with_capacity(docs.len());
        for d in docs {
            let words: Vec<String> = d
                .terms
                .server()
                .iter()
                .filter(|w| !GENERIC.contains(&w.as_str()))
                .cloned()
                .collect();
            // Tools of one server share one list of its words.
            match servers.last() {
                Some(last) if **last == *words => servers.push(last.clone()),
                _ => servers.push(words.into()),
            }
        }
        Searcher {
            lexical: Index::of_terms(&terms),
            servers,
            semantic,
            skip: None,
        }
    }

    /// Leaves one benchmark's tools out of the background (the benchmark reports on it).
    pub fn without_background_from(mut self, from: &str) -> Searcher {
        self.skip = Some(from.to_string());
        self
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

    /// The lexical index alone (the benchmark's comparison).
    pub fn lexical(&self) -> &Index {
        &self.lexical
    }

    /// The tools that fit `query`, best first, at most `limit`. `vectors` are the
    /// query's embeddings; without them, with semantic retrieval off, or while a tool's
    /// embedding is missing, the words alone decide.
    pub fn search(&self, query: &str, limit: usize, vectors: Option<&QueryVectors>) -> Vec<Found> {
        match self.signals(query, vectors) {
            Some(signals) => signals.rank(&Blend::default(), limit),
            None => self.by_words(query, limit),
        }
    }

    /// The words alone: every tool the need's (typed) words reach, best first; nothing
    /// only when no tool has any of them (the words alone cannot be sure of more).
    pub fn by_words(&self, query: &str, limit: usize) -> Vec<Found> {
        let all = Tuning {
            min_coverage: 0.0,
            ..Tuning::default()
        };
        self.lexical
            .search_tuned(&read(query), limit, &all)
            .into_iter()
            .map(|h| Found {
                doc: h.doc,
                score: h.score,
                confidence: lexical_confidence(h.coverage),
            })
            .collect()
    }

    /// What `query` says of every tool, when every tool is embedded and `vectors` are
    /// there (`None` otherwise: the words alone decide).
    pub fn signals(&self, query: &str, vectors: Option<&QueryVectors>) -> Option<Signals> {
        let (s, q) = (self.semantic.as_ref()?, vectors?);
        let embedded = s.refresh();
        if embedded.missing > 0 {
            return None;
        }
        let typed = read(query);
        let n = self.lexical.len();
        let all = Tuning {
            min_coverage: 0.0,
            ..Tuning::default()
        };
        let mut lexical = vec![0f32; n];
        let mut coverage = vec![0f32; n];
        let mut top = 0f32;
        for h in self.lexical.scores(&typed, &all) {
            lexical[h.doc] = h.score;
            coverage[h.doc] = h.coverage;
            top = top.max(h.score);
        }
        if top > 0.0 {
            lexical.iter_mut().for_each(|l| *l /= top);
        }
        let cosine: Vec<f32> = (0..n)
            .map(|d| q.cosine(&embedded.rows[d * DIM..(d + 1) * DIM]))
            .collect();
        let asked: HashSet<String> = text::words(&typed).into_iter().collect();
        let named = self
            .servers
            .iter()
            .map(|w| !w.is_empty() && w.iter().all(|x| asked.contains(x)))
            .collect();
        let background = self.background(q, &cosine, &embedded);
        Some(Signals {
            lexical,
            coverage,
            cosine,
            named,
            background,
            words_reach: top > 0.0,
        })
    }

    /// The best background tool's cosine to the need, leaving out those that are the
    /// view's own best tool under another name (cosine over [`SAME_TOOL`] to it).
    fn background(&self, q: &QueryVectors, cosine: &[f32], embedded: &Vectors) -> Option<f32> {
        let rows = match &self.skip {
            None => Rows::full(),
            Some(skip) => Arc::new(Rows::without(Some(skip))),
        };
        let best_doc = (0..cosine.len()).max_by(|a, b| cosine[*a].total_cmp(&cosine[*b]))?;
        let own = &embedded.rows[best_doc * DIM..(best_doc + 1) * DIM];
        let mut scored: Vec<(f32, usize)> = (0..rows.count)
            .map(|i| (q.cosine(rows.row(i)), i))
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        scored
            .into_iter()
            .take(8)
            .find(|(_, i)| half_dot(own, rows.row(*i)) <= SAME_TOOL)
            .map(|(c, _)| c)
    }
}

/// The cosine over which a background tool is taken for the view's own.
pub const SAME_TOOL: f32 = 0.9;

/// The dot product of two rows of half floats.
fn half_dot(a: &[u16], b: &[u16]) -> f32 {
    let a: Vec<f32> = a.iter().map(|h| minilm::widen(*h)).collect();
    minilm::dot_half(&a, b)
}

/// The need as the search reads it: its values typed, or as it is when that leaves
/// nothing.
fn read(query: &str) -> String {
    let typed = query::typed(query);
    match typed.trim().is_empty() {
        true => query.to_string(),
        false => typed,
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

    /// Asks the store for the embeddings still missing, the tools' first, then the
    /// background's (a view's own tools are searched by meaning sooner).
    fn want(&self) {
        let vectors = self.refresh();
        if vectors.missing > 0 {
            let wanted = (0..self.keys.len())
                .filter(|&d| !vectors.present[d])
                .map(|d| (self.keys[d], self.texts[d].clone()))
                .collect();
            self.store.want(wanted);
        }
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
        let v = QueryVectors::of(query).unwrap();
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
        // The server a need names counts; its values do not match by accident.
        assert_eq!(
            names(&s, "create a branch named fetch-timeout-fix on github")[0],
            "github__create_branch"
        );
    }

    #[test]
    fn confidence_is_said_and_nothing_only_when_sure() {
        let s = Searcher::build_now(tools(), Arc::default());
        let v = QueryVectors::of("what time is it in Tokyo").unwrap();
        let found = s.search("what time is it in Tokyo", 5, Some(&v));
        assert_ne!(found[0].confidence, Confidence::Low);
        assert!(found.iter().any(|f| f.confidence == Confidence::Low));
        let signals = s.signals("what time is it in Tokyo", Some(&v)).unwrap();
        assert!(signals.background.is_some());
        // Unsure (nothing close, but no background tool nearer): the nearest, said low.
        let never = Blend {
            background_margin: 2.0,
            ..Blend::default()
        };
        let v = QueryVectors::of("send an SMS to my mother").unwrap();
        let mut signals = s.signals("send an SMS to my mother", Some(&v)).unwrap();
        assert!(!signals.words_reach, "no tool has these words");
        assert!(
            signals.rank(&never, 3).is_empty(),
            "nothing close, no word: sure"
        );
        signals.words_reach = true;
        assert!(signals.rank(&Blend::default(), 3).is_empty());
        let nearest = signals.rank(&never, 3);
        assert_eq!(nearest.len(), 3);
        assert!(nearest.iter().all(|f| f.confidence == Confidence::Low));
        assert!(signals.rank(&never, 0).is_empty());
        assert_eq!(Confidence::Medium.as_str(), "medium");
        assert_eq!(lexical_confidence(0.6), Confidence::Medium);
    }

    #[test]
    fn tools_not_embedded_yet_are_found_by_their_words() {
        let s = Searcher::index(&docs(&tools()), Some(Arc::default()));
        let v = QueryVectors::of("create a branch").unwrap();
        assert!(s.signals("create a branch", Some(&v)).is_none());
        let found = s.search("create a branch", 5, Some(&v));
        let words: Vec<usize> = s
            .lexical()
            .search("create a branch", 5)
            .iter()
            .map(|h| h.doc)
            .collect();
        assert_eq!(found.iter().map(|f| f.doc).collect::<Vec<_>>(), words);
        let off = Searcher::build(tools(), None);
        assert!(!off.semantic());
        assert_eq!(off.missing(), 0);
        assert_eq!(off.len(), 5);
    }
}
