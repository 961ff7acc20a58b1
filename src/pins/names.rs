//! A tool named like another server's: what an agent picking a tool by name would take
//! for the other one. The same name exactly is two servers doing the same thing (GitHub's
//! and GitLab's `create_issue`): a finding the review shows, held only when the two could
//! take each other's place in a client's view ([`super::screen`]). What holds at once is a
//! name that is *not* the other's but reads as it: spelt alike once folded (`SEND_EMAIL`,
//! a Cyrillic `е`), the same words in another style (`sendEmail`, `send-email`), one
//! letter apart (`send_emails`, `sned_email`, `read_fiIe`), or the other's name with the
//! other server's name or a version word around it (`mail_send_email`, `send_email_v2`).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use super::fold;

/// Names squashed already (screening compares each name with every other server's, at
/// every definition screened); at most this many are kept, then the cache starts over.
const CACHED: usize = 16 * 1024;

thread_local! {
    static SQUASHED: RefCell<HashMap<Box<str>, Rc<str>>> = RefCell::new(HashMap::new());
}

/// [`squashed`], remembered.
fn squashed_cached(name: &str) -> Rc<str> {
    SQUASHED.with(|cache| {
        if let Some(s) = cache.borrow().get(name) {
            return s.clone();
        }
        let s: Rc<str> = squashed(name).into();
        let mut cache = cache.borrow_mut();
        if cache.len() >= CACHED {
            cache.clear();
        }
        cache.insert(name.into(), s.clone());
        s
    })
}

/// Words around another tool's name that make a copy of it pass for a newer or the
/// official one.
const AFFIXES: &[&str] = &[
    "new", "latest", "official", "real", "secure", "safe", "fixed", "updated", "pro", "plus",
    "fast", "faster", "better", "enhanced", "advanced", "improved", "v", "tool", "mcp", "api",
    "now", "verified", "trusted", "original", "main", "default", "stable", "beta", "next",
];

/// A name's letters and digits, folded, without separators: `sendEmail`, `send-email`
/// and `send_email` are one.
pub fn squashed(name: &str) -> String {
    fold::fold(name)
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect()
}

/// A name's words: split at separators and where lower case meets upper (`sendEmail`).
fn words(name: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if !c.is_alphanumeric() {
            prev_lower = false;
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            continue;
        }
        if c.is_uppercase() && prev_lower && !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        current.push(c);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out.into_iter().map(|w| squashed(&w)).collect()
}

/// How a name is written: `_`, `-`, camel case (`sendEmail`), or one word.
fn style(name: &str) -> Option<char> {
    if name.contains('_') {
        Some('_')
    } else if name.contains('-') {
        Some('-')
    } else if name
        .chars()
        .zip(name.chars().skip(1))
        .any(|(a, b)| a.is_lowercase() && b.is_uppercase())
    {
        Some('A')
    } else {
        None
    }
}

/// Whether `name` is written as its server writes its other tools' names (`own`, the
/// server's list): `getUserSubmissions` beside `getStories` is that server's style, not a
/// disguise of another server's `get-user-submissions`.
fn in_own_style(name: &str, own: &[&str]) -> bool {
    let Some(mine) = style(name) else {
        return false;
    };
    let styled: Vec<char> = own
        .iter()
        .filter(|o| **o != name)
        .filter_map(|o| style(o))
        .collect();
    !styled.is_empty() && styled.iter().all(|s| *s == mine)
}

