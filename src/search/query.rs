//! A need as the search reads it. People and agents state a need with its situation and
//! its argument values: "Open /home/dana/config/settings.toml and show me what's in it",
//! "let #releases know that v4 shipped", "open PRs in kubernetes/kubernetes on GitHub".
//! A value says what kind of thing the tool takes (a file, a channel, a repository), but
//! its own words mislead: `kubernetes/kubernetes` is a repository, not the Kubernetes
//! server, and `search_results.json` is a file, not a search. So each value is replaced by
//! the word for its kind ([`typed`]): a path by "file path" or "directory path", a URL
//! by "URL web page", `owner/repo` by "repository", `#name` by "channel", `#123` by
//! "number", `@name` by "user", an e-mail address by "email address", `name.ext` by
//! "file", a quoted string by "text"; versions and other numbers are dropped. A long need
//! is also read clause by clause ([`clauses`]): the ask is often one clause of several.

/// Most clauses of a need embedded besides the whole (each costs a query's embedding).
pub const MAX_CLAUSES: usize = 4;

/// `need` with each argument value replaced by the word for its kind.
pub fn typed(need: &str) -> String {
    let mut out = String::with_capacity(need.len());
    let mut rest = need;
    while let Some(start) = rest.find(|c: char| !c.is_whitespace()) {
        rest = &rest[start..];
        let end = token_end(rest);
        let token = &rest[..end];
        rest = &rest[end..];
        let kept = kind_of(token);
        if kept.is_empty() {
            continue;
        }
        if !out.is_empty() && !kept.starts_with([',', '.', ';', ':', '!', '?']) {
            out.push(' ');
        }
        out.push_str(&kept);
    }
    out
}

/// Where the token at the start of `s` ends: a quoted string to its closing quote, else
/// the next white space.
fn token_end(s: &str) -> usize {
    let space = s.find(char::is_whitespace).unwrap_or(s.len());
    let Some(q) = s.chars().next().filter(|c| matches!(c, '"' | '`' | '\'')) else {
        return space;
    };
    match s[1..].find(q) {
        // A closing quote followed by the end, white space or punctuation.
        Some(i)
            if s[1 + i + 1..]
                .chars()
                .next()
                .is_none_or(|c| c.is_whitespace() || ",.;:!?)".contains(c)) =>
        {
            let after = 1 + i + 1;
            after
                + s[after..]
                    .find(char::is_whitespace)
                    .unwrap_or(s.len() - after)
        }
        _ => space,
    }
}

/// A token as the search reads it: itself, the word for its kind with its punctuation,
/// or nothing.
fn kind_of(token: &str) -> String {
    let lead = token.len() - token.trim_start_matches(['(', '[', '{', '<']).len();
    let body = &token[lead..];
    let core = body.trim_end_matches([')', ']', '}', '>', '.', ',', ';', ':', '!', '?']);
    let trail = &body[core.len()..];
    let quoted = core.len() >= 2
        && matches!(core.as_bytes()[0], b'"' | b'`' | b'\'')
        && core.as_bytes()[core.len() - 1] == core.as_bytes()[0];
    let kind = match quoted {
        true => Some("text".to_string()),
        false => value_kind(core),
    };
    match kind.as_deref() {
        None => token.to_string(),
        Some("") => trail.to_string(),
        Some(k) => format!("{}{k}{trail}", &token[..lead]),
    }
}

/// The word for a value's kind, `Some("")` for a value that says nothing (a version, a
/// number), `None` for an ordinary word.
fn value_kind(v: &str) -> Option<String> {
    if v.is_empty() {
        return None;
    }
    let lower = v.to_ascii_lowercase();
    let scheme = lower.find("://").is_some_and(|i| {
        i > 0
            && lower[..i]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+.-".contains(&b))
    });
    if scheme || lower.starts_with("www.") {
        return Some("URL web page".into());
    }
    if let Some((user, host)) = v.split_once('@')
        && !user.is_empty()
        && host.contains('.')
        && !host.starts_with('.')
    {
        return Some("email address".into());
    }
    if let Some(name) = v.strip_prefix('#')
        && !name.is_empty()
    {
        return Some(match name.bytes().all(|b| b.is_ascii_digit()) {
            true => "number".into(),
            false => "channel".into(),
        });
    }
    if v.len() > 1 && v.starts_with('@') {
        return Some("user".into());
    }
    let windows = v.len() > 2 && v.as_bytes()[1] == b':' && v.as_bytes()[2] == b'\\';
    if v.starts_with('/')
        || v.starts_with("~/")
        || v.starts_with("./")
        || v.starts_with("../")
        || windows
    {
        let last = v.trim_end_matches(['/', '\\']).rsplit(['/', '\\']).next();
        return Some(
            match last.and_then(extension).filter(|_| !v.ends_with('/')) {
                Some(ext) => format!("{ext} file path"),
                None => "directory path".into(),
            },
        );
    }
    if v.contains('/') {
        let simple = v.split('/').count() == 2
            && v.split('/').all(|p| {
                !p.is_empty()
                    && p.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            });
        return Some(match simple && extension(v).is_none() {
            true => "repository".into(),
            false => "path".into(),
        });
    }
    if let Some(ext) = extension(v)
        && !["e.g", "i.e", "etc"].contains(&lower.as_str())
    {
        return Some(format!("{ext} file"));
    }
    let digit = v.bytes().any(|b| b.is_ascii_digit());
    if digit && v.len() >= 10 && v.as_bytes()[4] == b'-' && v.as_bytes()[7] == b'-' {
        return Some("date".into());
    }
    if digit && !plain_number(&lower) {
        return Some("".into());
    }
    if v.contains(['=', '~', '\\', '`']) {
        return Some("".into());
    }
    None
}

