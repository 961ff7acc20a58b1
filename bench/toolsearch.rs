//! Tool search, measured on data that chose nothing. Two parts, one command
//! (`bench/toolsearch/run.sh`):
//!
//! - Accuracy, on five sets: `ours` (`needs.jsonl`), and `situated` (`situated.jsonl`)
//!   and `agents` (`agents.jsonl`), each written blind by a helper that saw only the
//!   tools' definitions, in other styles, and frozen, over the real servers' tools
//!   (`TOOLSEARCH_TOOLS`, from `collect.py`), and the two public sets of
//!   `../shared/toolsearch-external/` (LiveMCPBench, MetaTool; `TOOLSEARCH_EXTERNAL`),
//!   written by nobody here (with `TOOLSEARCH_METATOOL_HELDOUT`, MetaTool's needs only
//!   for the half of its tools `train/toolsearch/` never trains on:
//!   `metatool-heldout.txt`). Every parameter of the gateway's join ([`Blend`]) is fit on
//!   the other sets and reported on the held-out one (leave one set out); beside it, from
//!   the same run: plain BM25, the off-the-shelf sum (0.3 × BM25 + 0.7 × the need's
//!   cosine under the stock all-MiniLM-L6-v2 the gateway's model was trained from, each
//!   scaled per query, no threshold), the words alone (the gateway before its
//!   embeddings are there), the whole need without its clauses (the cheaper option), and
//!   the shipped defaults (fit on all five). Recall@1, recall@5, MRR@10, real needs
//!   answered with nothing, needs no tool serves turned away, by kind; and how often the
//!   first tool is right at each confidence.
//! - Speed (criterion, `TOOLSEARCH_SPEED`): a search at 1,000 and 10,000 tools (the real
//!   ones, repeated under other server names, their embeddings kept), with the query's
//!   embeddings (whole and clauses) and without; a query's and a tool's embedding; the
//!   index build.
//!
//! Without `TOOLSEARCH_TOOLS` the accuracy part says how to get the tools and stops.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion};
use metamcp::search::hybrid::{Blend, Confidence, Signals};
use metamcp::search::semantic::{self, Store, Vector};
use metamcp::search::{Fields, Index, QueryVectors, Searcher, fields_of};
use serde_json::Value;

struct Tool {
    name: String,
    server: String,
    entry: Value,
}

/// A set's tools: `collect.py`'s list of servers, or `{"servers": [...]}`.
fn load_tools(path: &str) -> Vec<Tool> {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("read the tools"))
        .expect("JSON");
    let servers = match v {
        Value::Object(mut o) => o.remove("servers").unwrap_or_default(),
        v => v,
    };
    let mut out = Vec::new();
    for s in servers.as_array().into_iter().flatten() {
        let server = s["name"].as_str().unwrap_or_default().to_string();
        for t in s["tools"].as_array().into_iter().flatten() {
            let own = t["name"].as_str().unwrap_or_default();
            let mut entry = t.clone();
            let name = format!("{server}__{own}");
            entry["name"] = Value::String(name.clone());
            out.push(Tool {
                name,
                server: server.clone(),
                entry,
            });
        }
    }
    out
}

struct Need {
    text: String,
    expect: Vec<usize>,
    kind: String,
}

/// A set's needs (`need` or `q`, `expect`, `kind`), their tools by position.
fn load_needs(path: &str, tools: &[Tool]) -> Vec<Need> {
    let position = |name: &str| {
        tools
            .iter()
            .position(|t| t.name == name)
            .unwrap_or_else(|| panic!("{path}: {name} is no tool of the set"))
    };
    std::fs::read_to_string(path)
        .expect("read the needs")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("//"))
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"));
            Need {
                text: v["need"]
                    .as_str()
                    .or(v["q"].as_str())
                    .unwrap_or_default()
                    .to_string(),
                expect: v["expect"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(position)
                    .collect(),
                kind: v["kind"].as_str().unwrap_or("plain").to_string(),
            }
        })
        .collect()
}

