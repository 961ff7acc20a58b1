//! Member names as Go's `encoding/json` matches them: without regard to case, under
//! Unicode's simple case folding.
//!
//! Go decodes a member into a struct field whose name is equal to the member's, or, if
//! none is, equal to it when both are folded: ASCII letters by case, every other
//! character to the smallest character of its `unicode.SimpleFold` orbit (the classes of
//! the `C` and `S` lines of Unicode's `CaseFolding.txt`). So `ARGUMENTS`, `Arguments` and
//! `argumentſ` (U+017F LONG S folds to `s`, U+212A KELVIN SIGN to `k`) are all read as
//! `arguments` by a Go backend (mcp-go, the Go SDK before CVE-2026-27896), and every
//! member that folds to a field's name is decoded into it, the last one winning.
//!
//! [`key`] gives one character for each class without tables of its own: the simple
//! upper case, then the simple lower case (`char::to_uppercase`/`to_lowercase` where they
//! give one character), with the few characters whose class that misses named. The tests
//! hold it to the classes of `CaseFolding.txt` for every character.

use std::borrow::Cow;

/// The one character of `it`, if it has exactly one.
fn one(mut it: impl Iterator<Item = char>) -> Option<char> {
    let c = it.next()?;
    it.next().is_none().then_some(c)
}

/// The character `c` is compared as: equal for two characters exactly when they are in
/// one class of simple case folding.
pub fn key(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    match c {
        // Dotted capital I and dotless small i fold only under Turkic or full folding:
        // each is a class of its own.
        '\u{130}' | '\u{131}' => return c,
        // Capital sharp s folds to sharp s, whose upper case is two letters.
        '\u{1e9e}' => return '\u{df}',
        // Pairs whose upper case is three (or two) letters: one class each.
        '\u{1fd3}' => return '\u{390}',
        '\u{1fe3}' => return '\u{3b0}',
        '\u{fb05}' => return '\u{fb06}',
        _ => {}
    }
    let upper = one(c.to_uppercase()).unwrap_or(c);
    one(upper.to_lowercase()).unwrap_or(upper)
}

/// Whether Go's `encoding/json` takes `a` and `b` for one name.
pub fn equal(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    let (mut x, mut y) = (a.chars(), b.chars());
    loop {
        match (x.next(), y.next()) {
            (None, None) => return true,
            (Some(p), Some(q)) if key(p) == key(q) => {}
            _ => return false,
        }
    }
}

/// `name` with each character replaced by its [`key`]: two names are one to Go exactly
/// when these are equal. Borrowed when nothing changes (ASCII without capitals).
pub fn folded(name: &str) -> Cow<'_, str> {
    if name
        .bytes()
        .all(|b| b.is_ascii() && !b.is_ascii_uppercase())
    {
        return Cow::Borrowed(name);
    }
    Cow::Owned(name.chars().map(key).collect())
}

/// The name of `known` that `name` is taken for by Go's reader without being it
/// (`Arguments` for `arguments`); `None` when it is one of them exactly, or none.
///
/// Cheap for what a request carries: names of `known` are ASCII, so a name taken for
/// one has as many characters, each of one to three bytes (`ſ` is two, `K` three);
/// others are passed over by their length before a character is compared.
pub fn twin_of(name: &str, known: &[&'static str]) -> Option<&'static str> {
    known.iter().copied().find(|k| {
        name.len() >= k.len() && name.len() <= 3 * k.len() && name != *k && equal(name, k)
    })
}

#[cfg(test)]
pub(crate) mod tests;
