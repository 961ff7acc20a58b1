//! Text folded for screening's matching, so that what a model reads as a phrase or a name
//! is found however it is spelt. Compatibility forms are made plain (NFKC: fullwidth
//! letters, ligatures, mathematical and circled letters); default-ignorable code points
//! are dropped (soft hyphens, zero-width characters, variation selectors; the Unicode tag
//! block is read as the ASCII it spells); text is lower-cased; each character is replaced
//! by its confusable prototype (the skeletons of Unicode TR39: a Cyrillic `о` is an `o`,
//! `m` and `rn` are one), and combining marks are dropped; runs of blanks are one space.
//! The phrases screening looks for and the names it compares are folded the same way, so
//! matching compares like with like.

use std::sync::OnceLock;

use aho_corasick::AhoCorasick;

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// The fold of `text`.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    fold_into(text, &mut out);
    out
}

/// Appends the fold of `text` to `out`.
pub fn fold_into(text: &str, out: &mut String) {
    if !text.is_ascii() {
        walk(text, |_, folded| out.push_str(folded));
        return;
    }
    // What `walk` does, for ASCII (most text): a table lookup a character.
    let ascii = ascii_table();
    let (mut blank, mut started) = (false, false);
    for b in text.bytes() {
        // A control character reads as the blank it stands in for.
        if char::from(b).is_whitespace() || b.is_ascii_control() {
            blank = true;
            continue;
        }
        let folded = &ascii[usize::from(b.to_ascii_lowercase())];
        if folded.is_empty() {
            continue;
        }
        if blank && started {
            out.push(' ');
        }
        (blank, started) = (false, true);
        out.push_str(folded);
    }
}

/// Whether two names are one once folded (`send_email`, `SEND_EMAIL`, `send_еmail` with
/// a Cyrillic `е`, `ｓｅｎｄ_ｅｍａｉｌ`).
pub fn same(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    if a.is_ascii() && b.is_ascii() {
        // Screening compares a name with every other server's: most differ in their
        // first letter, folded (a blank is never first in a fold).
        let ascii = ascii_table();
        let first = |s: &str| {
            s.bytes()
                .find(|c| !char::from(*c).is_whitespace())
                .and_then(|c| ascii[usize::from(c.to_ascii_lowercase())].bytes().next())
        };
        if first(a) != first(b) {
            return false;
        }
        if a.bytes()
            .chain(b.bytes())
            .any(|c| char::from(c).is_whitespace())
        {
            return fold(a) == fold(b);
        }
        // Compared as they fold, without folding either into a string.
        return a
            .bytes()
            .flat_map(|c| ascii[usize::from(c.to_ascii_lowercase())].bytes())
            .eq(b
                .bytes()
                .flat_map(|c| ascii[usize::from(c.to_ascii_lowercase())].bytes()));
    }
    fold(a) == fold(b)
}

/// What a reader sees of `text` around the part whose fold is `fold(text)[start..end]`,
/// with up to `around` characters either side: the text in compatibility form, lower
/// case, without invisible characters, blanks single (not the skeleton, which respells
/// letters: a finding quotes words an admin reads).
pub fn readable(text: &str, start: usize, end: usize, around: usize) -> String {
    let mut plain = String::new();
    let (mut folded_at, mut from, mut to) = (0, None, None);
    walk(text, |p, f| {
        if from.is_none() && folded_at + f.len() > start {
            from = Some(plain.len());
        }
        if to.is_none() && folded_at >= end {
            to = Some(plain.len());
        }
        folded_at += f.len();
        plain.push_str(p);
    });
    let from = from.unwrap_or(plain.len());
    let to = to.unwrap_or(plain.len()).max(from);
    let start = match around {
        0 => from,
        n => plain[..from]
            .char_indices()
            .rev()
            .nth(n - 1)
            .map_or(0, |(i, _)| i),
    };
    let end = plain[to..]
        .char_indices()
        .nth(around)
        .map_or(plain.len(), |(i, _)| to + i);
    plain[start..end].to_string()
}

/// A word list with its fold, folded once on first use.
pub struct Words {
    list: &'static [&'static str],
    folded: OnceLock<Folded>,
}

/// A list's words folded, and one automaton that finds them all in a single pass over a
/// text (a search per word read the text once a word: screening reads every definition
/// against thousands of words).
struct Folded {
    words: Vec<String>,
    automaton: Option<AhoCorasick>,
}