/// One set, searched: its needs and what each method found for them.
struct Set {
    name: &'static str,
    /// Its tools' names, by position.
    tools: Vec<String>,
    needs: Vec<Need>,
    /// The gateway's signals per need (whole need and clauses; whole need alone).
    signals: Vec<Signals>,
    whole_only: Vec<Signals>,
    /// The ten best of the other methods, per need.
    bm25: Vec<Vec<usize>>,
    sum: Vec<Vec<usize>>,
    words: Vec<Vec<usize>>,
}

/// Plain BM25: the tool's name, description and parameters as one field, the query's
/// words alone, no threshold.
fn baseline_of(tools: &[Tool]) -> Index {
    let texts: Vec<String> = tools
        .iter()
        .map(|t| {
            let f = fields_of(&t.entry, &t.server, "");
            format!("{} {} {} {}", f.name, f.title, f.description, f.params)
        })
        .collect();
    Index::build(texts.iter().map(|t| Fields {
        description: t,
        ..Fields::default()
    }))
}

/// Min-max scaling over one query's tools.
fn scaled(x: &[f32]) -> Vec<f32> {
    let (lo, hi) = x
        .iter()
        .fold((f32::MAX, f32::MIN), |(l, h), v| (l.min(*v), h.max(*v)));
    x.iter().map(|v| (v - lo) / (hi - lo).max(1e-9)).collect()
}

fn top10(scores: &[f32]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|a, b| scores[*b].total_cmp(&scores[*a]).then(a.cmp(b)));
    order.truncate(10);
    order
}

/// The stock all-MiniLM-L6-v2 the gateway's model was trained from (the build fetched
/// it): the off-the-shelf sum is measured with it, whatever the gateway ships.
fn stock() -> &'static minilm::Model {
    static STOCK: std::sync::OnceLock<minilm::Model> = std::sync::OnceLock::new();
    STOCK.get_or_init(|| {
        let dir = std::path::Path::new(env!("METAMCP_MODEL_STOCK"));
        let read = |name: &str| std::fs::read(dir.join(name)).expect("the stock model");
        let vocab = String::from_utf8(read("vocab.txt")).expect("UTF-8");
        minilm::Model::load(&read("model.safetensors"), &vocab).expect("the stock model")
    })
}

fn search_set(
    name: &'static str,
    tools: Vec<Tool>,
    needs: Vec<Need>,
    skip: Option<&str>,
    store: &Arc<Store>,
) -> Set {
    let started = Instant::now();
    let mut searcher = Searcher::build_now(
        tools
            .iter()
            .map(|t| fields_of(&t.entry, &t.server, ""))
            .collect(),
        store.clone(),
    );
    if let Some(skip) = skip {
        searcher = searcher.without_background_from(skip);
    }
    let vectors: Vec<[f32; semantic::DIM]> = tools
        .iter()
        .map(|t| {
            let text = semantic::text_of(&fields_of(&t.entry, &t.server, ""));
            stock().embed_max(&text, semantic::TOOL_TOKENS)
        })
        .collect();
    let baseline = baseline_of(&tools);
    let plain = metamcp::search::index::Tuning {
        related: 0.0,
        min_coverage: 0.0,
        ..Default::default()
    };
    let mut set = Set {
        name,
        tools: tools.iter().map(|t| t.name.clone()).collect(),
        needs: Vec::new(),
        signals: Vec::new(),
        whole_only: Vec::new(),
        bm25: Vec::new(),
        sum: Vec::new(),
        words: Vec::new(),
    };
    for need in &needs {
        let q = QueryVectors::of(&need.text).expect("the model");
        set.signals
            .push(searcher.signals(&need.text, Some(&q)).expect("embedded"));
        let whole = QueryVectors {
            whole: q.whole.clone(),
            clauses: Vec::new(),
        };
        set.whole_only.push(
            searcher
                .signals(&need.text, Some(&whole))
                .expect("embedded"),
        );
        let mut bm25 = vec![0f32; tools.len()];
        for h in baseline.search_tuned(&need.text, tools.len(), &plain) {
            bm25[h.doc] = h.score;
        }
        set.bm25.push(top10(&bm25));
        let raw = stock().embed(&need.text);
        let cos: Vec<f32> = vectors
            .iter()
            .map(|v| minilm::dot(&raw[..], &v[..]))
            .collect();
        let (b, c) = (scaled(&bm25), scaled(&cos));
        let sum: Vec<f32> = b.iter().zip(&c).map(|(b, c)| 0.3 * b + 0.7 * c).collect();
        set.sum.push(top10(&sum));
        set.words.push(
            searcher
                .by_words(&need.text, 10)
                .iter()
                .map(|f| f.doc)
                .collect(),
        );
    }
    println!(
        "{name}: {} tools, {} needs ({} that no tool serves), searched in {:.1} s",
        tools.len(),
        needs.len(),
        needs.iter().filter(|n| n.expect.is_empty()).count(),
        started.elapsed().as_secs_f64()
    );
    set.needs = needs;
    set
}

