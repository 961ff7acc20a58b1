//! The lexical index: BM25F over a tool's fields, each with its own weight and length
//! normalisation (the name's words count most, a server's instructions least), built
//! once per list and read without locks. A query's words also look for their related
//! words ([`super::synonyms`]) at a lower weight.
//!
//! A query nothing serves gets nothing: every hit must cover at least
//! [`MIN_COVERAGE`] of the query's weight (each word weighted by its rarity; a word no
//! tool uses weighs [`UNKNOWN`] of the rarest), so "send an SMS to my mother" finds no
//! tool, however well "send" matches, while "what time is it in Tokyo" finds the clock.

use std::collections::HashMap;

use super::synonyms::{RELATED, related};
use super::text::words;

/// A tool's text, by field, as the index reads it.
#[derive(Debug, Default, Clone)]
pub struct Fields<'a> {
    /// The tool's name as the view exposes it.
    pub name: &'a str,
    pub title: &'a str,
    pub description: &'a str,
    /// Its parameters' names and descriptions, one after the other.
    pub params: String,
    /// Its parameters' names alone, spaced.
    pub param_names: String,
    /// The name of the server that serves it.
    pub server: &'a str,
    /// The server's `instructions`.
    pub instructions: &'a str,
}

/// (weight, length normalisation b) of each field, in [`Fields`]' order.
const FIELDS: [(f32, f32); 6] = [
    (4.0, 0.3),  // name
    (2.5, 0.3),  // title
    (1.0, 0.75), // description
    (0.6, 0.75), // params
    (1.5, 0.0),  // server
    (0.3, 0.75), // instructions
];

/// BM25's term saturation.
const K1: f32 = 1.2;

/// The least share of a query's weight a hit covers.
pub const MIN_COVERAGE: f32 = 0.35;

/// The weight of a query's word no tool has, against the rarest word a tool has: such a
/// word is as often an argument ("Tokyo", a file's name) as a need nothing serves ("SMS").
pub const UNKNOWN: f32 = 0.4;

/// How much of an asked word a related word covers (its score counts at the related
/// weight; whether the word is addressed at all, mostly).
pub const RELATED_COVERS: f32 = 0.75;

/// Most distinct words of a query looked for (the rest are ignored).
pub const MAX_QUERY_WORDS: usize = 32;

/// Words of a field kept, at most (a 1 MB description is read as its first words).
const MAX_FIELD_WORDS: usize = 2048;
/// Bytes of a field read, at most (more than its kept words need).
const MAX_FIELD_BYTES: usize = 32 * 1024;

/// How a search weighs and cuts: the defaults are [`MIN_COVERAGE`], [`UNKNOWN`] and
/// [`RELATED`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tuning {
    pub min_coverage: f32,
    pub unknown: f32,
    pub related: f32,
}

impl Default for Tuning {
    fn default() -> Tuning {
        Tuning {
            min_coverage: MIN_COVERAGE,
            unknown: UNKNOWN,
            related: RELATED,
        }
    }
}

/// One tool's score for a query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// The tool's position in the list the index was built from.
    pub doc: usize,
    pub score: f32,
    /// The share of the query's weight it covers (0 to 1).
    pub coverage: f32,
}

/// The index of one list of tools.
#[derive(Default)]
pub struct Index {
    docs: usize,
    /// word → (tool, its weighted, length-normalised frequency in that tool)
    postings: HashMap<Box<str>, Vec<(u32, f32)>>,
}

/// A tool's words by field, in [`Fields`]' order, as the index reads them (the first
/// [`MAX_FIELD_WORDS`] of each): made once per tool, whatever the lists it is indexed in.
#[derive(Debug, Default, Clone)]
pub struct Terms([Vec<String>; 6]);

impl Terms {
    /// The words of the tool's server's name.
    pub fn server(&self) -> &[String] {
        &self.0[4]
    }

