//! The source tree's own rules, checked: no file under `src/` outgrows its room (800
//! lines before its test module, `#[cfg(test)] mod`), no function is over 150 lines, and
//! every direct dependency of `Cargo.toml` has its row in the dependency table
//! (docs/reference/dependencies.md, linked from the README), the
//! design card's crates included (crossbeam is measured, not silently absent), and no
//! files of `src/` name each other in a circle (the check of `filecycles.py`, ported: a
//! hard rule, no circle of any size).

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

/// The files of `src/` that may parse JSON with serde_json, each for a reason that is not
/// deciding on forwarded bytes. Everything the data plane decides on is read through
/// `jsonrpc::frame` (requests), `jsonrpc::answer` (answers) and `jsonrpc::read`
/// (values), over one simd-json tape (docs/reference/protocol.md, "One reading"); a new
/// `serde_json::from_slice` of a message elsewhere fails here.
const SERDE_READERS: &[(&str, &str)] = &[
    // The control plane and storage: REST bodies, configuration, rules' text, sealed
    // records, tokens. None of it is forwarded to a backend.
    ("src/app/changes.rs", "a change notice from PostgreSQL"),
    (
        "src/auth/dpop.rs",
        "a DPoP proof's header and claims (a client's, read to check, never forwarded)",
    ),
    ("src/auth/oauth.rs", "an issuer's metadata and keys"),
    ("src/control/mod.rs", "a REST body"),
    ("src/control/servers.rs", "a REST body"),
    (
        "src/control/tools.rs",
        "a REST body: the arguments, framed strictly once made a request",
    ),
    ("src/crypto.rs", "sealed claims the gateway wrote"),
    (
        "src/registry/mod.rs",
        "an MCP registry's answer: entries an admin installs from, never forwarded",
    ),
    ("src/keyadm/namespaces.rs", "keyadm's own files and answers"),
    ("src/keyadm/policies.rs", "keyadm's own files and answers"),
    (
        "src/keyadm/server_change.rs",
        "keyadm's own files and answers",
    ),
    ("src/policy/rules.rs", "a policy's text"),
    ("src/vault/accounts.rs", "sealed records"),
    ("src/vault/mod.rs", "sealed records"),
    ("src/vault/net.rs", "an authorization server's answer"),
    ("src/vault/secrets.rs", "sealed records"),
    ("src/vault/tokens.rs", "an authorization server's answer"),
    // mcpc is a client of its own, deciding nothing for the gateway.
    ("src/mcpc/auth.rs", "mcpc, a client"),
    ("src/mcpc/bridge.rs", "mcpc, a client"),
    ("src/mcpc/mod.rs", "mcpc, a client"),
    // Answers of the gateway's own requests to a backend (lists, initialize) and
    // messages an era adapter re-serialises: what is forwarded is the adapter's own
    // writing of what it read, so there is one reading.
    (
        "src/backend/http/mod.rs",
        "the gateway's own requests' answers",
    ),
    (
        "src/backend/http/modern.rs",
        "the gateway's own requests' answers",
    ),
    ("src/backend/mux.rs", "the gateway's own requests' answers"),
    (
        "src/backend/supervisor.rs",
        "the gateway's own requests' answers",
    ),
    ("src/base/caps.rs", "the gateway's own capability bits"),
    (
        "src/jsonrpc/log_level.rs",
        "a backend's notification's level (a duplicate `level` fails serde's derive: ranked debug)",
    ),
    (
        "src/mcp/confirm.rs",
        "the answer of a confirmed call, re-written on one line",
    ),
    (
        "src/mcp/era/bridge/session_to_modern.rs",
        "an era adapter, re-serialising",
    ),
    ("src/mcp/era/listen.rs", "an id the gateway kept"),
    ("src/mcp/wire/ask.rs", "an era adapter, re-serialising"),
    (
        "src/mcp/era/rounds/mod.rs",
        "an era adapter, re-serialising",
    ),
    (
        "src/mcp/era/tasks/extension.rs",
        "an era adapter, re-serialising",
    ),
    (
        "src/mcp/era/tasks/session.rs",
        "an era adapter, re-serialising",
    ),
    (
        "src/mcp/rest.rs",
        "a collected answer's error, re-written for REST",
    ),
];