/// How `name` (a tool of a server whose list is `own`) reads as `other` (a tool of
/// server `server`) without being it; `None` when it does not, or when it is `other`
/// exactly.
pub fn look_alike(name: &str, other: &str, server: &str, own: &[&str]) -> Option<&'static str> {
    if name == other {
        return None;
    }
    if fold::same(name, other) {
        return Some("spelt alike");
    }
    let (a, b) = (squashed_cached(name), squashed_cached(other));
    if a.is_empty() || b.is_empty() {
        return None;
    }
    if a == b {
        return (!in_own_style(name, own)).then_some("the same words in another style");
    }
    if a.len().abs_diff(b.len()) <= 4
        && a.chars().count().min(b.chars().count()) >= 8
        && one_apart(&a, &b)
    {
        return Some("one letter apart");
    }
    // The other's name with words around it: its letters are in this one's.
    if a.len() <= b.len() || !a.contains(&*b) {
        return None;
    }
    let (theirs, mine) = (words(other), words(name));
    if theirs.len() >= 2 && mine.len() > theirs.len() {
        let server_words = words(server);
        for at in 0..=mine.len() - theirs.len() {
            if mine[at..at + theirs.len()] != theirs[..] {
                continue;
            }
            let extra = mine[..at].iter().chain(&mine[at + theirs.len()..]);
            if extra.clone().all(|w| {
                AFFIXES.contains(&w.as_str())
                    || w.chars().all(|c| c.is_ascii_digit())
                    || (w.starts_with('v') && w[1..].chars().all(|c| c.is_ascii_digit()))
                    || server_words.contains(w)
                    || squashed(server) == *w
            }) {
                return Some("the other's name with a word around it");
            }
        }
    }
    None
}

/// Letters a reader takes for one another (beyond what folding makes one).
const CONFUSED: &[[char; 2]] = &[
    ['i', 'l'],
    ['l', '1'],
    ['i', '1'],
    ['o', '0'],
    ['e', 'c'],
    ['u', 'v'],
];

/// Whether `a` and `b` are one edit apart: a letter added, dropped, changed for one a
/// reader takes for it, or two neighbours swapped (a letter changed for another a reader
/// tells apart is another word: `search_notes`, `search_nodes`).
fn one_apart(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let (short, long) = if a.len() <= b.len() {
        (&a, &b)
    } else {
        (&b, &a)
    };
    match long.len() - short.len() {
        0 => {
            let diff: Vec<usize> = (0..short.len()).filter(|&i| short[i] != long[i]).collect();
            match diff[..] {
                [i] => CONFUSED
                    .iter()
                    .any(|p| p.contains(&short[i]) && p.contains(&long[i]) && short[i] != long[i]),
                [i, j] => j == i + 1 && short[i] == long[j] && short[j] == long[i],
                _ => false,
            }
        }
        1 => {
            let i = (0..short.len())
                .find(|&i| short[i] != long[i])
                .unwrap_or(short.len());
            short[i..] == long[i + 1..]
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_alikes_of_send_email_are_found() {
        for name in [
            "SEND_EMAIL",
            "s\u{435}nd_email",
            "sendEmail",
            "send-email",
            "SendEmail",
            "send_emails",
            "sned_email",
            "mail_send_email",
            "send_email_v2",
            "sendEmailNew",
        ] {
            assert!(
                look_alike(name, "send_email", "mail", &[name, "get_weather"]).is_some(),
                "{name} reads as send_email"
            );
        }
        assert!(look_alike("read_fiIe", "read_file", "files", &[]).is_some());
    }

    #[test]
    fn the_same_name_and_other_names_are_not_look_alikes() {
        assert_eq!(look_alike("send_email", "send_email", "mail", &[]), None);
        // Another word, one letter apart; a server's own style.
        assert_eq!(
            look_alike("search_notes", "search_nodes", "memory", &[]),
            None
        );
        let hn = ["getStories", "getUserSubmissions"];
        assert_eq!(
            look_alike("getUserSubmissions", "get-user-submissions", "x", &hn),
            None
        );
        for (name, other) in [
            ("get_file_contents", "get_file"),
            ("create_issue_comment", "create_issue"),
            ("list_issues", "list_pull_requests"),
            ("send_message", "send_email"),
            ("get_user", "get_users"),
        ] {
            assert_eq!(
                look_alike(name, other, "github", &[]),
                None,
                "{name} / {other}"
            );
        }
    }
}
