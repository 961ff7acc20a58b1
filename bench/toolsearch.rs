//! Tool search, measured. Two parts, one command (`bench/toolsearch/run.sh`):
//!
//! - Accuracy: the real servers' tools (`TOOLSEARCH_TOOLS`, from `collect.py`) indexed as
//!   a view names them (`<server>__<tool>`), and the needs of `needs.jsonl` searched;
//!   recall@1, recall@5, MRR and the rejection rate of needs no tool serves, by kind,
//!   for the gateway's search (hybrid, the default; and lexical alone) and for plain
//!   BM25 (one field, no related words, no threshold) computed beside it in the same run.
//!   The full `tools/list` against the search-mode one, in bytes. `TOOLSEARCH_SWEEP`
//!   calibrates both the lexical cut-off and the blend.
//! - Speed (criterion): a search at 1,000 and 10,000 tools (the real ones, repeated under
//!   other server names, their embeddings already kept, as after a restart), with and
//!   without the query's embedding; a tool's and a query's embedding; the index build.
//!
//! Without `TOOLSEARCH_TOOLS` the accuracy part says how to get the tools and stops.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion};
use metamcp::search::hybrid::Blend;
use metamcp::search::semantic::{self, Store, Vector};
use metamcp::search::{Fields, Index, Searcher, fields_of};
use serde_json::Value;

struct Tool {
    name: String,
    server: String,
    entry: Value,
}

fn load_tools(path: &str) -> Vec<Tool> {
    let servers: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(path).expect("read the tools"))
            .expect("JSON");
    let mut out = Vec::new();
    for s in servers {
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
    expect: Vec<String>,
    kind: String,
}

fn load_needs(path: &str) -> Vec<Need> {
    std::fs::read_to_string(path)
        .expect("read the needs")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("//"))
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"));
            Need {
                text: v["need"].as_str().unwrap_or_default().to_string(),
                expect: v["expect"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|e| e.as_str().map(str::to_string))
                    .collect(),
                kind: v["kind"].as_str().unwrap_or("plain").to_string(),
            }
        })
        .collect()
}

/// The gateway's searcher of `tools`, every embedding computed first (into `store`).
fn searcher_of(tools: &[Tool], store: &Arc<Store>) -> Searcher {
    Searcher::build_now(
        tools
            .iter()
            .map(|t| fields_of(&t.entry, &t.server, ""))
            .collect(),
        store.clone(),
    )
}

/// Plain BM25: the tool's name, description and parameters as one field, the query's
/// words alone, no threshold.
fn baseline_of(tools: &[Tool]) -> (Index, Vec<String>) {
    let texts: Vec<String> = tools
        .iter()
        .map(|t| {
            let f = fields_of(&t.entry, &t.server, "");
            format!("{} {} {} {}", f.name, f.title, f.description, f.params)
        })
        .collect();
    let index = Index::build(texts.iter().map(|t| Fields {
        description: t,
        ..Fields::default()
    }));
    (index, texts)
}

#[derive(Default)]
struct Tally {
    needs: usize,
    at1: usize,
    at5: usize,
    rr: f64,
    negatives: usize,
    rejected: usize,
}

impl Tally {
    fn add(&mut self, need: &Need, found: &[String]) {
        if need.expect.is_empty() {
            self.negatives += 1;
            self.rejected += usize::from(found.is_empty());
            return;
        }
        self.needs += 1;
        let rank = found.iter().position(|f| need.expect.contains(f));
        self.at1 += usize::from(rank == Some(0));
        self.at5 += usize::from(rank.is_some_and(|r| r < 5));
        self.rr += rank.map_or(0.0, |r| 1.0 / (r as f64 + 1.0));
    }

    fn row(&self, what: &str) -> String {
        let n = self.needs.max(1) as f64;
        let neg = if self.negatives == 0 {
            "-".to_string()
        } else {
            format!("{:.3}", self.rejected as f64 / self.negatives as f64)
        };
        format!(
            "| {what:<28} | {:>5} | {:>8.3} | {:>8.3} | {:>6.3} | {:>4} | {:>9} |",
            self.needs,
            self.at1 as f64 / n,
            self.at5 as f64 / n,
            self.rr / n,
            self.negatives,
            neg
        )
    }
}