#[test]
fn what_the_data_plane_decides_on_is_read_by_one_reader() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    let mut found = Vec::new();
    for f in &files {
        let rel = f
            .strip_prefix(root)
            .expect("under the root")
            .to_string_lossy()
            .replace('\\', "/");
        if rel.ends_with("/tests.rs") || rel.contains("/tests/") {
            continue;
        }
        let text = std::fs::read_to_string(f).expect("read");
        let code: Vec<&str> = text.lines().take(lines_before_tests(&text)).collect();
        let parses = code.iter().any(|l| {
            [
                "serde_json::from_slice",
                "serde_json::from_str",
                "serde_json::from_reader",
                "simd_json::to_",
            ]
            .iter()
            .any(|p| l.contains(p))
        });
        if parses && !SERDE_READERS.iter().any(|(allowed, _)| *allowed == rel) {
            found.push(rel);
        }
    }
    found.sort();
    assert!(
        found.is_empty(),
        "these files parse JSON outside jsonrpc::{{frame, answer, read}}: read through them, \
         or name the file in SERDE_READERS with the reason it decides on nothing forwarded: {found:?}"
    );
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
    // The table moved from the README to its long form, docs/reference/dependencies.md
    // (the README links it).
    let page = std::fs::read_to_string(root.join("docs/reference/dependencies.md"))
        .expect("docs/reference/dependencies.md");
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    assert!(
        readme.contains("](docs/reference/dependencies.md)"),
        "the README links the dependency table"
    );
    let table = &page[page.find("| crate | why |").expect("a dependency table")..];
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
    assert!(
        missing.is_empty(),
        "no row in docs/reference/dependencies.md for {missing:?}"
    );
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

// ---- No circles of files -------------------------------------------------------------
//
// A port of `../shared/tools/filecycles.py`: each `.rs` file under `src/` is a module
// (`a/b.rs` and `a/b/mod.rs` are `a::b`). A file uses another when its code (before its
// test module, comments and strings left out) names a path into it: `use crate::a::b::X`,
// `use super::c`, `self::d::f()`, a child module named plainly (`forward::to_backend`),
// braces expanded. A path resolves to the longest module prefix that is a file. A use of
// one's own ancestor (a child taking a shared word from its folder's `mod.rs`) is not
// counted; a parent's use of its children, and every use between siblings and cousins,
// is. A circle is a strongly connected component of two or more files.

type Module = Vec<String>;

fn module_of(rel: &Path) -> Module {
    let mut segs: Vec<String> = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let last = segs.last().map(String::as_str);
    if last == Some("mod") || (segs.len() == 1 && matches!(last, Some("lib" | "main"))) {
        segs.pop();
    }
    segs
}

/// The code a file's uses are read from: no comments, strings emptied, and nothing from
/// its test module (`#[cfg(test)] mod …`, to the end of the file) on.
fn code_before_tests(text: &str) -> String {
    let mut rest = text;
    let mut no_blocks = String::with_capacity(text.len());
    while let Some(i) = rest.find("/*") {
        no_blocks.push_str(&rest[..i]);
        rest = rest[i + 2..]
            .find("*/")
            .map_or("", |j| &rest[i + 2 + j + 2..]);
    }
    no_blocks.push_str(rest);
    const TEST: &str = "\u{0}TEST";
    let mut lines = Vec::new();
    for line in no_blocks.lines() {
        if line.trim_start().starts_with("#[cfg(test)]") {
            lines.push(TEST.to_string());
            continue;
        }
        let mut out = String::new();
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '"' {
                // A string on this line: emptied (as the Python tool does, line by line).
                let mut closed = false;
                let mut skipped = String::new();
                while let Some(d) = chars.next() {
                    if d == '\\' {
                        skipped.push(d);
                        if let Some(e) = chars.next() {
                            skipped.push(e);
                        }
                    } else if d == '"' {
                        closed = true;
                        break;
                    } else {
                        skipped.push(d);
                    }
                }
                if closed {
                    out.push_str("\"\"");
                } else {
                    out.push('"');
                    out.push_str(&skipped);
                }
            } else {
                out.push(c);
            }
        }
        lines.push(out.split("//").next().unwrap_or("").to_string());
    }
    let text = lines.join("\n");
    let mut from = 0;
    while let Some(i) = text[from..].find(TEST).map(|i| from + i) {
        let after = text[i + TEST.len()..].trim_start();
        let is_mod = after
            .strip_prefix("mod")
            .filter(|m| m.starts_with(char::is_whitespace))
            .map(str::trim_start)
            .is_some_and(|m| {
                let name = m.find(|c: char| !is_word(c)).unwrap_or(m.len());
                name > 0 && m[name..].trim_start().starts_with('{')
            });
        if is_mod {
            return text[..i].replace(TEST, "");
        }
        from = i + TEST.len();
    }
    text.replace(TEST, "")
}

