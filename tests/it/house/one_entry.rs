//! One door (issue 83): every call enters the pipeline by one function,
//! `phases::enter` (`src/mcp/phases/mod.rs`), as one value, the message and its origin.
//! The functions past it (the head of an MCP request, the pipeline past admission, a
//! routed call's phases, the routing of a call, the walk of the phase list) are called
//! from that file alone: a door that calls one of them skips the phases before it.

use std::path::{Path, PathBuf};

/// The file of the entry, the only one that calls what follows it.
const ENTRY: &str = "src/mcp/phases/mod.rs";

/// The dry run (`policies check`, the REST listing) walks the deciding phases by the same
/// functions and stops before the forward: it may ask routing, and nothing else past the
/// entry (no admission, no charge, no call: it is no door, nothing it asks reaches a
/// backend or spends a limit).
const DRY_RUN: &str = "src/mcp/phases/dry_run.rs";
const DRY_RUN_ASKS: &[&str] = &["phases::{route}", "route::route", "phases::route"];

/// The pipeline's functions past its entry, as a call names them from another file.
const PAST_THE_ENTRY: &[&str] = &[
    "dispatch",
    "detoured",
    "admitted",
    "call",
    "confirmed_call",
    "route",
    "routed",
    "rest_tool",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The lines of `text` before its test module, without line comments.
fn code(text: &str) -> Vec<&str> {
    text.lines()
        .take_while(|l| !l.trim_start().starts_with("#[cfg(test)]"))
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect()
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The calls and uses in `line` of a pipeline function past the entry: a path naming
/// one (`phases::call(`, `super::routed(`, `route::rest_tool(`, an import of one), or a
/// walk of the phase list (`Phases::default()`).
fn reaches_past_the_entry(line: &str) -> Vec<String> {
    let mut found = Vec::new();
    if line.contains("Phases::default()") {
        found.push("Phases::default()".to_string());
    }
    for prefix in ["phases::", "super::", "route::"] {
        for (at, _) in line.match_indices(prefix) {
            let before = line[..at].chars().next_back();
            if before.is_some_and(is_word) {
                continue;
            }
            let rest = &line[at + prefix.len()..];
            let name: String = rest.chars().take_while(|c| is_word(*c)).collect();
            if PAST_THE_ENTRY.contains(&name.as_str()) {
                found.push(format!("{prefix}{name}"));
            }
        }
        // `use crate::mcp::phases::{…, call, …}`: a name past the entry imported.
        if line.trim_start().starts_with("use ") && line.contains(&format!("{prefix}{{")) {
            let inside = line.split('{').nth(1).unwrap_or_default();
            for name in inside.split(|c: char| !is_word(c)) {
                if PAST_THE_ENTRY.contains(&name) {
                    found.push(format!("{prefix}{{{name}}}"));
                }
            }
        }
    }
    found
}

#[test]
fn a_call_of_the_pipeline_past_its_entry_is_found() {
    assert_eq!(
        reaches_past_the_entry("let r = crate::mcp::phases::call(ctx, &b, &f, c).await;"),
        vec!["phases::call"]
    );
    assert_eq!(
        reaches_past_the_entry("Box::pin(super::admitted(ctx, body, f, Shape::Whole, None))"),
        vec!["super::admitted"]
    );
    assert_eq!(
        reaches_past_the_entry("use crate::mcp::phases::{Message, Origin, dispatch};"),
        vec!["phases::{dispatch}"]
    );
    assert!(
        reaches_past_the_entry("pub use crate::mcp::phases::call_phase::CallPhase;").is_empty()
    );
    assert!(reaches_past_the_entry("crate::mcp::phases::enter(ctx, msg, origin).await").is_empty());
    assert!(reaches_past_the_entry("let call = route::rest_toolkit();").is_empty());
}

#[test]
fn every_call_enters_the_pipeline_by_one_function() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    files.sort();
    let mut found = Vec::new();
    let mut entries = 0;
    for path in &files {
        let rel = path.strip_prefix(root).expect("under the root");
        let rel = rel.to_string_lossy().replace('\\', "/");
        let text = std::fs::read_to_string(path).expect("read a source file");
        for (n, line) in code(&text).into_iter().enumerate() {
            if line.contains("fn enter<") && rel.starts_with("src/mcp/") {
                entries += 1;
                assert_eq!(rel, ENTRY, "the entry is in its file");
            }
            if rel == ENTRY {
                continue;
            }
            for what in reaches_past_the_entry(line) {
                if rel == DRY_RUN && DRY_RUN_ASKS.contains(&what.as_str()) {
                    continue;
                }
                found.push(format!("{rel}:{}: {what}", n + 1));
            }
        }
    }
    assert_eq!(entries, 1, "one entry function into the phases");
    assert!(
        found.is_empty(),
        "the pipeline is entered by phases::enter alone; these reach past it:\n{}",
        found.join("\n")
    );
}