    pub fn of(f: &Fields) -> Terms {
        let cut = |text: &str| {
            let mut w = words(super::text::head(text, MAX_FIELD_BYTES));
            w.truncate(MAX_FIELD_WORDS);
            w
        };
        Terms([
            cut(f.name),
            cut(f.title),
            cut(f.description),
            cut(&f.params),
            cut(f.server),
            cut(f.instructions),
        ])
    }
}

impl Index {
    /// Indexes `tools`, in order (a hit's `doc` is a position in it).
    pub fn build<'a>(tools: impl IntoIterator<Item = Fields<'a>>) -> Index {
        let terms: Vec<Terms> = tools.into_iter().map(|f| Terms::of(&f)).collect();
        Index::of_terms(&terms.iter().collect::<Vec<_>>())
    }

    /// Indexes tools by their words, in order.
    pub fn of_terms(tools: &[&Terms]) -> Index {
        let n = tools.len().max(1) as f32;
        let mut avg = [0f32; 6];
        for t in tools {
            for (i, field) in t.0.iter().enumerate() {
                avg[i] += field.len() as f32 / n;
            }
        }
        let mut postings: HashMap<Box<str>, Vec<(u32, f32)>> = HashMap::new();
        let mut tf: HashMap<&str, f32> = HashMap::new();
        for (doc, t) in tools.iter().enumerate() {
            tf.clear();
            for (i, field) in t.0.iter().enumerate() {
                let (weight, b) = FIELDS[i];
                let norm = 1.0 - b + b * field.len() as f32 / avg[i].max(1.0);
                for w in field {
                    *tf.entry(w.as_str()).or_default() += weight / norm;
                }
            }
            for (w, f) in &tf {
                match postings.get_mut(*w) {
                    Some(p) => p.push((doc as u32, *f)),
                    None => {
                        postings.insert(Box::from(*w), vec![(doc as u32, *f)]);
                    }
                }
            }
        }
        Index {
            docs: tools.len(),
            postings,
        }
    }

    /// How many tools it holds.
    pub fn len(&self) -> usize {
        self.docs
    }

    pub fn is_empty(&self) -> bool {
        self.docs == 0
    }

    /// Distinct words indexed.
    pub fn vocabulary(&self) -> usize {
        self.postings.len()
    }

    /// A word's rarity: BM25's idf, the highest for a word no tool has.
    fn idf(&self, df: usize) -> f32 {
        let n = self.docs as f32;
        (1.0 + (n - df as f32 + 0.5) / (df as f32 + 0.5)).ln()
    }

    /// The tools that fit `query`, best first, at most `limit`; only hits covering
    /// [`MIN_COVERAGE`] of the query.
    pub fn search(&self, query: &str, limit: usize) -> Vec<Hit> {
        self.rank(query, limit, &Tuning::default())
    }

    /// Plain BM25 for comparison: the query's own words alone, every tool that has one.
    pub fn search_plain(&self, query: &str, limit: usize) -> Vec<Hit> {
        let plain = Tuning {
            related: 0.0,
            min_coverage: 0.0,
            ..Tuning::default()
        };
        self.rank(query, limit, &plain)
    }

    /// [`Index::search`] with other settings (the benchmark's calibration).
    pub fn search_tuned(&self, query: &str, limit: usize, tuning: &Tuning) -> Vec<Hit> {
        self.rank(query, limit, tuning)
    }

    fn rank(&self, query: &str, limit: usize, tuning: &Tuning) -> Vec<Hit> {
        if limit == 0 {
            return Vec::new();
        }
        best(self.scores(query, tuning), limit)
    }

    /// Every tool the query's words reach (its score above 0) that covers
    /// `tuning.min_coverage` of the query, in no order.
    pub fn scores(&self, query: &str, tuning: &Tuning) -> Vec<Hit> {
        let mut asked = words(query);
        asked.dedup();
        let mut seen = std::collections::HashSet::new();
        asked.retain(|w| seen.insert(w.clone()));
        asked.truncate(MAX_QUERY_WORDS);
        if asked.is_empty() || self.docs == 0 {
            return Vec::new();
        }
        // Each asked word's weight, and what it and its related words find.
        let weights: Vec<f32> = asked
            .iter()
            .map(
                |w| match self.postings.get(w.as_str()).map_or(0, Vec::len) {
                    0 => tuning.unknown * self.idf(1),
                    df => self.idf(df),
                },
            )
            .collect();
        let total: f32 = weights.iter().sum();
        let mut score = vec![0f32; self.docs];
        // Per tool: the weight of the asked words it covers (each at most once, at the
        // best weight it was reached with).
        let mut covered = vec![[0f32; MAX_QUERY_WORDS]; self.docs];
        for (i, w) in asked.iter().enumerate() {
            let own = std::iter::once((w.as_str(), 1.0));
            let others = related(w)
                .filter(|_| tuning.related > 0.0)
                .map(|r| (r, tuning.related));
            for (word, qw) in own.chain(others) {
                let Some(list) = self.postings.get(word) else {
                    continue;
                };
                let idf = self.idf(list.len());
                for &(doc, f) in list {
                    let d = doc as usize;
                    score[d] += qw * idf * f / (K1 + f);
                    let c = &mut covered[d][i];
                    *c = c.max(if qw < 1.0 { RELATED_COVERS } else { 1.0 } * weights[i]);
                }
            }
        }
        score
            .iter()
            .enumerate()
            .filter(|(_, s)| **s > 0.0)
            .map(|(doc, s)| Hit {
                doc,
                score: *s,
                coverage: covered[doc].iter().sum::<f32>() / total.max(f32::EPSILON),
            })
            .filter(|h| h.coverage >= tuning.min_coverage)
            .collect()
    }
}

