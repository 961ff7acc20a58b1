//! The screening of tool definitions (`src/pins/screen.rs`), measured on data it was not
//! written from: detection per attack class on the cases `bench/screening/make_attacks.py` writes (cases
//! written from the published attack classes; see `make_attacks.py`), false alarms on
//! real tools: the public servers of `bench/toolsearch/` (collect.py's `tools.json`,
//! `SCREENING_TOOLS`), LiveMCPBench's and MetaTool's (`../shared/toolsearch-external`, or
//! `TOOLSEARCH_EXTERNAL`; MetaTool's 199 plugins were held out: no rule was written or
//! changed while looking at them). Each real tool is screened as at its server's first sight:
//! against its server's other descriptions and every other server's tools of its set.
//! The blind corpora (every folder `bench/screening/blind`, `blind2`, `blind3`, …, or of
//! `SCREENING_CORPORA`: attacks and benign tools written by someone who never saw the
//! rules; each README says how) are reported beside them, detection per class and false
//! alarms, each folder found as it is dropped in. Last, the cost: every definition
//! above screened again in rounds, the median round's time per definition.
//!
//!   bench/screening/run.sh           # the figures
//!   SCREENING_SHOW=1 bench/screening/run.sh   # and every false alarm and every miss

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use metamcp::pins::screen::{Context, screen};
use serde_json::Value;

/// A set of real servers: (server, its tools).
type Servers = Vec<(String, Vec<Value>)>;

/// One definition and what it is screened against, owned (a [`Context`] borrows it).
struct Case {
    class: String,
    label: String,
    tool: Value,
    siblings: Vec<usize>,
    own: Vec<String>,
    others: Vec<(String, String)>,
}

impl Case {
    fn findings(&self) -> Vec<String> {
        let ctx = Context {
            sibling_lengths: self.siblings.clone(),
            own: self.own.iter().map(String::as_str).collect(),
            others: self
                .others
                .iter()
                .map(|(s, t)| (s.as_str(), t.as_str()))
                .collect(),
            clashes: Vec::new(),
        };
        screen(&self.tool, &ctx)
    }
}

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

/// Every tool of `set`, each as at its server's first sight: against its server's other
/// descriptions and every other server's tools.
fn cases_of_servers(set: &Servers) -> Vec<Case> {
    let mut cases = Vec::new();
    for (server, tools) in set {
        let own: Vec<String> = tools
            .iter()
            .filter_map(|t| t["name"].as_str().map(str::to_string))
            .collect();
        let others: Vec<(String, String)> = set
            .iter()
            .filter(|(s, _)| s != server)
            .flat_map(|(s, t)| {
                t.iter()
                    .filter_map(move |t| t["name"].as_str().map(|n| (s.clone(), n.to_string())))
            })
            .collect();
        for (i, tool) in tools.iter().enumerate() {
            let siblings = tools
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .filter_map(|(_, t)| t["description"].as_str().map(|d| d.chars().count()))
                .collect();
            cases.push(Case {
                class: "benign".to_string(),
                label: format!("{server}/{}", tool["name"]),
                tool: tool.clone(),
                siblings,
                own: own.clone(),
                others: others.clone(),
            });
        }
    }
    cases
}

/// The cases of a file in `make_attacks.py`'s line format: {"class", "server", "tool",
/// "siblings": [descriptions], "others": {server: [tool names]}}.
fn cases_of_lines(path: &str) -> Option<Vec<Case>> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut cases = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
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
        cases.push(Case {
            class: case["class"].as_str().unwrap_or("?").to_string(),
            label: format!("{}/{}", case["server"], case["tool"]["name"]),
            siblings: case["siblings"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|d| d.as_str().map(|d| d.chars().count()))
                .collect(),
            own: Vec::new(),
            others,
            tool: case["tool"].clone(),
        });
    }
    Some(cases)
}

/// Prints detection per class of `cases` (all of them attacks).
fn detection(title: &str, cases: &[Case], show: bool) {
    let mut by_class: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for case in cases {
        let e = by_class.entry(&case.class).or_default();
        e.1 += 1;
        if case.findings().is_empty() {
            if show {
                println!("  missed {}/{}", case.class, case.label);
            }
        } else {
            e.0 += 1;
        }
    }
    println!("detection per attack class ({title}):");
    let (mut hit, mut all) = (0, 0);
    for (class, (h, n)) in &by_class {
        println!(
            "  {class:<26} {h:>3}/{n:<3} {:>5.1} %",
            100.0 * *h as f64 / *n as f64
        );
        hit += h;
        all += n;
    }
    println!(
        "  {:<26} {hit:>3}/{all:<3} {:>5.1} %",
        "all",
        100.0 * hit as f64 / all.max(1) as f64
    );
}

/// The false alarms among `cases` (all of them benign): (flagged, total).
fn false_alarms(cases: &[Case], show: bool) -> (usize, usize) {
    let mut flagged = 0;
    for case in cases {
        let findings = case.findings();
        if !findings.is_empty() {
            flagged += 1;
            if show {
                println!("  false alarm {}: {findings:?}", case.label);
            }
        }
    }
    (flagged, cases.len())
}