#[derive(Default, Clone, Copy)]
struct Tally {
    needs: usize,
    at1: usize,
    at5: usize,
    rr: f64,
    empty: usize,
    negatives: usize,
    rejected: usize,
}

impl Tally {
    fn add(&mut self, need: &Need, found: &[usize]) {
        if need.expect.is_empty() {
            self.negatives += 1;
            self.rejected += usize::from(found.is_empty());
            return;
        }
        self.needs += 1;
        self.empty += usize::from(found.is_empty());
        let rank = found.iter().take(10).position(|f| need.expect.contains(f));
        self.at1 += usize::from(rank == Some(0));
        self.at5 += usize::from(rank.is_some_and(|r| r < 5));
        self.rr += rank.map_or(0.0, |r| 1.0 / (r as f64 + 1.0));
    }

    fn r1(&self) -> f64 {
        self.at1 as f64 / self.needs.max(1) as f64
    }
    fn r5(&self) -> f64 {
        self.at5 as f64 / self.needs.max(1) as f64
    }
    fn empties(&self) -> f64 {
        self.empty as f64 / self.needs.max(1) as f64
    }
    fn turned_away(&self) -> Option<f64> {
        (self.negatives > 0).then(|| self.rejected as f64 / self.negatives as f64)
    }

    fn row(&self, what: &str) -> String {
        format!(
            "| {what:<40} | {:>5} | {:>8.3} | {:>8.3} | {:>6.3} | {:>3} ({:>4.1} %) | {:>9} |",
            self.needs,
            self.r1(),
            self.r5(),
            self.rr / self.needs.max(1) as f64,
            self.empty,
            self.empties() * 100.0,
            match self.turned_away() {
                None => "-".to_string(),
                Some(r) => format!("{}/{} {:.0} %", self.rejected, self.negatives, r * 100.0),
            }
        )
    }
}

fn tally(needs: &[Need], found: impl Fn(usize) -> Vec<usize>) -> Tally {
    let mut t = Tally::default();
    for (i, n) in needs.iter().enumerate() {
        t.add(n, &found(i));
    }
    t
}

fn ranked(signals: &[Signals], blend: &Blend) -> impl Fn(usize) -> Vec<usize> {
    move |i| signals[i].rank(blend, 10).iter().map(|f| f.doc).collect()
}

/// The most real needs of a fitting set that may be answered with nothing (held out, the
/// target is 2 %: a fit on some phrasings turns away more of another's).
const FIT_EMPTY: f64 = 0.005;

