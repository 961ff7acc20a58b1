//! Text as the index and the queries see it: words split at every boundary a tool name
//! has (`snake_case`, `kebab-case`, `camelCase`, `dots.and/slashes`, letters and digits),
//! lower-cased, common English endings folded (so "branches", "branching" and "branch"
//! meet), and words that carry no meaning in a request ("please", "the", "my") dropped.
//! Anything that is not a letter or a digit separates words, control characters and
//! unknown scripts included: a word of any script is still a word.
//!
//! Also the text a tool is embedded as ([`embedded`]). The build includes this file
//! (`build/background.rs`) to embed the background catalogue the same way, so it uses
//! nothing of the crate.

/// Longest word kept, in characters (a longer run is cut: a hash or a blob is no word).
pub const MAX_WORD: usize = 40;

/// Words that say nothing about which tool is meant.
const STOP: &[&str] = &[
    "a", "about", "all", "an", "and", "any", "are", "as", "at", "be", "by", "can", "could", "do",
    "does", "for", "from", "have", "how", "i", "in", "into", "is", "it", "its", "me", "my", "need",
    "of", "on", "or", "our", "please", "should", "so", "some", "that", "the", "their", "them",
    "then", "there", "these", "this", "to", "us", "using", "via", "want", "was", "we", "what",
    "when", "which", "will", "with", "would", "you", "your",
];

/// Tokens of a tool's text embedded at most (its name, title, the start of its
/// description, its parameters' names): its cost grows with them.
pub const TOOL_TOKENS: usize = 128;

/// Characters of a tool's description taken into its text.
const DESCRIPTION_CHARS: usize = 600;

/// The text a tool is embedded as: its name's words, title, the start of its description,
/// its parameters' names and its server's name.
pub fn embedded(name: &str, title: &str, description: &str, params: &str, server: &str) -> String {
    let description: String = description.chars().take(DESCRIPTION_CHARS).collect();
    let mut out = String::with_capacity(description.len() + 128);
    out.push_str(&split_name(name));
    out.push_str(". ");
    out.push_str(title);
    out.push(' ');
    out.push_str(&description);
    if !params.is_empty() {
        out.push_str(" parameters: ");
        out.push_str(&split_name(params));
    }
    out.push_str(" server ");
    out.push_str(server);
    out
}

/// The words of `text`, in order, each folded ([`fold`]), stop words left out.
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    split(text, |w| {
        if !STOP.contains(&w) {
            out.push(fold(w));
        }
    });
    out
}

/// The first `limit` bytes of `text` at most, cut at a character boundary.
pub fn head(text: &str, limit: usize) -> &str {
    if text.len() <= limit {
        return text;
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The words of a name (`list_issues`, `listIssues`), lower-cased and spaced, as they
/// are: "list issues".
pub fn split_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    split(name, |w| {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    });
    out
}

/// Calls `each` with every lower-cased word of `text`.
fn split(text: &str, mut each: impl FnMut(&str)) {
    let mut word = String::new();
    let mut prev: Option<char> = None;
    let mut flush = |word: &mut String| {
        if !word.is_empty() {
            each(word);
            word.clear();
        }
    };
    for c in text.chars() {
        if !c.is_alphanumeric() {
            flush(&mut word);
            prev = None;
            continue;
        }
        // A boundary inside a run: lower to upper ("listIssues"), letter to digit and
        // back ("ec2instances", "v2api").
        let boundary = match prev {
            Some(p) => {
                (p.is_lowercase() && c.is_uppercase())
                    || (p.is_alphabetic() && c.is_numeric())
                    || (p.is_numeric() && c.is_alphabetic())
            }
            None => false,
        };
        if boundary {
            flush(&mut word);
        }
        if word.chars().count() < MAX_WORD {
            word.extend(c.to_lowercase());
        }
        prev = Some(c);
    }
    flush(&mut word);
}

/// A word with its common English ending folded: plurals ("queries" → "query",
/// "branches" → "branch", "files" → "file"), "-ing" and "-ed" ("listing", "listed" →
/// "list"). Short words and words of other scripts are kept as they are.
pub fn fold(word: &str) -> String {
    if word.len() <= 3 || !word.is_ascii() {
        return word.to_string();
    }
    let w = word;
    let cut = |n: usize| w[..w.len() - n].to_string();
    if let Some(stem) = w.strip_suffix("ies")
        && stem.len() >= 2
    {
        return format!("{stem}y");
    }
    if w.ends_with("sses") || w.ends_with("ches") || w.ends_with("shes") || w.ends_with("xes") {
        return cut(2);
    }
    if w.ends_with("ss") || w.ends_with("us") || w.ends_with("is") {
        return w.to_string();
    }
    if w.ends_with('s') {
        return cut(1);
    }
    if let Some(stem) = w.strip_suffix("ing")
        && stem.len() >= 3
    {
        return undouble(stem);
    }
    if let Some(stem) = w.strip_suffix("ed")
        && stem.len() >= 3
    {
        return undouble(stem);
    }
    w.to_string()
}

/// "committ" → "commit", "stopp" → "stop": a doubled last consonant left by "-ed"/"-ing".
fn undouble(stem: &str) -> String {
    let b = stem.as_bytes();
    let n = b.len();
    if n >= 2 && b[n - 1] == b[n - 2] && !b"aeiouls".contains(&b[n - 1]) {
        return stem[..n - 1].to_string();
    }
    stem.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_split_at_every_boundary() {
        assert_eq!(words("git_create_branch"), ["git", "create", "branch"]);
        assert_eq!(words("listPullRequests"), ["list", "pull", "request"]);
        assert_eq!(
            words("browser-navigate.v2"),
            ["browser", "navigate", "v", "2"]
        );
        assert_eq!(words("getEC2Instances"), ["get", "ec", "2", "instance"]);
        assert_eq!(
            words("Please find THE files in my repo"),
            ["find", "file", "repo"]
        );
    }

    #[test]
    fn endings_fold_to_one_word() {
        for (w, f) in [
            ("queries", "query"),
            ("branches", "branch"),
            ("files", "file"),
            ("listing", "list"),
            ("listed", "list"),
            ("committed", "commit"),
            ("status", "status"),
            ("address", "address"),
            ("analysis", "analysis"),
            ("git", "git"),
        ] {
            assert_eq!(fold(w), f, "{w}");
        }
    }

    #[test]
    fn hostile_text_is_still_words() {
        assert_eq!(words("\u{0}\u{1b}[31mred\u{7}"), ["31", "mred"]);
        assert_eq!(words("переименовать файл"), ["переименовать", "файл"]);
        let long = "x".repeat(10_000);
        assert_eq!(words(&long)[0].len(), MAX_WORD);
        assert!(words("").is_empty());
    }
}