/// `a::{b, c::{d, e}}` -> `a::b`, `a::c::d`, `a::c::e`.
fn expand(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(i) = tree.find('{') else {
        return vec![tree.to_string()];
    };
    let close = tree.rfind('}').unwrap_or(tree.len());
    let (head, body) = (&tree[..i], &tree[i + 1..close.max(i + 1)]);
    let (mut parts, mut depth, mut cur) = (Vec::new(), 0i32, String::new());
    for ch in body.chars() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            _ => {}
        }
        if ch == ',' && depth == 0 {
            parts.push(std::mem::take(&mut cur));
        } else {
            cur.push(ch);
        }
    }
    parts.push(cur);
    parts
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .flat_map(|p| expand(p).into_iter().map(move |q| format!("{head}{q}")))
        .collect()
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Every path of two or more segments in `code` that starts at a word boundary not
/// after `:` (`a::b::c`; a trailing `::{` or `::*` is left off).
fn paths_in(code: &str) -> Vec<String> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let starts =
            is_word(chars[i]) && (i == 0 || !(is_word(chars[i - 1]) || chars[i - 1] == ':'));
        if !starts {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < chars.len() && is_word(chars[j]) {
            j += 1;
        }
        let mut segments = 1;
        while j + 2 < chars.len() && chars[j] == ':' && chars[j + 1] == ':' && is_word(chars[j + 2])
        {
            j += 2;
            while j < chars.len() && is_word(chars[j]) {
                j += 1;
            }
            segments += 1;
        }
        if segments > 1 {
            out.push(chars[i..j].iter().collect());
        }
        i = j.max(i + 1);
    }
    out
}

/// The `use` statements of `code`: (first segment, the whole tree up to `;`).
fn use_trees(code: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = code[from..].find("use").map(|i| from + i) {
        from = i + 3;
        if i > 0 && code[..i].chars().next_back().is_some_and(is_word) {
            continue;
        }
        let rest = &code[i + 3..];
        if !rest.starts_with(char::is_whitespace) {
            continue;
        }
        let rest = rest.trim_start();
        let Some(end) = rest.find(';') else { continue };
        let tree = rest[..end].split_whitespace().collect::<Vec<_>>().join(" ");
        let first: String = tree.chars().take_while(|&c| is_word(c)).collect();
        if !first.is_empty() {
            out.push((first, tree));
        }
    }
    out
}

/// `path` as (the module it starts from, the segments after), for `crate`, `super`
/// and `self` paths.
fn absolute(module: &[String], path: &str) -> Option<(Module, Vec<String>)> {
    let mut segs: Vec<String> = path
        .split("::")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.split(" as ").next().unwrap_or(s).trim().to_string())
        .collect();
    let base = match segs.first().map(String::as_str) {
        Some("crate") => {
            segs.remove(0);
            Vec::new()
        }
        Some("super") => {
            let mut base = module.to_vec();
            while segs.first().map(String::as_str) == Some("super") {
                base.pop();
                segs.remove(0);
            }
            base
        }
        Some("self") => {
            segs.remove(0);
            module.to_vec()
        }
        _ => return None,
    };
    Some((base, segs))
}

/// Each file's uses of other files: module -> module -> the names it takes.
type Uses = std::collections::BTreeMap<
    Module,
    std::collections::BTreeMap<Module, std::collections::BTreeSet<String>>,
>;