fn accuracy(tools_path: &str, needs_path: &str) -> Arc<Store> {
    let tools = load_tools(tools_path);
    let needs = load_needs(needs_path);
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    for n in &needs {
        for e in &n.expect {
            assert!(
                names.contains(&e.as_str()),
                "{:?} expects {e}, which no server has",
                n.text
            );
        }
    }
    let servers: std::collections::BTreeSet<&str> =
        tools.iter().map(|t| t.server.as_str()).collect();
    println!(
        "{} tools of {} servers, {} needs ({} that no tool serves)\n",
        tools.len(),
        servers.len(),
        needs.len(),
        needs.iter().filter(|n| n.expect.is_empty()).count()
    );
    let started = Instant::now();
    let store = Arc::new(Store::default());
    let searcher = searcher_of(&tools, &store);
    println!(
        "{} tools embedded in {:.1} s (one core)",
        tools.len(),
        started.elapsed().as_secs_f64()
    );
    let index = searcher.lexical();
    let (baseline, _) = baseline_of(&tools);
    let started = Instant::now();
    let vectors: Vec<Vector> = needs
        .iter()
        .map(|n| semantic::embed_query(&n.text).expect("the model"))
        .collect();
    println!(
        "{} queries embedded in {:.1} ms each\n",
        needs.len(),
        started.elapsed().as_secs_f64() * 1e3 / needs.len() as f64
    );
    let mut ours: HashMap<String, Tally> = HashMap::new();
    let mut words: HashMap<String, Tally> = HashMap::new();
    let mut plain: HashMap<String, Tally> = HashMap::new();
    let mut misses = Vec::new();
    for (need, vector) in needs.iter().zip(&vectors) {
        let found: Vec<String> = searcher
            .search(&need.text, 5, Some(vector))
            .iter()
            .map(|h| tools[h.doc].name.clone())
            .collect();
        let lexical: Vec<String> = index
            .search(&need.text, 5)
            .iter()
            .map(|h| tools[h.doc].name.clone())
            .collect();
        let base: Vec<String> = baseline
            .search_plain(&need.text, 5)
            .iter()
            .map(|h| tools[h.doc].name.clone())
            .collect();
        for kind in [need.kind.as_str(), "all"] {
            ours.entry(kind.to_string()).or_default().add(need, &found);
            words
                .entry(kind.to_string())
                .or_default()
                .add(need, &lexical);
            plain.entry(kind.to_string()).or_default().add(need, &base);
        }
        let hit = match need.expect.is_empty() {
            true => found.is_empty(),
            false => found.first().is_some_and(|f| need.expect.contains(f)),
        };
        if !hit {
            misses.push(format!(
                "  {:?} → {:?} (want {:?})",
                need.text, found, need.expect
            ));
        }
    }
    println!(
        "| search                       | needs | recall@1 | recall@5 |    MRR | neg. | rejected  |"
    );
    println!(
        "|------------------------------|-------|----------|----------|--------|------|-----------|"
    );
    let mut kinds: Vec<&String> = ours.keys().collect();
    kinds.sort();
    for k in &kinds {
        println!("{}", ours[*k].row(&format!("gateway: {k}")));
    }
    for k in &kinds {
        println!("{}", words[*k].row(&format!("lexical alone: {k}")));
    }
    for k in &kinds {
        println!("{}", plain[*k].row(&format!("BM25 baseline: {k}")));
    }
    // Context: the full list against the search-mode one.
    let full: usize = tools.iter().map(|t| t.entry.to_string().len() + 1).sum();
    let search_mode = metamcp::mcp::search::listed_bytes();
    println!(
        "\ntools/list: every tool {full} bytes; search mode {search_mode} bytes ({:.2} %)",
        search_mode as f64 * 100.0 / full as f64
    );
    if std::env::var_os("TOOLSEARCH_SWEEP").is_some() {
        sweep(&tools, &needs, index);
        blends(&tools, &needs, &searcher, &vectors);
    }
    if std::env::var_os("TOOLSEARCH_MISSES").is_some() {
        println!("\nnot first:\n{}", misses.join("\n"));
    }
    store
}