/// The blend fit on `sets`: first the join (recall@1 + recall@5, each set counting
/// alike, nothing turned away; the lexical weight is the off-the-shelf sum's 0.3, chosen
/// on no set), then when to answer nothing (the most needs no tool serves turned away,
/// with at most [`FIT_EMPTY`] of any set's real needs answered with nothing).
fn fit(sets: &[&Set]) -> Blend {
    let never = |b: Blend| Blend {
        background_margin: f32::MAX,
        ..b
    };
    let mut best = (f64::MIN, Blend::default());
    for lexical_weight in [0.3] {
        for mention in [0.0, 0.05, 0.1, 0.2] {
            let b = never(Blend {
                lexical_weight,
                mention,
                ..Blend::default()
            });
            let score: f64 = sets
                .iter()
                .map(|s| {
                    let t = tally(&s.needs, ranked(&s.signals, &b));
                    t.r1() + t.r5()
                })
                .sum();
            if score > best.0 + 1e-9 {
                best = (score, b);
            }
        }
    }
    let joined = best.1;
    let mut chosen = (f64::MIN, never(joined));
    for sure in (0..=12).map(|i| 0.14 + 0.02 * i as f32) {
        // A background tool must fit better than the best of the view, not only nearly.
        for margin in [0.0, 0.05, 0.1, 0.15] {
            let b = Blend {
                sure_cosine: sure,
                background_margin: margin,
                ..joined
            };
            let tallies: Vec<Tally> = sets
                .iter()
                .map(|s| tally(&s.needs, ranked(&s.signals, &b)))
                .collect();
            if tallies.iter().any(|t| t.empties() > FIT_EMPTY) {
                continue;
            }
            let away: Vec<f64> = tallies.iter().filter_map(Tally::turned_away).collect();
            let score = away.iter().sum::<f64>() / away.len().max(1) as f64;
            if score > chosen.0 + 1e-9 {
                chosen = (score, b);
            }
        }
    }
    chosen.1
}

fn show(b: &Blend) -> String {
    format!(
        "lexical_weight {}, mention {}, sure_cosine {:.2}, background_margin {}",
        b.lexical_weight,
        b.mention,
        b.sure_cosine,
        match b.background_margin {
            m if m == f32::MAX => "never".to_string(),
            m => format!("{m:.2}"),
        }
    )
}

fn report(set: &Set, names: &[String], held_out: &Blend, shipped: &Blend) {
    println!("\n### {} (held out: {})\n", set.name, show(held_out));
    println!(
        "| search                                   | needs | recall@1 | recall@5 | MRR@10 | answered nothing | turned away |"
    );
    println!(
        "|------------------------------------------|-------|----------|----------|--------|------------------|-------------|"
    );
    let needs = &set.needs;
    println!(
        "{}",
        tally(needs, |i| set.bm25[i].clone()).row("plain BM25")
    );
    println!(
        "{}",
        tally(needs, |i| set.sum[i].clone()).row("off-the-shelf sum (0.3 BM25 + 0.7 cos)")
    );
    println!(
        "{}",
        tally(needs, |i| set.words[i].clone()).row("gateway, words alone (cold start)")
    );
    println!(
        "{}",
        tally(needs, ranked(&set.whole_only, held_out)).row("gateway, whole need only, held out")
    );
    println!(
        "{}",
        tally(needs, ranked(&set.signals, held_out)).row("gateway, held out")
    );
    println!(
        "{}",
        tally(needs, ranked(&set.signals, shipped)).row("gateway, shipped defaults (fit on all)")
    );
    let mut kinds: BTreeMap<&str, Tally> = BTreeMap::new();
    for (i, n) in needs.iter().enumerate() {
        let found: Vec<usize> = set.signals[i]
            .rank(held_out, 10)
            .iter()
            .map(|f| f.doc)
            .collect();
        kinds.entry(&n.kind).or_default().add(n, &found);
    }
    for (k, t) in &kinds {
        println!("{}", t.row(&format!("gateway, held out: {k}")));
    }
    // How often the first tool is right, by the confidence the search gave it.
    let mut by: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (i, n) in needs.iter().enumerate() {
        if n.expect.is_empty() {
            continue;
        }
        if let Some(first) = set.signals[i].rank(held_out, 1).first() {
            let e = by.entry(first.confidence.as_str()).or_default();
            e.0 += 1;
            e.1 += usize::from(n.expect.contains(&first.doc));
        }
    }
    let said: Vec<String> = [Confidence::High, Confidence::Medium, Confidence::Low]
        .iter()
        .filter_map(|c| {
            by.get(c.as_str()).map(|(n, right)| {
                format!(
                    "{} {right}/{n} ({:.0} %)",
                    c.as_str(),
                    *right as f64 * 100.0 / *n as f64
                )
            })
        })
        .collect();
    println!(
        "\nfirst tool right, by its confidence (held out): {}",
        said.join(", ")
    );
    if std::env::var_os("TOOLSEARCH_MISSES").is_some() {
        println!("\nnot first (held out):");
        for (i, n) in needs.iter().enumerate() {
            let found = set.signals[i].rank(held_out, 3);
            let right = match n.expect.is_empty() {
                true => found.is_empty(),
                false => found.first().is_some_and(|f| n.expect.contains(&f.doc)),
            };
            if !right {
                let got: Vec<String> = found
                    .iter()
                    .map(|f| format!("{} ({})", names[f.doc], f.confidence.as_str()))
                    .collect();
                let want: Vec<&str> = n.expect.iter().map(|e| names[*e].as_str()).collect();
                println!(
                    "  [{}] {:?}\n      got {got:?}\n      want {want:?}",
                    n.kind, n.text
                );
            }
        }
    }
}

