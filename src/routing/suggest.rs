//! Names a client may have meant when it calls a tool its view does not have
//! ([`View::unknown_tool`]): the view's tools whose name after the server prefix
//! (`<server>__`) is the one given (`get_current_time` → `time__get_current_time`), then
//! those a few edits away, nearest first. The unknown tool's error carries them, in its
//! message and as `data.suggestions`, and names `search_tools` when the view is searched.

use serde_json::json;

use super::View;
use super::search::SEARCH_TOOLS;

/// At most this many names are suggested.
const MAX_SUGGESTIONS: usize = 3;

/// Names longer than this are not compared by edit distance (valid names have 64
/// characters at most; the bound keeps a hostile name's cost small).
const MAX_COMPARED: usize = 128;

/// Why an unknown tool's name was refused, and what was probably meant.
pub struct Unknown {
    pub message: String,
    pub data: serde_json::Value,
}

impl View {
    /// The names of its tools (the backends' and the gateway's own) nearest `name`, best
    /// first: a name that is `name` once its server prefix is off (or that differs only in
    /// case) before one a few edits away.
    pub fn suggest(&self, name: &str) -> Vec<&str> {
        let wanted = name.to_ascii_lowercase();
        let wanted_bare = without_prefix(&wanted);
        let mut scored: Vec<(usize, &str)> = self
            .tools
            .iter()
            .map(|t| t.name.as_str())
            .chain(self.served.iter().map(|s| s.name.as_str()))
            .filter_map(|candidate| {
                let lower = candidate.to_ascii_lowercase();
                let bare = without_prefix(&lower);
                if lower == wanted || bare == wanted || bare == wanted_bare {
                    return Some((0, candidate));
                }
                let d = near(&wanted, &lower).or_else(|| near(wanted_bare, bare))?;
                Some((d, candidate))
            })
            .collect();
        scored.sort();
        scored.truncate(MAX_SUGGESTIONS);
        scored.into_iter().map(|(_, n)| n).collect()
    }

    /// The error for a call of `name`, which this view does not have: the names it
    /// probably meant, and in a searched view where tools are found.
    pub fn unknown_tool(&self, name: &str) -> Unknown {
        let suggestions = self.suggest(name);
        let mut message = format!("unknown tool {name:?}");
        if !suggestions.is_empty() {
            let quoted: Vec<String> = suggestions.iter().map(|s| format!("`{s}`")).collect();
            message.push_str(&format!(": did you mean {}?", quoted.join(" or ")));
        }
        if self.search {
            message.push_str(&format!(
                " `{SEARCH_TOOLS}` finds this endpoint's tools by what they do; call one by \
                 the name it gives"
            ));
        } else if suggestions.is_empty() {
            message.push_str(": tools/list gives this endpoint's tool names");
        }
        let mut data = json!({"suggestions": suggestions});
        if self.search {
            data["search"] = json!(SEARCH_TOOLS);
        }
        Unknown { message, data }
    }
}

/// A name without its `<server>__` prefix.
fn without_prefix(name: &str) -> &str {
    name.split_once("__").map_or(name, |(_, rest)| rest)
}

/// The edit distance between `a` and `b` when it is small for names of their length
/// (at most a third of the longer, and at least 1 allowed), else `None`; the score is the
/// distance plus one, so an exact suffix match (0) comes first.
fn near(a: &str, b: &str) -> Option<usize> {
    if a.is_empty() || b.is_empty() || a.len() > MAX_COMPARED || b.len() > MAX_COMPARED {
        return None;
    }
    let allowed = (a.len().max(b.len()) / 3).max(1);
    if a.len().abs_diff(b.len()) > allowed {
        return None;
    }
    let d = levenshtein(a.as_bytes(), b.as_bytes());
    (d <= allowed).then_some(d + 1)
}

/// Levenshtein distance over bytes (names are ASCII), two rows.
fn levenshtein(a: &[u8], b: &[u8]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = prev[j] + usize::from(ca != cb);
            cur[j + 1] = substitution.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(levenshtein(b"kitten", b"sitting"), 3);
        assert_eq!(levenshtein(b"", b"abc"), 3);
        assert_eq!(levenshtein(b"same", b"same"), 0);
        assert_eq!(near("get_current_tme", "get_current_time"), Some(2));
        assert_eq!(near("echo", "sleep"), None);
        assert_eq!(without_prefix("time__get_current_time"), "get_current_time");
        assert_eq!(without_prefix("echo"), "echo");
    }
}
