//! The text of a tool's or prompt's definition that screening reads: every string a
//! client receives, at any depth (names, titles, descriptions, enum values, defaults,
//! examples, member names such as property names), in document order, each folded
//! ([`super::fold`]). The read is bounded: at most [`MAX_SCREENED`] bytes of text and
//! [`MAX_DEPTH`] levels of nesting. A definition with more says so ([`Text::too_deep`],
//! [`Text::too_large`]) and screening holds it: what was not read was not screened.

use serde_json::Value;

use super::fold;

/// At most this many bytes of a definition's strings are read.
pub const MAX_SCREENED: usize = 64 * 1024;
/// Containers nested this deep in a definition are not read.
pub const MAX_DEPTH: usize = 64;

/// A definition's text, read and folded.
pub struct Text<'a> {
    /// Each string read, as it is (the last one perhaps cut at the bound), and where its
    /// fold starts in `folded`.
    parts: Vec<(usize, &'a str)>,
    /// The fold of every part, each followed by a line break: a phrase or a sentence is
    /// matched within one string (the fold of a string has no line break of its own).
    pub folded: String,
    /// The definition nests containers with content past [`MAX_DEPTH`].
    pub too_deep: bool,
    /// The definition's strings exceed [`MAX_SCREENED`] bytes.
    pub too_large: bool,
    read: usize,
}

impl<'a> Text<'a> {
    /// Reads every string of `definition`, within the bounds.
    pub fn of(definition: &'a Value) -> Text<'a> {
        let mut text = Text {
            parts: Vec::new(),
            folded: String::new(),
            too_deep: false,
            too_large: false,
            read: 0,
        };
        text.walk(definition, 0);
        text
    }

    /// Reads `v`, a value `depth` containers deep; stops at the bound of text.
    fn walk(&mut self, v: &'a Value, depth: usize) {
        match v {
            Value::String(s) => self.push(s),
            Value::Object(m) if !m.is_empty() => {
                if depth >= MAX_DEPTH {
                    self.too_deep = true;
                    return;
                }
                for (k, v) in m {
                    if self.too_large {
                        return;
                    }
                    self.push(k);
                    self.walk(v, depth + 1);
                }
            }
            Value::Array(a) if !a.is_empty() => {
                if depth >= MAX_DEPTH {
                    self.too_deep = true;
                    return;
                }
                for v in a {
                    if self.too_large {
                        return;
                    }
                    self.walk(v, depth + 1);
                }
            }
            _ => {}
        }
    }

    /// Reads one string, within what is left of [`MAX_SCREENED`] (cut at a character
    /// boundary: one 1 MiB description is not read whole).
    fn push(&mut self, s: &'a str) {
        if s.is_empty() || self.too_large {
            return;
        }
        let room = MAX_SCREENED - self.read;
        let mut end = s.len().min(room);
        if end < s.len() {
            self.too_large = true;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
        }
        let part = &s[..end];
        self.read += part.len();
        self.parts.push((self.folded.len(), part));
        fold::fold_into(part, &mut self.folded);
        self.folded.push('\n');
    }

    /// Each string read, as it is.
    pub fn parts(&self) -> impl Iterator<Item = &'a str> + Clone + '_ {
        self.parts.iter().map(|(_, s)| *s)
    }

    /// Every character read, as it is.
    pub fn chars(&self) -> impl Iterator<Item = char> + '_ {
        self.parts.iter().flat_map(|(_, s)| s.chars())
    }

    /// What a reader sees around `folded[at..at + len]` (within one string), with up to
    /// `around` characters either side.
    pub fn quote(&self, at: usize, len: usize, around: usize) -> String {
        let i = self.parts.partition_point(|(start, _)| *start <= at);
        let Some((start, part)) = i.checked_sub(1).and_then(|i| self.parts.get(i)) else {
            return String::new();
        };
        fold::readable(part, at - start, at - start + len, around)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_string_and_member_name_is_read() {
        let d = json!({"name": "t", "inputSchema": {"properties": {"the_key": {
            "enum": ["E1", 2, "E3"], "default": "D", "examples": [["X"]], "pattern": "P"}}}});
        let t = Text::of(&d);
        let mut lines: Vec<&str> = t.folded.lines().collect();
        lines.sort_unstable();
        let mut want: Vec<String> = [
            "name",
            "t",
            "inputSchema",
            "properties",
            "the_key",
            "enum",
            "E1",
            "E3",
            "default",
            "D",
            "examples",
            "X",
            "pattern",
            "P",
        ]
        .iter()
        .map(|s| fold::fold(s))
        .collect();
        want.sort_unstable();
        assert_eq!(lines, want);
        assert!(!t.too_deep && !t.too_large);
        // A quote comes from the string it is in.
        let at = t.folded.find(&fold::fold("the_key")).unwrap();
        assert_eq!(t.quote(at, "the_key".len(), 5), "the_key");
    }

    #[test]
    fn nesting_and_size_past_the_bounds_are_said() {
        let mut deep = json!("x");
        for _ in 0..MAX_DEPTH {
            deep = json!([deep]);
        }
        let t = Text::of(&deep);
        assert!(!t.too_deep, "{MAX_DEPTH} levels are read");
        assert!(t.folded.contains('x'));
        let deeper = json!([deep]);
        assert!(Text::of(&deeper).too_deep);
        // Empty containers hold nothing unread.
        let mut empty = json!({});
        for _ in 0..2 * MAX_DEPTH {
            empty = json!({"k": empty});
        }
        assert!(Text::of(&empty).too_deep);
        let large = json!({"a": "é".repeat(MAX_SCREENED)});
        let t = Text::of(&large);
        assert!(t.too_large);
        assert!(t.read <= MAX_SCREENED && t.read >= MAX_SCREENED - 1);
        let bound = json!({"a": "x".repeat(MAX_SCREENED - 1)});
        assert!(
            !Text::of(&bound).too_large,
            "exactly the bound is read whole"
        );
    }
}