fn file_uses(files: &std::collections::BTreeMap<Module, String>) -> Uses {
    let mut uses = Uses::new();
    for (module, text) in files {
        let code = code_before_tests(text);
        let child = |name: &str| {
            let mut m = module.clone();
            m.push(name.to_string());
            files.contains_key(&m)
        };
        let mut paths = Vec::new();
        for (first, tree) in use_trees(&code) {
            if matches!(first.as_str(), "crate" | "super" | "self") {
                paths.extend(expand(&tree));
            } else if tree[first.len()..].starts_with("::") && child(&first) {
                paths.extend(expand(&tree).into_iter().map(|q| format!("self::{q}")));
            }
        }
        for p in paths_in(&code) {
            let first = p.split("::").next().unwrap_or("");
            if matches!(first, "crate" | "super" | "self") {
                paths.push(p);
            } else if child(first) {
                paths.push(format!("self::{p}"));
            }
        }
        for p in paths {
            let Some((base, segs)) = absolute(module, &p) else {
                continue;
            };
            let full: Vec<String> = base.iter().chain(&segs).cloned().collect();
            let Some(n) = (base.len()..=full.len())
                .rev()
                .find(|&n| files.contains_key(&full[..n]))
            else {
                continue;
            };
            let target = full[..n].to_vec();
            if target == *module || module.starts_with(&target) {
                continue; // itself, or one of its own ancestors
            }
            let name = full.get(n).or(full.last()).cloned().unwrap_or_default();
            uses.entry(module.clone())
                .or_default()
                .entry(target)
                .or_default()
                .insert(name);
        }
    }
    uses
}

/// The circles of files (strongly connected components of two or more), each sorted.
fn circles(files: &std::collections::BTreeMap<Module, String>) -> (Vec<Vec<Module>>, Uses) {
    use std::collections::{BTreeMap, BTreeSet};
    struct Tarjan<'a> {
        uses: &'a Uses,
        index: BTreeMap<Module, usize>,
        low: BTreeMap<Module, usize>,
        stack: Vec<Module>,
        on: BTreeSet<Module>,
        out: Vec<Vec<Module>>,
    }
    impl Tarjan<'_> {
        fn visit(&mut self, v: &Module) {
            let n = self.index.len();
            self.index.insert(v.clone(), n);
            self.low.insert(v.clone(), n);
            self.stack.push(v.clone());
            self.on.insert(v.clone());
            let next: Vec<Module> = self
                .uses
                .get(v)
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            for w in next {
                if !self.index.contains_key(&w) {
                    self.visit(&w);
                    let l = self.low[v].min(self.low[&w]);
                    self.low.insert(v.clone(), l);
                } else if self.on.contains(&w) {
                    let l = self.low[v].min(self.index[&w]);
                    self.low.insert(v.clone(), l);
                }
            }
            if self.low[v] == self.index[v] {
                let mut comp = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on.remove(&w);
                    let done = w == *v;
                    comp.push(w);
                    if done {
                        break;
                    }
                }
                if comp.len() > 1 {
                    comp.sort();
                    self.out.push(comp);
                }
            }
        }
    }
    let uses = file_uses(files);
    let mut t = Tarjan {
        uses: &uses,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in files.keys() {
        if !t.index.contains_key(v) {
            t.visit(v);
        }
    }
    let mut out = t.out;
    out.sort();
    (out, uses)
}

fn source_modules(src: &Path) -> std::collections::BTreeMap<Module, String> {
    let mut paths = Vec::new();
    rust_files(src, &mut paths);
    paths
        .iter()
        .filter_map(|p| {
            let rel = p.strip_prefix(src).ok()?;
            Some((module_of(rel), std::fs::read_to_string(p).expect("read")))
        })
        .collect()
}

fn tree(files: &[(&str, &str)]) -> std::collections::BTreeMap<Module, String> {
    files
        .iter()
        .map(|(path, text)| (module_of(Path::new(path)), text.to_string()))
        .collect()
}

#[test]
fn a_circle_of_files_is_found_and_a_use_of_ones_own_folder_is_not_one() {
    let m = |s: &str| s.split('/').map(str::to_string).collect::<Module>();
    // a.rs -> b.rs (braces, a child named plainly) -> a.rs (super path in code).
    let circle = tree(&[
        ("lib.rs", "pub mod a;\npub mod b;\n"),
        (
            "a/mod.rs",
            "pub mod x;\nuse crate::b::{self, Y};\nfn f() { x::g() }\n",
        ),
        ("a/x.rs", "use super::Shared;\n"),
        (
            "b.rs",
            "// use crate::a::x::Z; (a comment)\nfn g() { crate::a::x::h(); }\n#[cfg(test)]\nmod tests {\n    use crate::a::Q;\n}\n",
        ),
    ]);
    let (found, _) = circles(&circle);
    assert!(
        found.is_empty(),
        "a->b->a/x, and a/x->a is its own folder: {found:?}"
    );
    let with_circle = tree(&[
        ("lib.rs", "pub mod a;\npub mod b;\n"),
        ("a/mod.rs", "pub mod x;\n"),
        ("a/x.rs", "use crate::b::{\n    c::{D, E as F},\n};\n"),
        ("b/mod.rs", "pub mod c;\n"),
        (
            "b/c.rs",
            "pub fn d() { let s = \"crate::q\"; super::super::a::x::run(s) }\n",
        ),
    ]);
    let (found, _) = circles(&with_circle);
    assert_eq!(found, vec![vec![m("a/x"), m("b/c")]]);
}

