//! Tool search: which tools of a list fit a need said in words, best first, in process
//! (no network, nothing downloaded at run time). [`index`] is the lexical retrieval
//! (BM25F over a tool's name, title, description, parameters and server), with
//! [`synonyms`] for the usual mismatches between how a need is said and how a tool is
//! named, and [`text`] for how words are cut; [`semantic`] is the meaning
//! (all-MiniLM-L6-v2 embeddings, kept by the hash of what was embedded); [`hybrid`]
//! joins the two ([`Searcher`]). The views of [`crate::routing`] build a searcher of
//! their tools when first searched (or, in search mode, when their list changes); the
//! gateway's `search_tools` tool and `GET /api/v1/tools/search` read it.

use serde_json::Value;

pub mod background;
pub mod hybrid;
pub mod index;
pub mod learning;
pub mod query;
pub mod semantic;
pub mod synonyms;
pub mod text;

pub use hybrid::{Confidence, Found, QueryVectors, Searcher};
pub use index::{Fields, Hit, Index, MIN_COVERAGE, Terms};

/// Longest query taken, in bytes; a longer one is refused (a need is a sentence).
pub const MAX_QUERY: usize = 1024;

/// Most results one search returns, whatever it asks for.
pub const MAX_LIMIT: usize = 50;

/// Results when the caller does not say.
pub const DEFAULT_LIMIT: usize = 8;

/// A tool's fields as its listing entry (`entry`, a `Tool` object) gives them.
pub fn fields_of<'a>(entry: &'a Value, server: &'a str, instructions: &'a str) -> Fields<'a> {
    let text = |v: &'a Value| v.as_str().unwrap_or_default();
    let title = match text(&entry["title"]) {
        "" => text(&entry["annotations"]["title"]),
        t => t,
    };
    let mut params = String::new();
    let mut param_names = String::new();
    if let Some(props) = entry["inputSchema"]["properties"].as_object() {
        for (name, p) in props {
            if !param_names.is_empty() {
                param_names.push(' ');
            }
            param_names.push_str(name);
            params.push_str(name);
            params.push(' ');
            params.push_str(text(&p["description"]));
            params.push(' ');
        }
    }
    Fields {
        name: text(&entry["name"]),
        title,
        description: text(&entry["description"]),
        params,
        param_names,
        server,
        instructions,
    }
}

/// What a searcher takes of one tool: its words by field and, for its meaning, the text
/// it is embedded as and that embedding's key. Made once per listing entry (the routing
/// table keeps it with the entry), not at every build of a searcher.
#[derive(Debug, Clone)]
pub struct Doc {
    pub terms: Terms,
    pub text: String,
    pub key: semantic::Key,
}

impl Doc {
    pub fn of(f: &Fields) -> Doc {
        let text = semantic::text_of(f);
        Doc {
            terms: Terms::of(f),
            key: semantic::key_of(&text),
            text,
        }
    }
}

/// Checks a query: not empty, at most [`MAX_QUERY`] bytes. The error says what to do.
pub fn check_query(query: &str) -> Result<(), String> {
    if query.trim().is_empty() {
        return Err("query must say what the tool should do, in a few words".into());
    }
    if query.len() > MAX_QUERY {
        return Err(format!(
            "query is {} bytes; at most {MAX_QUERY} are taken: say the need in a sentence",
            query.len()
        ));
    }
    Ok(())
}

/// The number of results to return for an asked `limit` (`None`: [`DEFAULT_LIMIT`]), at
/// most [`MAX_LIMIT`].
pub fn clamp_limit(limit: Option<u64>) -> usize {
    limit.map_or(DEFAULT_LIMIT, |l| l.min(MAX_LIMIT as u64) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_listing_entry_gives_its_fields() {
        let entry = json!({"name": "git__log", "description": "Shows commits",
            "annotations": {"title": "Git log"},
            "inputSchema": {"properties": {"max_count": {"description": "How many"}}}});
        let f = fields_of(&entry, "git", "A git server");
        assert_eq!(
            (f.name, f.title, f.description),
            ("git__log", "Git log", "Shows commits")
        );
        assert_eq!(f.params, "max_count How many ");
        assert_eq!(fields_of(&json!(null), "s", "").name, "");
    }

    #[test]
    fn queries_and_limits_are_bounded() {
        assert!(check_query("find a file").is_ok());
        assert!(check_query("  ").unwrap_err().contains("few words"));
        assert!(
            check_query(&"x".repeat(MAX_QUERY + 1))
                .unwrap_err()
                .contains("1024")
        );
        assert_eq!(clamp_limit(None), DEFAULT_LIMIT);
        assert_eq!(clamp_limit(Some(1_000_000_000)), MAX_LIMIT);
        assert_eq!(clamp_limit(Some(3)), 3);
    }
}