/// The `limit` best of `hits`, best first (ties: the earlier tool).
pub fn best(mut hits: Vec<Hit>, limit: usize) -> Vec<Hit> {
    let by_score = |a: &Hit, b: &Hit| b.score.total_cmp(&a.score).then(a.doc.cmp(&b.doc));
    if limit == 0 {
        return Vec::new();
    }
    if hits.len() > limit {
        hits.select_nth_unstable_by(limit - 1, by_score);
        hits.truncate(limit);
    }
    hits.sort_by(by_score);
    hits
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

    fn index() -> Index {
        Index::build([
            tool(
                "git__git_create_branch",
                "Creates a new branch in a local git repository",
                "git",
            ),
            tool(
                "github__create_branch",
                "Create a new branch in a GitHub repository",
                "github",
            ),
            tool(
                "filesystem__delete_file",
                "Delete a file from disk",
                "filesystem",
            ),
            tool(
                "filesystem__list_directory",
                "List the entries of a directory",
                "filesystem",
            ),
            tool(
                "time__get_current_time",
                "Current time in a timezone",
                "time",
            ),
        ])
    }

    #[test]
    fn the_best_tool_comes_first() {
        let ix = index();
        let top = |q: &str| ix.search(q, 5).first().map(|h| h.doc);
        assert_eq!(top("create a branch on github"), Some(1));
        assert_eq!(top("new branch in my local git repo"), Some(0));
        assert_eq!(top("remove a file"), Some(2), "through the related words");
        assert_eq!(top("show what is in this folder"), Some(3));
        assert_eq!(top("what time is it in Tokyo"), Some(4));
    }

    #[test]
    fn a_need_nothing_serves_finds_nothing() {
        let ix = index();
        assert!(ix.search("send an SMS to my mother", 5).is_empty());
        assert!(ix.search("", 5).is_empty());
        assert!(ix.search("the a of", 5).is_empty());
        assert!(ix.search("branch", 0).is_empty());
        assert!(Index::build([]).search("branch", 5).is_empty());
    }

    #[test]
    fn limits_hold_and_order_is_stable() {
        let ix = index();
        let all = ix.search("branch repository", 10);
        assert_eq!(all.len(), 2);
        assert!(all[0].score >= all[1].score);
        assert_eq!(ix.search("branch repository", 1).len(), 1);
        assert_eq!(ix.search("branch repository", 1)[0], all[0]);
        let long = "branch ".repeat(100_000);
        assert_eq!(ix.search(&long, 5).len(), 2);
    }
}