/// The calibration: recall@5 and the rejection rate over a grid of the cut-off, the weight
/// of unknown words and of related words.
fn sweep(tools: &[Tool], needs: &[Need], index: &Index) {
    println!("\n| min_coverage | unknown | related | recall@1 | recall@5 | rejected |");
    for min_coverage in [0.0, 0.2, 0.3, 0.35, 0.4, 0.45, 0.5] {
        for unknown in [0.1, 0.25, 0.4, 0.6] {
            for related in [0.0, 0.3, 0.5] {
                let tuning = metamcp::search::index::Tuning {
                    min_coverage,
                    unknown,
                    related,
                };
                let mut t = Tally::default();
                for need in needs {
                    let found: Vec<String> = index
                        .search_tuned(&need.text, 5, &tuning)
                        .iter()
                        .map(|h| tools[h.doc].name.clone())
                        .collect();
                    t.add(need, &found);
                }
                let n = t.needs.max(1) as f64;
                println!(
                    "| {min_coverage:>12} | {unknown:>7} | {related:>7} | {:>8.3} | {:>8.3} | {:>8.3} |",
                    t.at1 as f64 / n,
                    t.at5 as f64 / n,
                    t.rejected as f64 / t.negatives.max(1) as f64
                );
            }
        }
    }
}

/// The blend's calibration: recall and rejection over a grid of the lexical weight, the
/// two cosines of acceptance and the coverage at which words alone accept.
fn blends(tools: &[Tool], needs: &[Need], searcher: &Searcher, vectors: &[Vector]) {
    println!(
        "\n| lexical weight | accept | with words | by words | recall@1 | recall@5 |    MRR | rejected |"
    );
    let pairs = [(0.25, 0.8), (0.3, 0.7), (0.3, 0.8), (0.3, 0.9), (0.3, 2.0)];
    for lexical_weight in [0.2, 0.3, 0.4] {
        for accept in [0.3, 0.35, 0.4] {
            for (accept_with_words, accept_by_words) in pairs {
                let blend = Blend {
                    lexical_weight,
                    accept,
                    accept_with_words,
                    accept_by_words,
                };
                let mut t = Tally::default();
                for (need, v) in needs.iter().zip(vectors) {
                    let found: Vec<String> = searcher
                        .search_blended(&need.text, 5, Some(v), &blend)
                        .iter()
                        .map(|h| tools[h.doc].name.clone())
                        .collect();
                    t.add(need, &found);
                }
                let n = t.needs.max(1) as f64;
                println!(
                    "| {lexical_weight:>14} | {accept:>6} | {accept_with_words:>10} | {accept_by_words:>8} | {:>8.3} | {:>8.3} | {:>6.3} | {:>8.3} |",
                    t.at1 as f64 / n,
                    t.at5 as f64 / n,
                    t.rr / n,
                    t.rejected as f64 / t.negatives.max(1) as f64
                );
            }
        }
    }
}

/// `tools` repeated under other server names until there are `n`.
fn scaled(tools: &[Tool], n: usize) -> Vec<Tool> {
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
    let query = "create a new branch in my github repository";
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
    group.bench_function("embed a query", |b| b.iter(|| semantic::embed_query(query)));
    group.bench_function("embed a tool", |b| {
        b.iter(|| semantic::embed_tool(&tool_text))
    });
    let vector = semantic::embed_query(query).expect("the model");
    for n in [1_000, 10_000] {
        let set = scaled(tools, n);
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
            BenchmarkId::new("search, index part", n),
            &searcher,
            |b, s| b.iter(|| s.search(query, 8, Some(&vector))),
        );
        group.bench_with_input(
            BenchmarkId::new("search, with the query's embedding", n),
            &searcher,
            |b, s| {
                b.iter(|| {
                    let v = semantic::embed_query(query).expect("the model");
                    s.search(query, 8, Some(&v))
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("search, lexical alone", n),
            &searcher,
            |b, s| b.iter(|| s.lexical().search(query, 8)),
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
    let needs = std::env::var("TOOLSEARCH_NEEDS").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/bench/toolsearch/needs.jsonl").into()
    });
    let store = accuracy(&tools_path, &needs);
    if std::env::var_os("TOOLSEARCH_SPEED").is_some() {
        let tools = load_tools(&tools_path);
        let mut c = Criterion::default().configure_from_args();
        speed(&mut c, &tools, &store);
        c.final_summary();
    }
}
