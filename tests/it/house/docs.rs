//! The documentation's own rules: every relative link of README.md and of `docs/` reaches
//! a file, and every page of `docs/` is linked from the README.

use std::path::Path;

const README: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");

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

#[test]
fn every_link_of_the_readme_and_docs_reaches_a_file_and_every_doc_is_linked() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(README).expect("README.md");
    assert_eq!(
        relative_links("[a](docs/a.md#x) [b](https://x.org/y) [c](#z) [d](../e.md)"),
        ["docs/a.md", "../e.md"]
    );
    let mut pages = vec![(root.join("README.md"), readme.clone())];
    for entry in std::fs::read_dir(root.join("docs")).expect("docs/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "md") {
            let text = std::fs::read_to_string(&path).expect("a doc");
            let name = format!("docs/{}", path.file_name().unwrap().to_string_lossy());
            assert!(
                relative_links(&readme).contains(&name),
                "{name} is linked from nowhere in the README: add it to its section's list"
            );
            pages.push((path, text));
        }
    }
    for (page, text) in &pages {
        for link in relative_links(text) {
            let dir = page.parent().expect("a folder");
            assert!(
                dir.join(&link).exists(),
                "{}: the link {link} reaches nothing",
                page.display()
            );
        }
    }
}
