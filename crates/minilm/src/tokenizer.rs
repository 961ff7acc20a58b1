//! BERT's uncased WordPiece tokenizer, as all-MiniLM-L6-v2 was trained with it: text
//! cleaned (control characters dropped, whitespace made spaces), lower-cased, accents
//! taken off Latin letters, CJK ideographs and punctuation cut into words of their own,
//! then each word cut greedily into the longest pieces the vocabulary has (`##` marks a
//! piece inside a word); a word that cannot be cut is `[UNK]`.

use std::collections::HashMap;

/// A word longer than this (in characters) is `[UNK]`, as in BERT.
const MAX_WORD_CHARS: usize = 100;

pub struct Tokenizer {
    ids: HashMap<Box<str>, u32>,
    pub(crate) cls: u32,
    pub(crate) sep: u32,
    unk: u32,
}

impl Tokenizer {
    /// The vocabulary: one piece a line, its id its line number.
    pub fn from_vocab(vocab: &str) -> Result<Tokenizer, String> {
        let ids: HashMap<Box<str>, u32> = vocab
            .lines()
            .enumerate()
            .map(|(i, w)| (Box::from(w.trim_end_matches('\r')), i as u32))
            .collect();
        let id = |w: &str| {
            ids.get(w)
                .copied()
                .ok_or_else(|| format!("the vocabulary has no {w}"))
        };
        Ok(Tokenizer {
            cls: id("[CLS]")?,
            sep: id("[SEP]")?,
            unk: id("[UNK]")?,
            ids,
        })
    }

    /// Pieces in the vocabulary.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The pieces of `text` (without `[CLS]`/`[SEP]`), at most `max`.
    pub fn encode(&self, text: &str, max: usize) -> Vec<u32> {
        let mut out = Vec::new();
        let mut word = String::new();
        for c in text.chars() {
            if out.len() >= max {
                break;
            }
            if c == '\0' || c == '\u{fffd}' || (c.is_control() && !c.is_whitespace()) {
                continue;
            }
            if c.is_whitespace() {
                self.word(&mut word, &mut out);
            } else if is_punctuation(c) || is_cjk(c) {
                self.word(&mut word, &mut out);
                word.push(c);
                self.word(&mut word, &mut out);
            } else {
                for l in c.to_lowercase() {
                    if let Some(base) = unaccented(l) {
                        word.push(base);
                    } else if !is_combining(l) {
                        word.push(l);
                    }
                }
            }
        }
        self.word(&mut word, &mut out);
        out.truncate(max);
        out
    }

    /// Cuts `word` into pieces onto `out`, and empties it.
    fn word(&self, word: &mut String, out: &mut Vec<u32>) {
        if word.is_empty() {
            return;
        }
        if word.chars().count() > MAX_WORD_CHARS {
            out.push(self.unk);
            word.clear();
            return;
        }
        let start_len = out.len();
        let mut start = 0;
        let mut piece = String::with_capacity(word.len() + 2);
        while start < word.len() {
            let mut end = word.len();
            let mut found = None;
            while end > start {
                piece.clear();
                if start > 0 {
                    piece.push_str("##");
                }
                piece.push_str(&word[start..end]);
                if let Some(&id) = self.ids.get(piece.as_str()) {
                    found = Some(id);
                    break;
                }
                end = prev_boundary(word, end);
            }
            match found {
                Some(id) => {
                    out.push(id);
                    start = end;
                }
                None => {
                    out.truncate(start_len);
                    out.push(self.unk);
                    break;
                }
            }
        }
        word.clear();
    }
}

/// The char boundary before `end` in `s`.
fn prev_boundary(s: &str, end: usize) -> usize {
    let mut e = end - 1;
    while !s.is_char_boundary(e) {
        e -= 1;
    }
    e
}

/// BERT's punctuation: ASCII non-alphanumeric printables, and Unicode punctuation (taken
/// here as any other character that is neither a letter, a digit, a mark nor a space).
fn is_punctuation(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_punctuation();
    }
    matches!(c, '\u{2000}'..='\u{206f}' | '\u{3000}'..='\u{303f}' | '\u{ff00}'..='\u{ff0f}'
        | '\u{ff1a}'..='\u{ff20}' | '\u{ff3b}'..='\u{ff40}' | '\u{ff5b}'..='\u{ff65}'
        | '\u{a1}'..='\u{bf}' | '\u{d7}' | '\u{f7}')
}

/// CJK ideographs, each a word of its own.
fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0x20000..=0x2A6DF | 0x2A700..=0x2B73F
        | 0x2B740..=0x2B81F | 0x2B820..=0x2CEAF | 0xF900..=0xFAFF | 0x2F800..=0x2FA1F)
}

/// Combining marks (what NFD leaves after a base letter), dropped as BERT drops them.
fn is_combining(c: char) -> bool {
    matches!(c as u32, 0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF)
}

/// A lower-case Latin letter with an accent, as its base letter (what NFD then dropping
/// marks gives); `None` for any other character.
fn unaccented(c: char) -> Option<char> {
    const FROM: &str =
        "àáâãäåāăąçćĉċčďèéêëēĕėęěĝğġģĥìíîïĩīĭįĵķĺļľñńņňòóôõöōŏőŕŗřśŝşšţťùúûüũūŭůűųŵýÿŷźżž";
    const TO: &str =
        "aaaaaaaaacccccdeeeeeeeeegggghiiiiiiiijklllnnnnoooooooorrrssssttuuuuuuuuuuwyyyzzz";
    let at = FROM.chars().position(|f| f == c)?;
    TO.chars().nth(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab() -> Tokenizer {
        let words = [
            "[PAD]", "[UNK]", "[CLS]", "[SEP]", "git", "##hub", "branch", "e", "-", "mail",
            "emission", "'", "t", "don", "un", "##want", "##ed", ",", "中",
        ];
        Tokenizer::from_vocab(&words.join("\n")).unwrap()
    }

    #[test]
    fn words_are_cut_into_the_longest_pieces() {
        let t = vocab();
        assert_eq!(t.encode("GitHub branch", 64), vec![4, 5, 6]);
        assert_eq!(t.encode("unwanted,", 64), vec![14, 15, 16, 17]);
        assert_eq!(t.encode("e-mail", 64), vec![7, 8, 9]);
        assert_eq!(t.encode("Don't", 64), vec![13, 11, 12]);
    }

    #[test]
    fn accents_go_unknown_words_are_unk_and_the_length_is_bounded() {
        let t = vocab();
        assert_eq!(t.encode("Émission", 64), vec![10]);
        assert_eq!(t.encode("zzz git", 64), vec![1, 4]);
        assert_eq!(t.encode("中中", 64), vec![18, 18]);
        assert_eq!(t.encode(&"git ".repeat(1000), 8).len(), 8);
        assert_eq!(t.encode(&"g".repeat(200), 8), vec![1]);
        assert_eq!(t.encode("\u{0}\u{7}git\u{fffd}", 8), vec![4]);
        assert!(t.encode("", 8).is_empty());
    }
}
