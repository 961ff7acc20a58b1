//! Tool search's learning, measured by replay (`bench/toolsearch/replay.sh`). A stream of
//! needs with their right tools is split into days; on the earlier days each need is
//! searched and the simulated agent calls a right tool (the best-ranked right one the
//! search showed, or the first right one when it showed none: a positive it missed),
//! through the gateway's own pairing ([`Learning::searched_at`], [`Learning::called_at`]);
//! on the later days, needs never used to learn are searched with the learning and
//! without it, and recall@1 and recall@5 are compared.
//!
//! Streams: MetaTool (`../shared/toolsearch-external`, five phrasings of each need:
//! the i-th phrasing of every tool is day i), and this repository's three sets over the
//! collected servers' tools (needs.jsonl, situated.jsonl, agents.jsonl: the needs of one
//! right tool, in file order, are that tool's days; the last one is measured). Agents are
//! eight keys taking turns; `TOOLSEARCH_REPLAY_NOISE` (a share, 0.2 by default for the
//! second run) makes that share of the learning calls go to the search's first result
//! instead, right or not.

use std::collections::BTreeMap;
use std::sync::Arc;

use metamcp::base::KeyId;
use metamcp::search::learning::{Asker, Learning, rerank};
use metamcp::search::semantic::Store;
use metamcp::search::{QueryVectors, Searcher, fields_of};
use serde_json::Value;

struct Tool {
    name: String,
    server: String,
    entry: Value,
}

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
            let name = format!("{server}__{}", t["name"].as_str().unwrap_or_default());
            let mut entry = t.clone();
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

/// A need: its text and right tools (positions).
#[derive(Clone)]
struct Need {
    text: String,
    expect: Vec<usize>,
}

fn load_needs(path: &str, tools: &[Tool]) -> Vec<Need> {
    std::fs::read_to_string(path)
        .expect("read the needs")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("//"))
        .filter_map(|l| {
            let v: Value = serde_json::from_str(l).ok()?;
            let expect: Vec<usize> = v["expect"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .filter_map(|n| tools.iter().position(|t| t.name == n))
                .collect();
            Some(Need {
                text: v["need"].as_str().or(v["q"].as_str())?.to_string(),
                expect,
            })
            .filter(|n| !n.expect.is_empty())
        })
        .collect()
}

/// A need searched: its embeddings, kept so the replay computes them once.
struct Searched {
    need: Need,
    vectors: QueryVectors,
}

/// One stream: its searcher, tool names, and needs by day.
struct Stream {
    name: String,
    /// The learned boosts times this (1: as the gateway ships; the replay's sweep).
    scale: f32,
    searcher: Searcher,
    names: Vec<String>,
    days: Vec<Vec<Searched>>,
}

const DAY: u64 = 86_400;
const T0: u64 = 1_800_000_000;
const NAMESPACE: &str = "replay";

impl Stream {
    fn new(
        name: &str,
        tools: &[Tool],
        days: Vec<Vec<Need>>,
        skip: Option<&str>,
        store: &Arc<Store>,
    ) -> Stream {
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
        let days = days
            .into_iter()
            .map(|d| {
                d.into_iter()
                    .map(|need| Searched {
                        vectors: QueryVectors::of(&need.text).expect("the model"),
                        need,
                    })
                    .collect()
            })
            .collect();
        Stream {
            name: name.to_string(),
            scale: 1.0,
            searcher,
            names: tools.iter().map(|t| t.name.clone()).collect(),
            days,
        }
    }

    /// The tools found for `s` (positions, best first, at most `limit`), moved by what
    /// `learning` learned as of `now`, as the gateway's view does.
    fn search(
        &self,
        s: &Searched,
        learning: Option<&Learning>,
        limit: usize,
        now: u64,
    ) -> Vec<usize> {
        let mut boosts = learning
            .map(|l| l.boosts_at(NAMESPACE, &s.need.text, now))
            .unwrap_or_default();
        boosts.values_mut().for_each(|b| *b *= self.scale);
        let asked = if boosts.is_empty() {
            limit
        } else {
            self.searcher.len()
        };
        let found: Vec<(usize, f32)> = self
            .searcher
            .search(&s.need.text, asked, Some(&s.vectors))
            .into_iter()
            .map(|f| (f.doc, f.score))
            .collect();
        let found = match boosts.is_empty() {
            true => found,
            false => rerank(
                found,
                &boosts,
                |(d, _)| self.names[*d].as_str(),
                |(_, s)| s,
                limit,
            ),
        };
        found.into_iter().map(|(d, _)| d).collect()
    }

    /// Learns from the days before `upto`: each need searched, then a right tool called
    /// (or, for a `noise` share, the first result).
    fn learn(&self, upto: usize, noise: f64) -> Learning {
        let learning = Learning::default();
        let mut turn = 0u64;
        for (d, day) in self.days.iter().enumerate().take(upto) {
            for s in day {
                turn += 1;
                let now = T0 + d as u64 * DAY + turn;
                let key = KeyId::parse(&format!("{:016x}", turn % 8 + 1)).expect("hex");
                let asker = Asker {
                    key,
                    thread: Arc::from(format!("t{turn}")),
                };
                let shown = self.search(s, Some(&learning), 10, now);
                let names: Vec<String> = shown.iter().map(|d| self.names[*d].clone()).collect();
                learning.searched_at(NAMESPACE, &asker, &s.need.text, names, now);
                let wrong = (turn as f64 * 0.618_034).fract() < noise;
                let called = match (wrong, shown.first()) {
                    (true, Some(first)) => *first,
                    _ => shown
                        .iter()
                        .find(|d| s.need.expect.contains(d))
                        .copied()
                        .unwrap_or(s.need.expect[0]),
                };
                learning.called_at(NAMESPACE, key, &asker.thread, &self.names[called], now + 1);
            }
        }
        learning
    }