#[test]
fn no_circle_of_files_in_src() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = source_modules(&src);
    assert!(files.len() > 50, "found {} files", files.len());
    let (found, uses) = circles(&files);
    let name = |m: &Module| m.join("/");
    let report: Vec<String> = found
        .iter()
        .map(|comp| {
            let mut lines = vec![format!(
                "{} files: {}",
                comp.len(),
                comp.iter().map(name).collect::<Vec<_>>().join(", ")
            )];
            for a in comp {
                for (b, names) in uses.get(a).into_iter().flatten() {
                    if comp.contains(b) {
                        let names: Vec<&str> = names.iter().map(String::as_str).collect();
                        lines.push(format!(
                            "  {} -> {}: {}",
                            name(a),
                            name(b),
                            names.join(", ")
                        ));
                    }
                }
            }
            lines.join("\n")
        })
        .collect();
    assert!(
        found.is_empty(),
        "a circle of files (move the type that ties them into a file of its own below \
         them; let a re-entry go through one function of `mcp::phases`):\n{}",
        report.join("\n")
    );
}

/// The files of `dir` (under `src/mcp/`) that name one of `rooms` above them.
fn naming_rooms_above(dir: &str, rooms: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src/mcp").join(dir), &mut files);
    let mut found = Vec::new();
    for file in files {
        let code = code_before_tests(&std::fs::read_to_string(&file).unwrap());
        for room in rooms {
            if code.contains(&format!("crate::mcp::{room}")) {
                let rel = file.strip_prefix(root).unwrap().display().to_string();
                found.push(format!("{rel} names mcp::{room}"));
            }
        }
    }
    found
}

#[test]
fn the_rooms_of_the_data_plane_import_one_way() {
    // The era is a layer around an era-blind hop: the hop and the eras' bytes (`wire`)
    // import nothing of the era adapters or the pipeline, and the era adapters nothing of
    // the pipeline (re-entries come back to it as values).
    let pipeline = [
        "phases", "endpoint", "batch", "rest", "policed", "served", "confirm",
    ];
    let mut wrong = naming_rooms_above("hop", &["era", "phases", "endpoint", "confirm"]);
    wrong.extend(naming_rooms_above(
        "wire",
        &["era", "hop", "phases", "endpoint", "ctx", "state"],
    ));
    wrong.extend(naming_rooms_above("era", &pipeline));
    assert!(wrong.is_empty(), "imports running back up: {wrong:#?}");
    // The request's context is not the entry file's, and the entry file is a face.
    let face =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/mcp/mod.rs"))
            .unwrap();
    assert!(
        !face.contains("pub struct Ctx"),
        "Ctx belongs to mcp/ctx.rs"
    );
    assert!(
        face.lines().count() < 100,
        "mcp/mod.rs is a face: under 100 lines"
    );
}

/// Which era the client speaks is read only where it is learnt (the endpoint), kept (the
/// conversation, whose named questions the other rooms ask, and the request's context)
/// and the era layer.
#[test]
fn the_clients_era_is_read_only_by_the_endpoint_the_conversation_and_the_era_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let allowed = |rel: &str| {
        rel.starts_with("mcp/era/")
            || ["mcp/endpoint.rs", "mcp/conversation.rs", "mcp/ctx.rs"].contains(&rel)
    };
    let mut readers = Vec::new();
    for file in &files {
        let rel = file
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(file).unwrap();
        let reads = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .filter(|l| l.contains(".stateless"))
            .count();
        if reads > 0 && !allowed(&rel) {
            readers.push(format!("{rel} ({reads})"));
        }
    }
    assert!(
        readers.is_empty(),
        "these files read `.stateless`; ask the conversation's named questions (`mcp/conversation.rs`) instead: {readers:?}"
    );
    // The check sees a read where there is one.
    assert!(
        std::fs::read_to_string(src.join("mcp/conversation.rs"))
            .unwrap()
            .contains("self.stateless")
    );
}
