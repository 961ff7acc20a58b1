//! The source tree's own rules, checked: no file under `src/` outgrows its room (800
//! lines before its test module, `#[cfg(test)] mod`), no function is over 150 lines, and
//! every direct dependency of `Cargo.toml` has its row in README's dependency table, the
//! design card's crates included (crossbeam is measured, not silently absent).

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

/// Each function's length in lines (from its `fn` line to its closing brace), for the
/// code before the test module: `(name, lines)`. Braces in strings, characters and
/// comments are skipped.
fn function_lengths(text: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = text.lines().take(lines_before_tests(text)).collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(name) = fn_name(lines[i]) else {
            i += 1;
            continue;
        };
        let (mut depth, mut opened, mut j) = (0i32, false, i);
        let mut in_string = false;
        while j < lines.len() {
            let code = code_of(lines[j], &mut in_string);
            for c in code.chars() {
                match c {
                    '{' => {
                        depth += 1;
                        opened = true;
                    }
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            if (opened && depth <= 0) || (!opened && code.trim_end().ends_with(';')) {
                break;
            }
            j += 1;
        }
        out.push((name, j + 1 - i));
        i += 1;
    }
    out
}

/// The name of the function a line declares, if it does.
fn fn_name(line: &str) -> Option<String> {
    let mut words = line.split_whitespace().peekable();
    while let Some(w) = words.next() {
        match w {
            "pub" | "async" | "const" | "unsafe" | "extern" | "\"C\"" => continue,
            w if w.starts_with("pub(") => continue,
            "fn" => {
                let name = words.next()?;
                let end = name.find(['(', '<']).unwrap_or(name.len());
                return Some(name[..end].to_string());
            }
            _ => return None,
        }
    }
    None
}

/// A line without its strings, character literals and `//` comment; `in_string` carries
/// a string literal that goes on past the line's end.
fn code_of(line: &str, in_string: &mut bool) -> String {
    let mut out = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if *in_string {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => *in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => *in_string = true,
            '\'' => {
                // A character literal ('{', '\''), not a lifetime ('a).
                let rest: String = chars.clone().take(3).collect();
                if rest.starts_with('\\') {
                    chars.next();
                    chars.next();
                    chars.next();
                } else if rest.chars().nth(1) == Some('\'') {
                    chars.next();
                    chars.next();
                }
            }
            '/' if chars.peek() == Some(&'/') => break,
            c => out.push(c),
        }
    }
    out
}

#[test]
fn function_lengths_are_counted_by_their_braces() {
    let text = "fn a() {\n    let s = \"}\\\n    {\";\n    let c = '{';\n    // }\n}\npub(crate) async fn b<T>(x: T)\nwhere T: Copy\n{\n}\nfn decl();\n";
    assert_eq!(
        function_lengths(text),
        vec![("a".into(), 6), ("b".into(), 4), ("decl".into(), 1)]
    );
}

#[test]
fn no_function_has_more_than_150_lines() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    let mut too_long = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).expect("read");
        for (name, lines) in function_lengths(&text) {
            if lines > 150 {
                too_long.push(format!("{}: {name} ({lines})", f.display()));
            }
        }
    }
    assert!(too_long.is_empty(), "split these by step: {too_long:?}");
}

/// The planes `lib.rs`'s layout list names, in its order (the `- [`name`]` lines before
/// "Around them").
fn layout_order(lib: &str) -> Vec<String> {
    lib.lines()
        .take_while(|l| !l.starts_with("//! Around them"))
        .filter_map(|l| l.strip_prefix("//! - [`"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_string)
        .collect()
}

/// The top-level modules a module's code (before its test modules) names as `crate::x`.
fn uses_of(dir: &Path, name: &str) -> std::collections::BTreeSet<String> {
    let mut files = Vec::new();
    let folder = dir.join(name);
    if folder.is_dir() {
        rust_files(&folder, &mut files);
    } else {
        files.push(dir.join(format!("{name}.rs")));
    }
    let mut used = std::collections::BTreeSet::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read");
        let code: String = text
            .lines()
            .take(lines_before_tests(&text))
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        for (i, _) in code.match_indices("crate::") {
            let rest = &code[i + 7..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            if rest[..end] != *name {
                used.insert(rest[..end].to_string());
            }
        }
    }
    used
}

#[test]
fn the_layout_list_in_lib_rs_is_the_dependency_order() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib = std::fs::read_to_string(root.join("src/lib.rs")).expect("read lib.rs");
    let order = layout_order(&lib);
    assert!(order.len() > 10, "layout list not found: {order:?}");
    let mut upward = Vec::new();
    for (i, module) in order.iter().enumerate() {
        for used in uses_of(&root.join("src"), module) {
            if let Some(j) = order.iter().position(|m| *m == used)
                && j < i
            {
                upward.push(format!("{module} -> {used}"));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "a module uses one listed before it in lib.rs: {upward:?}"
    );
}
