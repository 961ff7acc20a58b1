//! The source tree's own rules, checked: no file under `src/` outgrows its room (800
//! lines before its test module, `#[cfg(test)] mod`), and every direct dependency of `Cargo.toml` has its row in
//! README's dependency table, the design card's crates included (crossbeam is measured,
//! not silently absent).

use std::path::{Path, PathBuf};

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

/// The lines before a file's test module: `#[cfg(test)]` followed by `mod` (a test-only
/// function or import above it is counted like any other line).
fn lines_before_tests(text: &str) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    (0..lines.len())
        .find(|&i| {
            lines[i].starts_with("#[cfg(test)]")
                && lines[i + 1..]
                    .iter()
                    .find(|l| !l.trim().is_empty() && !l.starts_with("#["))
                    .is_some_and(|l| {
                        let l = l
                            .trim_start_matches("pub ")
                            .trim_start_matches("pub(crate) ");
                        l.starts_with("mod ")
                    })
        })
        .unwrap_or(lines.len())
}

#[test]
fn the_count_stops_at_the_test_module_not_at_a_test_only_function() {
    let text = "fn a() {}\n#[cfg(test)]\npub fn only_in_tests() {}\nfn b() {}\n#[cfg(test)]\nmod tests {\n}\n";
    assert_eq!(lines_before_tests(text), 4);
    assert_eq!(lines_before_tests("fn a() {}\n"), 1);
}

#[test]
fn no_source_file_has_more_than_800_lines_before_its_tests() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    assert!(files.len() > 50, "found {} files", files.len());
    let mut too_long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let text = std::fs::read_to_string(f).expect("read");
            let lines = lines_before_tests(&text);
            (lines > 800).then(|| format!("{} ({lines})", f.display()))
        })
        .collect();
    too_long.sort();
    assert!(too_long.is_empty(), "split these by concern: {too_long:?}");
}

#[test]
fn every_direct_dependency_has_its_reason_in_the_readme() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest: toml::Table = std::fs::read_to_string(root.join("Cargo.toml"))
        .expect("Cargo.toml")
        .parse()
        .expect("TOML");
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let table = &readme[readme
        .find("## Dependencies")
        .expect("a dependency section")..];
    let rows: Vec<&str> = table.lines().filter(|l| l.starts_with("| ")).collect();
    let mut missing = Vec::new();
    for section in ["dependencies", "dev-dependencies", "build-dependencies"] {
        let Some(deps) = manifest.get(section).and_then(|d| d.as_table()) else {
            continue;
        };
        for name in deps.keys() {
            let named = format!("`{name}`");
            if !rows
                .iter()
                .any(|r| r.split('|').nth(1).is_some_and(|c| c.contains(&named)))
            {
                missing.push(format!("{section}: {name}"));
            }
        }
    }
    assert!(missing.is_empty(), "no README row for {missing:?}");
    // The design card names crossbeam: its row says where it was measured and why.
    let crossbeam = rows
        .iter()
        .find(|r| r.contains("`crossbeam-epoch`"))
        .expect("a crossbeam row");
    assert!(crossbeam.contains("bench/crossbeam.rs"), "{crossbeam}");
}