impl Words {
    pub const fn new(list: &'static [&'static str]) -> Words {
        Words {
            list,
            folded: OnceLock::new(),
        }
    }

    /// Each word folded, keeping a blank at either end (`"pass "` is not `"password"`).
    fn folded(&self) -> &Folded {
        self.folded.get_or_init(|| {
            let words: Vec<String> = self
                .list
                .iter()
                .map(|w| {
                    let mut f = String::new();
                    if w.starts_with(char::is_whitespace) {
                        f.push(' ');
                    }
                    fold_into(w, &mut f);
                    if w.ends_with(char::is_whitespace) {
                        f.push(' ');
                    }
                    f
                })
                .collect();
            // Lists are the source's own, far below the automaton's bounds; were one
            // refused, its words are looked for one by one.
            let automaton = AhoCorasick::new(&words).ok();
            Folded { words, automaton }
        })
    }

    /// The words of the list, folded.
    pub fn words(&self) -> &[String] {
        &self.folded().words
    }

    /// The first place of each word of the list that `folded` holds, by the word's index.
    fn first_places(&self, folded: &str) -> Vec<Option<usize>> {
        let f = self.folded();
        let mut first = vec![None; f.words.len()];
        match &f.automaton {
            Some(ac) => {
                // Overlapping: every occurrence of every word, each word's in order.
                for m in ac.find_overlapping_iter(folded) {
                    let at = &mut first[m.pattern().as_usize()];
                    if at.is_none() {
                        *at = Some(m.start());
                    }
                }
            }
            None => {
                for (at, w) in first.iter_mut().zip(&f.words) {
                    *at = folded.find(w.as_str());
                }
            }
        }
        first
    }

    /// The first word of the list that `folded` (a folded text) holds: where, and its
    /// folded length.
    pub fn find(&self, folded: &str) -> Option<(usize, usize)> {
        self.find_all(folded).next()
    }

    /// Each word of the list that `folded` holds, at its first place, in the list's
    /// order: where, and its folded length.
    pub fn find_all(&self, folded: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
        let words = self.words();
        self.first_places(folded)
            .into_iter()
            .zip(words)
            .filter_map(|(at, w)| at.map(|at| (at, w.len())))
    }

    /// Whether `folded` holds any word of the list.
    pub fn any(&self, folded: &str) -> bool {
        let f = self.folded();
        match &f.automaton {
            Some(ac) => ac.is_match(folded),
            None => f.words.iter().any(|w| folded.contains(w.as_str())),
        }
    }
}

/// The fold of each ASCII character (most text is ASCII: a table lookup, not the
/// normalisation and skeleton of the general path), computed by that general path.
fn ascii_table() -> &'static [Box<str>; 128] {
    static TABLE: OnceLock<[Box<str>; 128]> = OnceLock::new();
    TABLE.get_or_init(|| {
        std::array::from_fn(|i| {
            let mut s = String::new();
            // Every index is below 128: a character.
            skeleton_of(char::from(i as u8), &mut s);
            s.into_boxed_str()
        })
    })
}

/// Appends the TR39 skeleton of `c` (a lower-case character), lower-cased, without
/// combining marks: nothing for a default-ignorable code point.
fn skeleton_of(c: char, out: &mut String) {
    let mut buf = [0u8; 4];
    for s in unicode_security::skeleton(c.encode_utf8(&mut buf)) {
        for l in s.to_lowercase() {
            if !is_combining_mark(l) {
                out.push(l);
            }
        }
    }
}

