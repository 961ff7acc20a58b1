//! The documentation's own rules: every relative link of README.md, SECURITY.md and every
//! page under `docs/` (its shelves included) reaches a file; every page of `docs/` is
//! listed on its index, `docs/README.md`, which the README links; and the one layout map
//! (`docs/architecture/layout.md`) names only paths that exist and every entry at the top
//! of the repository, while `src/`'s modules are all on `src/lib.rs`'s layout list (the
//! map leaves `src/` to that list, which `source_layout.rs` holds to the imports).

use std::path::{Path, PathBuf};

const INDEX: &str = "docs/README.md";
const LAYOUT: &str = "docs/architecture/layout.md";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The relative links of a Markdown text: `](target)` without a scheme or a bare anchor,
/// the `#anchor` cut off.
fn relative_links(text: &str) -> Vec<String> {
    text.split("](")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
        .map(|t| t.split('#').next().unwrap_or_default().to_string())
        .filter(|t| !t.is_empty() && !t.contains("://") && !t.contains(' '))
        .collect()
}

/// Every Markdown page under `dir`, its shelves included. A symbolic link is an alias,
/// not a page of its own: its target must be one.
fn pages(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("an entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let meta = std::fs::symlink_metadata(&path).expect("its metadata");
        if meta.file_type().is_symlink() {
            let target = std::fs::canonicalize(&path)
                .unwrap_or_else(|e| panic!("{}: an alias to nothing: {e}", path.display()));
            assert!(
                target.starts_with(root().join("docs").canonicalize().expect("docs/")),
                "{}: an alias outside docs/",
                path.display()
            );
        } else if path.is_dir() {
            pages(&path, out);
        } else if path.extension().is_some_and(|e| e == "md") {
            out.push(path);
        }
    }
}

#[test]
fn every_link_of_the_readme_and_docs_reaches_a_file_and_every_doc_is_linked() {
    assert_eq!(
        relative_links("[a](docs/a.md#x) [b](https://x.org/y) [c](#z) [d](../e.md)"),
        ["docs/a.md", "../e.md"]
    );
    let read =
        |p: &Path| std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let readme = read(&root().join("README.md"));
    assert!(
        relative_links(&readme).iter().any(|l| l == INDEX),
        "the README links the documentation's index, {INDEX}"
    );
    let index_path = root().join(INDEX);
    let index = read(&index_path);
    let mut docs = Vec::new();
    pages(&root().join("docs"), &mut docs);
    assert!(docs.len() > 20, "{docs:?}");
    let listed: Vec<PathBuf> = relative_links(&index)
        .iter()
        .filter_map(|l| root().join("docs").join(l).canonicalize().ok())
        .collect();
    for page in &docs {
        if *page == index_path {
            continue;
        }
        let canonical = page.canonicalize().expect("a page");
        assert!(
            listed.contains(&canonical),
            "{} is not on the index, {INDEX}: add it to its shelf's list",
            page.display()
        );
    }
    let mut all = vec![root().join("README.md"), root().join("SECURITY.md")];
    all.extend(docs);
    for page in &all {
        let text = read(page);
        for link in relative_links(&text) {
            let dir = page.parent().expect("a folder");
            assert!(
                dir.join(&link).exists(),
                "{}: the link {link} reaches nothing",
                page.display()
            );
        }
    }
}

/// The `<!-- layout -->` block of the layout map: each line's first word, a path.
fn layout_paths() -> Vec<String> {
    let text = std::fs::read_to_string(root().join(LAYOUT)).expect("the layout map");
    let start = text
        .find("<!-- layout -->")
        .expect("a `<!-- layout -->` block");
    let body = &text[start..];
    let open = body.find("```text\n").expect("its ```text fence") + "```text\n".len();
    let close = body[open..].find("\n```").expect("its end") + open;
    body[open..close]
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// Whether `.gitignore` leaves a top-level entry out (`/name`, `name`, or `*.ext`).
fn ignored(name: &str, gitignore: &str) -> bool {
    gitignore.lines().map(str::trim).any(|p| {
        let p = p.trim_start_matches('/').trim_end_matches('/');
        !p.is_empty()
            && !p.contains('/')
            && (p == name || p.strip_prefix('*').is_some_and(|ext| name.ends_with(ext)))
    })
}

#[test]
fn the_layout_names_paths_that_exist_and_every_folder_of_src() {
    assert!(ignored("target", "/target\n*.log\n"));
    assert!(ignored("x.log", "/target\n*.log\n"));
    assert!(!ignored("src", "/target\nloadtest/results/\n"));
    let named = layout_paths();
    assert!(named.len() > 10, "{named:?}");
    for path in &named {
        assert!(
            root().join(path).exists(),
            "{LAYOUT}: the layout names {path}, which is not there"
        );
    }
    // Every entry at the top of the repository is on the map (git's own folder and what
    // .gitignore leaves out aside).
    let gitignore = std::fs::read_to_string(root().join(".gitignore")).unwrap_or_default();
    for entry in std::fs::read_dir(root()).expect("the repository") {
        let path = entry.expect("an entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name == ".git" || ignored(&name, &gitignore) {
            continue;
        }
        let as_named = if path.is_dir() {
            format!("{name}/")
        } else {
            name.clone()
        };
        assert!(
            named.contains(&as_named),
            "{LAYOUT}: the layout does not name {as_named}"
        );
    }
    // `src/` is left to lib.rs's list: every module of the library is on it, every
    // folder of `src/` is a module of the library.
    let lib = std::fs::read_to_string(root().join("src/lib.rs")).expect("src/lib.rs");
    let list: String = lib
        .lines()
        .take_while(|l| l.starts_with("//!"))
        .collect::<Vec<_>>()
        .join("\n");
    let modules: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod "))
        .filter_map(|l| l.strip_suffix(';'))
        .collect();
    assert!(modules.len() > 10, "{modules:?}");
    for module in &modules {
        assert!(
            list.contains(&format!("[`{module}`]")),
            "src/lib.rs: the module {module} is not on its `# Layout` list"
        );
    }
    for entry in std::fs::read_dir(root().join("src")).expect("src/") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            assert!(
                modules.contains(&name.as_str()),
                "src/{name}/ is not a module of src/lib.rs"
            );
        }
    }
}
