//! The screening of tool definitions (`src/pins/screen.rs`), measured on data it was not
//! written from: detection per attack class on the cases `bench/screening/make_attacks.py` writes (cases
//! written from the published attack classes; see `make_attacks.py`), false alarms on
//! real tools: the public servers of `bench/toolsearch/` (collect.py's `tools.json`,
//! `SCREENING_TOOLS`), LiveMCPBench's and MetaTool's (`../shared/toolsearch-external`, or
//! `TOOLSEARCH_EXTERNAL`; MetaTool's 199 plugins were held out: no rule was written or
//! changed while looking at them). Each real tool is screened as at its server's first sight:
//! against its server's other descriptions and every other server's tools of its set.
//!
//!   bench/screening/run.sh           # the figures
//!   SCREENING_SHOW=1 bench/screening/run.sh   # and every false alarm and every miss

use std::collections::BTreeMap;

use metamcp::pins::screen::{Context, screen};
use serde_json::Value;

/// A set of real servers: (server, its tools).
type Servers = Vec<(String, Vec<Value>)>;

fn servers_of(path: &str) -> Option<Servers> {
    let text = std::fs::read_to_string(path).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    let list = match &v {
        Value::Array(a) => a.clone(),
        _ => v["servers"].as_array().cloned().unwrap_or_default(),
    };
    Some(
        list.iter()
            .map(|s| {
                let name = s["name"].as_str().unwrap_or_default().to_string();
                (name, s["tools"].as_array().cloned().unwrap_or_default())
            })
            .collect(),
    )
}

/// The findings of every tool of `set`, screened as at its server's first sight.
fn false_alarms(set: &Servers, show: bool) -> (usize, usize) {
    let mut flagged = 0;
    let mut total = 0;
    for (server, tools) in set {
        let own: Vec<&str> = tools.iter().filter_map(|t| t["name"].as_str()).collect();
        let others: Vec<(&str, &str)> = set
            .iter()
            .filter(|(s, _)| s != server)
            .flat_map(|(s, t)| {
                t.iter()
                    .filter_map(move |t| t["name"].as_str().map(|n| (s.as_str(), n)))
            })
            .collect();
        for (i, tool) in tools.iter().enumerate() {
            let sibling_lengths = tools
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .filter_map(|(_, t)| t["description"].as_str().map(|d| d.chars().count()))
                .collect();
            let ctx = Context {
                sibling_lengths,
                own: own.clone(),
                others: others.clone(),
            };
            let findings = screen(tool, &ctx);
            total += 1;
            if !findings.is_empty() {
                flagged += 1;
                if show {
                    println!("  false alarm {server}/{}: {findings:?}", tool["name"]);
                }
            }
        }
    }
    (flagged, total)
}

fn main() {
    let here = env!("CARGO_MANIFEST_DIR");
    let show = std::env::var_os("SCREENING_SHOW").is_some();
    let attacks_path = std::env::var("SCREENING_ATTACKS")
        .unwrap_or_else(|_| format!("{here}/target/screening/attacks.jsonl"));
    if !std::path::Path::new(&attacks_path).exists() {
        // A clean clone (`cargo test --all-targets` runs this bench once): the cases are
        // written here, as bench/screening/run.sh writes them.
        let status = std::process::Command::new("python3")
            .arg(format!("{here}/bench/screening/make_attacks.py"))
            .arg(&attacks_path)
            .status()
            .expect("python3, which writes the attack cases");
        assert!(status.success(), "make_attacks.py failed: {status}");
    }
    let attacks = std::fs::read_to_string(&attacks_path)
        .expect("the attack cases (bench/screening/make_attacks.py writes them)");
    let mut by_class: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for line in attacks.lines().filter(|l| !l.trim().is_empty()) {
        let case: Value = serde_json::from_str(line).expect("a JSON case");
        let others: Vec<(String, String)> = case["others"]
            .as_object()
            .map(|m| {
                m.iter()
                    .flat_map(|(s, tools)| {
                        tools
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(move |t| t.as_str().map(|t| (s.clone(), t.to_string())))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let ctx = Context {
            sibling_lengths: case["siblings"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|d| d.as_str().map(|d| d.chars().count()))
                .collect(),
            own: Vec::new(),
            others: others
                .iter()
                .map(|(s, t)| (s.as_str(), t.as_str()))
                .collect(),
        };
        let findings = screen(&case["tool"], &ctx);
        let class = case["class"].as_str().unwrap_or("?").to_string();
        let e = by_class.entry(class.clone()).or_default();
        e.1 += 1;
        if findings.is_empty() {
            if show {
                println!("  missed {class}/{}", case["tool"]["name"]);
            }
        } else {
            e.0 += 1;
        }
    }
    println!("detection per attack class ({attacks_path}):");
    let (mut hit, mut all) = (0, 0);
    for (class, (h, n)) in &by_class {
        println!(
            "  {class:<22} {h:>3}/{n:<3} {:>5.1} %",
            100.0 * *h as f64 / *n as f64
        );
        hit += h;
        all += n;
    }
    println!(
        "  {:<22} {hit:>3}/{all:<3} {:>5.1} %",
        "all",
        100.0 * hit as f64 / all as f64
    );
    println!("false alarms on real tools:");
    let external = std::env::var("TOOLSEARCH_EXTERNAL")
        .unwrap_or_else(|_| format!("{here}/../shared/toolsearch-external"));
    let sets = [
        (
            "bench/toolsearch (public servers)",
            std::env::var("SCREENING_TOOLS")
                .unwrap_or_else(|_| format!("{here}/target/toolsearch/tools.json")),
        ),
        (
            "livemcpbench",
            format!("{external}/livemcpbench/tools.json"),
        ),
        // Never looked at while the rules were written or changed: the clean figure.
        (
            "metatool (held out)",
            format!("{external}/metatool/tools.json"),
        ),
    ];
    let (mut fa, mut total) = (0, 0);
    for (name, path) in sets {
        let Some(set) = servers_of(&path) else {
            println!("  {name}: {path} is missing (bench/toolsearch/run.sh collects it)");
            continue;
        };
        let (f, n) = false_alarms(&set, show);
        println!(
            "  {name:<34} {f:>3}/{n:<4} {:>5.2} %",
            100.0 * f as f64 / n.max(1) as f64
        );
        fa += f;
        total += n;
    }
    println!(
        "  {:<34} {fa:>3}/{total:<4} {:>5.2} %",
        "all",
        100.0 * fa as f64 / total.max(1) as f64
    );
}