fn accuracy(tools_path: &str, store: &Arc<Store>) {
    let here = env!("CARGO_MANIFEST_DIR");
    let external = std::env::var("TOOLSEARCH_EXTERNAL")
        .unwrap_or_else(|_| format!("{here}/../shared/toolsearch-external"));
    let mut sets = Vec::new();
    let ours = |file: &str| {
        let tools = load_tools(tools_path);
        let needs = load_needs(&format!("{here}/bench/toolsearch/{file}"), &tools);
        (tools, needs)
    };
    let (t, n) = ours("needs.jsonl");
    sets.push(search_set("ours", t, n, None, store));
    let (t, n) = ours("situated.jsonl");
    sets.push(search_set("situated", t, n, None, store));
    let (t, n) = ours("agents.jsonl");
    sets.push(search_set("agents", t, n, None, store));
    for name in ["livemcpbench", "metatool"] {
        let dir = format!("{external}/{name}");
        if !std::path::Path::new(&dir).is_dir() {
            println!("{dir} is missing: {name} left out (set TOOLSEARCH_EXTERNAL)");
            continue;
        }
        let tools = load_tools(&format!("{dir}/tools.json"));
        let mut needs = load_needs(&format!("{dir}/queries.jsonl"), &tools);
        if name == "metatool" && std::env::var_os("TOOLSEARCH_METATOOL_HELDOUT").is_some() {
            // A model trained on the other half of MetaTool's tools (train/toolsearch/)
            // is measured on these needs alone (both halves' tools are still searched).
            let held =
                std::fs::read_to_string(format!("{here}/bench/toolsearch/metatool-heldout.txt"))
                    .expect("bench/toolsearch/metatool-heldout.txt");
            let held: Vec<usize> = held
                .lines()
                .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
                .map(|l| {
                    tools
                        .iter()
                        .position(|t| t.name == l.trim())
                        .expect("a MetaTool tool")
                })
                .collect();
            needs.retain(|n| n.expect.iter().any(|e| held.contains(e)));
        }
        // The background leaves out the benchmark's own tools.
        sets.push(search_set(name, tools, needs, Some(name), store));
    }
    let all: Vec<&Set> = sets.iter().collect();
    let shipped = fit(&all);
    println!("\nfit on all sets: {}", show(&shipped));
    if shipped != Blend::default() {
        println!(
            "(the gateway's defaults are {}: update Blend::default to ship this fit)",
            show(&Blend::default())
        );
    }
    for (i, set) in sets.iter().enumerate() {
        let others: Vec<&Set> = sets
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, s)| s)
            .collect();
        report(set, &set.tools, &fit(&others), &Blend::default());
    }
    let tools = load_tools(tools_path);
    let full: usize = tools.iter().map(|t| t.entry.to_string().len() + 1).sum();
    let search_mode = metamcp::mcp::search::listed_bytes();
    println!(
        "\ntools/list of ours: every tool {full} bytes; search mode {search_mode} bytes ({:.2} %)",
        search_mode as f64 * 100.0 / full as f64
    );
}

/// `tools` repeated under other server names until there are `n`.
fn repeated(tools: &[Tool], n: usize) -> Vec<Tool> {
    (0..n)
        .map(|i| {
            let t = &tools[i % tools.len()];
            let server = format!("{}{}", t.server, i / tools.len());
            let mut entry = t.entry.clone();
            let name = format!("{server}__{}", t.name.split("__").nth(1).unwrap_or(""));
            entry["name"] = Value::String(name.clone());
            Tool {
                name,
                server,
                entry,
            }
        })
        .collect()
}