/// `set` with each server a second time, under another name and another configuration
/// (its descriptions worded otherwise, as a time server's name another time zone).
fn twice(set: &Servers) -> Servers {
    let mut out = set.clone();
    for (name, tools) in set {
        let tools = tools
            .iter()
            .map(|t| {
                let mut t = t.clone();
                let d = t["description"].as_str().unwrap_or_default();
                t["description"] = Value::String(format!("{d} (Configured for the second site.)"));
                t
            })
            .collect();
        out.push((format!("{name}-second"), tools));
    }
    out
}

/// The folders of `root` named `blind` or `blind` and a number, in their number's order.
fn blind_folders(root: &str) -> Vec<String> {
    let mut found: Vec<(u32, String)> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let n = name.strip_prefix("blind")?;
            let n = if n.is_empty() { 1 } else { n.parse().ok()? };
            Some((n, format!("{root}/{name}")))
        })
        .collect();
    found.sort();
    found.into_iter().map(|(_, d)| d).collect()
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
    let attacks = cases_of_lines(&attacks_path)
        .expect("the attack cases (bench/screening/make_attacks.py writes them)");
    detection(&attacks_path, &attacks, show);
    let mut timed: Vec<Case> = Vec::new();

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
    let loaded: Vec<(&str, Option<Servers>, String)> = sets
        .into_iter()
        .map(|(name, path)| (name, servers_of(&path), path))
        .collect();
    let (mut fa, mut total) = (0, 0);
    for (name, servers, path) in &loaded {
        let Some(servers) = servers else {
            println!("  {name}: {path} is missing (bench/toolsearch/run.sh collects it)");
            continue;
        };
        let cases = cases_of_servers(servers);
        let (f, n) = false_alarms(&cases, show);
        println!(
            "  {name:<34} {f:>3}/{n:<4} {:>5.2} %",
            100.0 * f as f64 / n.max(1) as f64
        );
        fa += f;
        total += n;
        timed.extend(cases);
    }
    println!(
        "  {:<34} {fa:>3}/{total:<4} {:>5.2} %",
        "all",
        100.0 * fa as f64 / total.max(1) as f64
    );
    // One gateway: every set's servers registered side by side, then each server twice
    // (the second under another name and another configuration, which words its
    // descriptions otherwise): a tool is held only when screening holds it.
    let all: Servers = loaded
        .iter()
        .filter_map(|(_, s, _)| s.as_ref())
        .flatten()
        .cloned()
        .collect();
    println!("false holds on real servers, registered side by side on one gateway:");
    for (name, set) in [
        ("every set side by side", all.clone()),
        ("and each server twice", twice(&all)),
    ] {
        let cases = cases_of_servers(&set);
        let (f, n) = false_alarms(&cases, show);
        println!(
            "  {name:<34} {f:>3}/{n:<4} {:>5.2} %",
            100.0 * f as f64 / n.max(1) as f64
        );
    }

    // The blind corpora: each folder `blind`, `blind2`, `blind3`, … of bench/screening/
    // (or of SCREENING_CORPORA), written by someone who never saw the rules, measured as
    // it is: detection per class, false alarms on its benign tools.
    let corpora =
        std::env::var("SCREENING_CORPORA").unwrap_or_else(|_| format!("{here}/bench/screening"));
    for dir in blind_folders(&corpora) {
        let attacks = cases_of_lines(&format!("{dir}/attacks.jsonl"));
        let benign = cases_of_lines(&format!("{dir}/benign.jsonl"));
        match attacks {
            Some(attacks) => {
                detection(&format!("{dir}/attacks.jsonl, blind"), &attacks, show);
                timed.extend(attacks);
            }
            None => println!("blind corpus {dir}: attacks.jsonl is missing"),
        }
        if let Some(benign) = benign {
            let (f, n) = false_alarms(&benign, show);
            println!("false alarms on {dir}'s benign tools:");
            println!(
                "  {:<34} {f:>3}/{n:<4} {:>5.2} %",
                format!("{dir}/benign.jsonl"),
                100.0 * f as f64 / n.max(1) as f64
            );
            timed.extend(benign);
        }
    }
    timed.extend(attacks);

    // The cost: every definition above screened again, rounds of the whole set (one
    // round when the suite runs the bench once as a test: cargo bench passes --bench).
    let rounds_wanted = match std::env::var("SCREENING_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
    {
        Some(r) if r > 0 => r,
        _ if std::env::args().any(|a| a == "--bench") => 7,
        _ => 1,
    };
    let mut rounds: Vec<(Duration, Duration)> = (0..rounds_wanted)
        .map(|_| {
            let (start, cpu) = (Instant::now(), thread_cpu());
            for case in &timed {
                std::hint::black_box(case.findings());
            }
            (start.elapsed(), thread_cpu().saturating_sub(cpu))
        })
        .collect();
    rounds.sort_unstable();
    let (median, cpu) = rounds[rounds_wanted / 2];
    println!(
        "cost: {} definitions a round, median of {rounds_wanted} rounds {:.1} ms, {:.1} µs a definition ({:.1} µs of this thread's CPU, which other processes' load does not inflate)",
        timed.len(),
        median.as_secs_f64() * 1e3,
        median.as_secs_f64() * 1e6 / timed.len().max(1) as f64,
        cpu.as_secs_f64() * 1e6 / timed.len().max(1) as f64
    );
}

/// The CPU time this thread has used.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a pointer to a live local.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        ts.tv_sec.max(0) as u64,
        ts.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}
