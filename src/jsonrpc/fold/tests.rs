//! [`key`] against Go's rule, written from its documentation and `encoding/json`'s
//! `foldName`: an ASCII letter folds to its capital, any other character to the smallest
//! character of its simple case folding orbit (`unicode.SimpleFold`), the orbits being
//! the classes of the `C` and `S` lines of `CaseFolding.txt` (read here from
//! regex-syntax's copy of that table).

use std::collections::HashMap;

use regex_syntax::hir::{ClassUnicode, ClassUnicodeRange};

use super::*;

/// Go's fold of one character: `foldName`'s ASCII rule, else the orbit's smallest.
pub(crate) fn go_fold_char(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_uppercase();
    }
    let mut class = ClassUnicode::new([ClassUnicodeRange::new(c, c)]);
    class.case_fold_simple();
    class.iter().map(|r| r.start()).min().unwrap_or(c).min(c)
}

/// Go's `foldName` of a whole name.
pub(crate) fn go_fold(name: &str) -> String {
    name.chars().map(go_fold_char).collect()
}

#[test]
fn every_character_is_keyed_by_its_simple_folding_class() {
    // Go folds a and b to one character exactly when key(a) == key(b). Going one way,
    // every class of the table is one key (nothing Go reads as one name is missed);
    // going the other, a key is one class, but for the pairs Unicode 17 gave case
    // (std's tables are newer than the reference's 16.0), which the key joins: Go
    // readers built on Unicode 17 fold them, so they count as one name too.
    let unicode_17 = |c: char| matches!(c as u32, 0xA7CB..=0xA7DC | 0x16EA0..=0x16EDF);
    let mut by_fold: HashMap<char, char> = HashMap::new();
    let mut by_key: HashMap<char, Vec<char>> = HashMap::new();
    let mut missed = Vec::new();
    for c in (0..=0x10ffffu32).filter_map(char::from_u32) {
        let (k, g) = (key(c), go_fold_char(c));
        if *by_fold.entry(g).or_insert(k) != k {
            missed.push(format!("U+{:04X}", c as u32));
        }
        let folds = by_key.entry(k).or_default();
        if !folds.contains(&g) {
            folds.push(g);
        }
    }
    assert!(missed.is_empty(), "classes split: {missed:?}");
    let joined: Vec<_> = by_key
        .values()
        .filter(|folds| folds.len() > 1)
        .filter(|folds| !folds.iter().all(|&g| unicode_17(g)))
        .collect();
    assert!(joined.is_empty(), "classes joined: {joined:?}");
}

#[test]
fn the_characters_that_matter_fold_as_go_folds_them() {
    for (c, to) in [
        ('\u{17f}', 's'),  // LONG S
        ('\u{212a}', 'k'), // KELVIN SIGN
        ('\u{212b}', 'å'), // ANGSTROM SIGN
        ('\u{1e9e}', 'ß'), // CAPITAL SHARP S
        ('ς', 'σ'),        // final sigma
        ('\u{345}', 'ι'),  // COMBINING GREEK YPOGEGRAMMENI
    ] {
        assert_eq!(key(c), key(to), "U+{:04X}", c as u32);
        assert_eq!(go_fold_char(c), go_fold_char(to), "U+{:04X}", c as u32);
    }
    // Full or Turkic folding only: Go keeps them apart, and so does the key.
    for (c, not) in [
        ('\u{130}', 'i'),
        ('\u{131}', 'i'),
        ('ß', 's'),
        ('\u{149}', 'n'),
    ] {
        assert_ne!(key(c), key(not), "U+{:04X}", c as u32);
        assert_ne!(go_fold_char(c), go_fold_char(not), "U+{:04X}", c as u32);
    }
}

#[test]
fn names_go_takes_for_one_are_equal_and_twins_of_the_known() {
    let known = ["arguments", "name", "_meta"];
    for name in [
        "ARGUMENTS",
        "Arguments",
        "argumentſ",
        "aRgUmEnTs",
        "NAME",
        "_META",
        "_Meta",
    ] {
        let twin = twin_of(name, &known).expect(name);
        assert_eq!(go_fold(name), go_fold(twin), "{name}");
        assert!(equal(name, twin) && folded(name) == folded(twin), "{name}");
    }
    for name in [
        "arguments",
        "name",
        "argument",
        "argumentss",
        "nam",
        "ıd",
        "meta",
        "árguments",
    ] {
        assert_eq!(twin_of(name, &known), None, "{name}");
    }
    assert!(equal("\u{212a}ey", "KEY") && !equal("key", "keys"));
    assert_eq!(folded("plain_name"), Cow::Borrowed("plain_name"));
}