/// The extension of `name.ext`, lower-cased: a dot inside, the part after the last one
/// of 1 to 8 letters and digits starting with a letter (a version's digits are none).
/// It stays in the need: a `.pdf` or a `.png` says which tool fits.
fn extension(v: &str) -> Option<String> {
    let (name, ext) = v.rsplit_once('.')?;
    let is = !name.is_empty()
        && (1..=8).contains(&ext.len())
        && ext.as_bytes()[0].is_ascii_alphabetic()
        && ext.bytes().all(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    is.then(|| ext.to_ascii_lowercase())
}

/// A number as people write one in a sentence ("3", "5th", "10am", "20%"): a word.
fn plain_number(v: &str) -> bool {
    let digits = v.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0
        && [
            "", "st", "nd", "rd", "th", "s", "am", "pm", "h", "m", "ms", "kb", "mb", "gb", "px",
            "%",
        ]
        .contains(&&v[digits..])
}

/// The clauses of a (typed) need with two words or more, when it has more than one, at
/// most [`MAX_CLAUSES`]: cut at the end of a sentence, a semicolon, a colon, a dash
/// between words, and ", so" / ", then" / ", but".
pub fn clauses(need: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let b = need.as_bytes();
    for (i, c) in need.char_indices() {
        let after = &need[i..];
        let cut = match c {
            '.' | ';' | '!' | '?' | ':' => b.get(i + 1).is_none_or(u8::is_ascii_whitespace),
            ',' => [", so ", ", then ", ", and then ", ", but "]
                .iter()
                .any(|c| after.starts_with(c)),
            '—' | '–' | '-' => {
                i > 0 && b[i - 1] == b' ' && after[c.len_utf8()..].starts_with(' ')
            }
            _ => false,
        };
        if cut {
            out.push(&need[start..i]);
            start = i + c.len_utf8();
        }
    }
    out.push(&need[start..]);
    let mut out: Vec<&str> = out
        .into_iter()
        .map(|c| c.trim_matches(|c: char| c.is_whitespace() || "—–-,".contains(c)))
        .filter(|c| c.split_whitespace().count() >= 2)
        .collect();
    if out.len() < 2 {
        return Vec::new();
    }
    out.truncate(MAX_CLAUSES);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_become_the_word_for_their_kind() {
        for (need, read) in [
            (
                "Open /home/dana/config/settings.toml and show me what's in it.",
                "Open toml file path and show me what's in it.",
            ),
            (
                "let #releases know that v4 shipped",
                "let channel know that shipped",
            ),
            (
                "Leave a note on issue #311 in acme/payments-api saying the fix shipped in v2.3.1.",
                "Leave a note on issue number in repository saying the fix shipped in.",
            ),
            (
                "Open search_results.json in /tmp/crawler/ please",
                "Open json file in directory path please",
            ),
            (
                "Load https://shop.example.com/cart in the browser",
                "Load URL web page in the browser",
            ),
            (
                "drag the card 'Fix VAT' into the In progress column",
                "drag the card text into the In progress column",
            ),
            (
                "What time is it in Tokyo at 3pm?",
                "What time is it in Tokyo at 3pm?",
            ),
            (
                "mail bob@example.com about the 2026-11-03 outage, e.g. the cause",
                "mail email address about the date outage, e.g. the cause",
            ),
            (
                "ping @dana (in C:\\work\\x)",
                "ping user (in directory path)",
            ),
            ("read ~/notes/todo.md", "read md file path"),
        ] {
            assert_eq!(typed(need), read, "{need}");
        }
        assert_eq!(typed(""), "");
        assert_eq!(typed("   "), "");
        assert_eq!(typed("\"unclosed quote here"), "\"unclosed quote here");
        assert_eq!(typed("a.b/c.d/e"), "path");
    }

    #[test]
    fn a_long_need_is_read_clause_by_clause() {
        assert_eq!(
            clauses(
                "We are debugging checkout; the logs are in file path — pull the last part of that file."
            ),
            [
                "We are debugging checkout",
                "the logs are in file path",
                "pull the last part of that file"
            ]
        );
        assert!(clauses("create a branch on github").is_empty());
        assert!(
            clauses("one. two").is_empty(),
            "clauses of one word are no clauses"
        );
        let many = "a b. c d. e f. g h. i j. k l.";
        assert_eq!(clauses(many).len(), MAX_CLAUSES);
        assert_eq!(
            clauses("first part, so then second part"),
            ["first part", "so then second part"]
        );
    }

    #[test]
    fn hostile_text_is_read_without_panic() {
        for s in [
            "'",
            "\"\"",
            "#",
            "@",
            "/",
            "a@",
            "@.",
            "x://",
            "é/ü.ß",
            "–",
            "—— —",
            ". . .",
        ] {
            let _ = typed(s);
            let _ = clauses(s);
        }
        let long = "/a".repeat(10_000);
        assert_eq!(typed(&long), "directory path");
    }
}