fn speed(c: &mut Criterion, tools: &[Tool], store: &Arc<Store>) {
    let mut group = c.benchmark_group("toolsearch");
    group.measurement_time(Duration::from_secs(3));
    let short = "create a new branch in my github repository";
    let long = "We're debugging a crash in checkout; the logs are in /var/log/shop/app.log. \
                Can you pull the last part of that file so I can look?";
    // The real tools' embeddings, computed once; the copies under other server names
    // take their original's (as a restart reads them back from PostgreSQL).
    let base: Vec<Vector> = tools
        .iter()
        .map(|t| {
            let text = semantic::text_of(&fields_of(&t.entry, &t.server, ""));
            store
                .get(&semantic::key_of(&text))
                .unwrap_or_else(|| semantic::embed_tool(&text).expect("the model"))
        })
        .collect();
    let tool_text = semantic::text_of(&fields_of(&tools[0].entry, &tools[0].server, ""));
    group.bench_function("embed a query", |b| b.iter(|| semantic::embed_query(short)));
    group.bench_function("embed a long need, whole and clauses", |b| {
        b.iter(|| QueryVectors::of(long))
    });
    group.bench_function("embed a tool", |b| {
        b.iter(|| semantic::embed_tool(&tool_text))
    });
    let vectors = QueryVectors::of(long).expect("the model");
    for n in [1_000, 10_000] {
        let set = repeated(tools, n);
        store.put(set.iter().enumerate().map(|(i, t)| {
            let text = semantic::text_of(&fields_of(&t.entry, &t.server, ""));
            (semantic::key_of(&text), base[i % tools.len()].clone())
        }));
        let started = Instant::now();
        let searcher = Searcher::build(
            set.iter()
                .map(|t| fields_of(&t.entry, &t.server, ""))
                .collect(),
            Some(store.clone()),
        );
        println!(
            "searcher of {n} tools: built in {:.1} ms ({} words, {} embeddings missing)",
            started.elapsed().as_secs_f64() * 1e3,
            searcher.lexical().vocabulary(),
            searcher.missing()
        );
        group.bench_with_input(
            BenchmarkId::new("search a long need, index part", n),
            &searcher,
            |b, s| b.iter(|| s.search(long, 8, Some(&vectors))),
        );
        group.bench_with_input(
            BenchmarkId::new("search a long need, with its embeddings", n),
            &searcher,
            |b, s| {
                b.iter(|| {
                    let v = QueryVectors::of(long).expect("the model");
                    s.search(long, 8, Some(&v))
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("search a long need, whole only (cheaper)", n),
            &searcher,
            |b, s| {
                b.iter(|| {
                    let v = QueryVectors {
                        whole: semantic::embed_query(long).expect("the model"),
                        clauses: Vec::new(),
                    };
                    s.search(long, 8, Some(&v))
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("search, words alone", n),
            &searcher,
            |b, s| b.iter(|| s.by_words(long, 8)),
        );
        group.bench_with_input(BenchmarkId::new("build", n), &set, |b, set| {
            b.iter(|| {
                Searcher::build(
                    set.iter()
                        .map(|t| fields_of(&t.entry, &t.server, ""))
                        .collect(),
                    Some(store.clone()),
                )
            })
        });
    }
    group.finish();
}

fn main() {
    let Ok(tools_path) = std::env::var("TOOLSEARCH_TOOLS") else {
        eprintln!("set TOOLSEARCH_TOOLS to collect.py's tools.json (bench/toolsearch/run.sh does)");
        return;
    };
    let store = Arc::new(Store::default());
    let started = Instant::now();
    accuracy(&tools_path, &store);
    println!(
        "\naccuracy measured in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    if std::env::var_os("TOOLSEARCH_SPEED").is_some() {
        let tools = load_tools(&tools_path);
        let mut c = Criterion::default().configure_from_args();
        speed(&mut c, &tools, &store);
        c.final_summary();
    }
}