    /// Recall@1 and @5 on the days from `from`, with `learning` (as of after its last day).
    fn recall(&self, from: usize, learning: Option<&Learning>) -> (f64, f64, usize) {
        let now = T0 + self.days.len() as u64 * DAY;
        let (mut at1, mut at5, mut n) = (0, 0, 0);
        for s in self.days.iter().skip(from).flatten() {
            let found = self.search(s, learning, 5, now);
            n += 1;
            at1 += usize::from(found.first().is_some_and(|d| s.need.expect.contains(d)));
            at5 += usize::from(found.iter().any(|d| s.need.expect.contains(d)));
        }
        (at1 as f64 / n as f64, at5 as f64 / n as f64, n)
    }

    fn report(&self, measured_from: usize, noise: f64) {
        let (b1, b5, n) = self.recall(measured_from, None);
        println!(
            "{} (boost × {}): {} tools; measured on day {}..{} ({n} needs never learned from); noise {:.0} %",
            self.name,
            self.scale,
            self.names.len(),
            measured_from + 1,
            self.days.len(),
            noise * 100.0
        );
        println!(
            "  {:<28} recall@1 {b1:.3}  recall@5 {b5:.3}",
            "without learning"
        );
        for upto in 1..=measured_from {
            let learning = self.learn(upto, noise);
            let learned: usize = self.days.iter().take(upto).map(Vec::len).sum();
            let (r1, r5, _) = self.recall(measured_from, Some(&learning));
            println!(
                "  {:<28} recall@1 {r1:.3} ({:+.3})  recall@5 {r5:.3} ({:+.3})  cells {}",
                format!("learned {upto} day(s), {learned} pairs"),
                r1 - b1,
                r5 - b5,
                learning.cells()
            );
        }
    }
}

/// The repository's needs over the collected tools: the needs of one first right tool,
/// in file order, are its days (tools with one need only are left out).
fn ours(tools_path: &str) -> (Vec<Tool>, Vec<Vec<Need>>) {
    let here = env!("CARGO_MANIFEST_DIR");
    let tools = load_tools(tools_path);
    let mut by_tool: BTreeMap<usize, Vec<Need>> = BTreeMap::new();
    for file in ["needs.jsonl", "situated.jsonl", "agents.jsonl"] {
        for need in load_needs(&format!("{here}/bench/toolsearch/{file}"), &tools) {
            by_tool.entry(need.expect[0]).or_default().push(need);
        }
    }
    // Each tool's last need is measured; its earlier ones are days 1, 2, 3 (a fourth or
    // later joins day 3).
    let mut days: Vec<Vec<Need>> = vec![Vec::new(); 4];
    for needs in by_tool.into_values().filter(|n| n.len() >= 2) {
        let last = needs.len() - 1;
        for (i, need) in needs.into_iter().enumerate() {
            let day = if i == last { 3 } else { i.min(2) };
            days[day].push(need);
        }
    }
    (tools, days)
}

/// MetaTool: the i-th phrasing of every tool's need is day i.
fn metatool(dir: &str) -> (Vec<Tool>, Vec<Vec<Need>>) {
    let tools = load_tools(&format!("{dir}/tools.json"));
    let mut by_tool: BTreeMap<usize, Vec<Need>> = BTreeMap::new();
    for need in load_needs(&format!("{dir}/queries.jsonl"), &tools) {
        by_tool.entry(need.expect[0]).or_default().push(need);
    }
    let mut days: Vec<Vec<Need>> = vec![Vec::new(); 5];
    for needs in by_tool.into_values() {
        for (i, need) in needs.into_iter().enumerate().take(5) {
            days[i].push(need);
        }
    }
    (tools, days)
}

/// Reports `s` clean and with `noise`, at each of `scales`.
fn run(mut s: Stream, scales: &[f32], noise: f64) {
    for scale in scales {
        s.scale = *scale;
        s.report(3, 0.0);
        s.report(3, noise);
    }
}

fn main() {
    let store = Arc::new(Store::default());
    let noise: f64 = std::env::var("TOOLSEARCH_REPLAY_NOISE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.2);
    // `TOOLSEARCH_REPLAY_SCALES=0.5,1,2`: the boost's sweep (1 alone by default).
    let scales: Vec<f32> = std::env::var("TOOLSEARCH_REPLAY_SCALES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .filter(|v: &Vec<f32>| !v.is_empty())
        .unwrap_or_else(|| vec![1.0]);
    let here = env!("CARGO_MANIFEST_DIR");
    let external = std::env::var("TOOLSEARCH_EXTERNAL")
        .unwrap_or_else(|_| format!("{here}/../shared/toolsearch-external"));
    let dir = format!("{external}/metatool");
    if std::path::Path::new(&dir).is_dir() {
        let (tools, days) = metatool(&dir);
        run(
            Stream::new("metatool", &tools, days, Some("metatool"), &store),
            &scales,
            noise,
        );
    } else {
        println!("{dir} is missing: MetaTool left out (set TOOLSEARCH_EXTERNAL)");
    }
    match std::env::var("TOOLSEARCH_TOOLS") {
        Ok(path) => {
            let (tools, days) = ours(&path);
            run(
                Stream::new("ours+situated+agents", &tools, days, None, &store),
                &scales,
                noise,
            );
        }
        Err(_) => println!(
            "TOOLSEARCH_TOOLS is unset: the repository's sets left out (replay.sh sets it)"
        ),
    }
}