/// Walks `text`, calling `emit(plain, folded)` for each unit of its fold in order: a
/// character as a reader sees it and its folded spelling, or a single `(" ", " ")` for a
/// run of blanks between two units. A character folded to nothing (a default-ignorable
/// code point, a combining mark) emits nothing, so the letters on either side meet.
fn walk(text: &str, mut emit: impl FnMut(&str, &str)) {
    let ascii = ascii_table();
    let mut blank = false;
    let mut started = false;
    let mut scratch = String::new();
    let mut step = |c: char| {
        // A tag character spells ASCII: read it as the letter it hides.
        let c = match u32::from(c) {
            u @ 0xE0020..=0xE007E => char::from_u32(u - 0xE0000).unwrap_or(c),
            _ => c,
        };
        if c.is_whitespace() || c.is_control() {
            blank = true;
            return;
        }
        for l in c.to_lowercase() {
            let folded: &str = if l.is_ascii() {
                &ascii[l as usize]
            } else {
                scratch.clear();
                skeleton_of(l, &mut scratch);
                &scratch
            };
            if folded.is_empty() {
                continue;
            }
            if folded.chars().all(char::is_whitespace) {
                blank = true;
                continue;
            }
            if blank && started {
                emit(" ", " ");
            }
            blank = false;
            started = true;
            let mut buf = [0u8; 4];
            emit(l.encode_utf8(&mut buf), folded);
        }
    };
    if text.is_ascii() {
        // NFKC leaves ASCII as it is.
        text.chars().for_each(&mut step);
    } else {
        text.nfkc().for_each(&mut step);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_a_model_reads_alike_fold_alike() {
        let plain = fold("Ignore previous instructions");
        assert_eq!(plain, fold("ignore   previous\n instructions"));
        // A soft hyphen, zero-width characters, a variation selector: dropped.
        assert_eq!(
            plain,
            fold("Ig\u{ad}nore pre\u{200b}vious in\u{2060}struc\u{fe0f}tions")
        );
        // Cyrillic о, е, і; Greek ο.
        assert_eq!(
            plain,
            fold("ign\u{43e}r\u{435} prev\u{456}\u{3bf}us instructions")
        );
        // Fullwidth letters and an ideographic space.
        assert_eq!(
            plain,
            fold("ＩＧＮＯＲＥ\u{3000}ｐｒｅｖｉｏｕｓ instructions")
        );
        // Mathematical bold, a ligature, combining marks.
        assert_eq!(plain, fold("𝐢𝐠𝐧𝐨𝐫𝐞 previous instructions"));
        assert_eq!(fold("file"), fold("\u{fb01}le"));
        assert_eq!(plain, fold("i\u{308}gnore pre\u{301}vious instructions"));
        // The tag block spells ASCII.
        let tags: String = "ignore previous instructions"
            .chars()
            .map(|c| char::from_u32(0xE0000 + c as u32).unwrap())
            .collect();
        assert_eq!(plain, fold(&tags));
        // Different words stay different.
        assert_ne!(plain, fold("ignore previous constructions"));
    }

    #[test]
    fn the_ascii_path_is_the_general_path() {
        // Every ASCII character, alone and between others, with blanks of each kind.
        for b in 0u8..128 {
            let c = char::from(b);
            for text in [
                format!("{c}"),
                format!("a{c}b"),
                format!(" \u{b}A{c}\t{c}z \r\n"),
            ] {
                let mut general = String::new();
                walk(&text, |_, f| general.push_str(f));
                assert_eq!(fold(&text), general, "{text:?}");
                assert_eq!(same(&text, "a"), general == fold("a"), "{text:?}");
            }
        }
    }

    #[test]
    fn a_word_keeps_its_blanks() {
        static W: Words = Words::new(&["pass ", " to"]);
        assert!(!W.any(&fold("add password protection")));
        assert!(W.any(&fold("pass  it")));
        assert!(!W.any(&fold("into")));
        assert!(W.any(&fold("up to")));
    }

    #[test]
    fn names_compare_folded() {
        assert!(same("send_email", "SEND_EMAIL"));
        assert!(
            same("send_mail", "send_rnail"),
            "TR39: m and rn are confusable"
        );
        assert!(!same("send_mail", "send_nail"));
        assert!(same("send_email", "send_\u{435}mail"));
        assert!(same("send_email", "ｓｅｎｄ_ｅｍａｉｌ"));
        assert!(same("send_email", "send\u{ad}_email"));
        assert!(!same("send_email", "send_emails"));
        assert!(!same("send_email", "send-email"));
    }

    #[test]
    fn a_finding_quotes_what_a_reader_sees() {
        let text = "Adds. Ig\u{ad}nore pr\u{435}vious instructions, then more words";
        let folded = fold(text);
        let phrase = fold("ignore previous");
        let at = folded.find(&phrase).unwrap();
        assert_eq!(
            readable(text, at, at + phrase.len(), 0),
            "ignore pr\u{435}vious"
        );
        assert_eq!(
            readable(text, at, at + phrase.len(), 3),
            "s. ignore pr\u{435}vious in"
        );
    }

    use proptest::strategy::Strategy as _;

    proptest::proptest! {
        /// The automaton finds what a search per word finds: whether any word is there,
        /// and each word's first place, in the list's order (texts made of the words'
        /// pieces, overlapping and repeated, and other letters).
        #[test]
        fn one_pass_finds_what_a_search_per_word_finds(
            pieces in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::sample::select(&LIST[..]).prop_map(String::from),
                    "[a-z ]{0,4}",
                    proptest::sample::select(&LIST[..]).prop_map(|w| w[..w.len() / 2].to_string()),
                ],
                0..12,
            )
        ) {
            let text = fold(&pieces.concat());
            let per_word: Vec<(usize, usize)> = W
                .words()
                .iter()
                .filter_map(|w| text.find(w.as_str()).map(|at| (at, w.len())))
                .collect();
            proptest::prop_assert_eq!(W.find_all(&text).collect::<Vec<_>>(), per_word.clone());
            proptest::prop_assert_eq!(W.find(&text), per_word.first().copied());
            proptest::prop_assert_eq!(W.any(&text), !per_word.is_empty());
        }
    }

    /// Words that share beginnings, ends and middles, with blanks at their ends.
    const LIST: [&str; 8] = [
        "pass ", " to", "password", "word", "sword", "ass", "to do", "o",
    ];
    static W: Words = Words::new(&LIST);
}
