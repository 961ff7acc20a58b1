//! The path of a skill's file as a client names it: the part of a URI after the skill's
//! folder, read once the way a server that resolves paths may read it, or refused.
//!
//! The gateway routes a read by the skill whose folder is a prefix of the URI, and
//! forwards the rest to that skill's server as it came. A server that decodes the rest,
//! takes a backslash for a separator, or resolves `..` would otherwise serve a file of
//! another skill (one the namespace switched off) under a URI that passed the prefix
//! check. So the rest is percent-decoded once and refused when, read any way a server
//! might, it could leave the folder: a dot segment (`.`, `..`, however encoded), an
//! encoded slash or backslash, a backslash, a `%25` (a second decoding could make a dot
//! or a separator of what follows), an empty segment (`//`: an absolute path to a
//! joining server), a query or fragment (a URL parser would resolve the path before it),
//! a control character, a malformed escape, bytes that are not UTF-8 once decoded, or a
//! character a normalising server reads as a dot or a slash (fullwidth forms and the
//! like). What passes cannot name anything outside the folder, whatever the server does
//! with it (the property test below resolves accepted paths as such servers would).

/// Why the rest of a skill file's URI is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    MalformedEscape,
    EncodedSeparator,
    DoubleEncoding,
    NotUtf8,
    Backslash,
    DotSegment,
    EmptySegment,
    QueryOrFragment,
    Control,
    LookAlike,
    /// Not a file the skill's manifest lists (checked by the caller).
    NotListed,
}

impl Refusal {
    /// The reason, as a client reads it.
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::MalformedEscape => "it has a malformed percent-escape",
            Refusal::EncodedSeparator => "it has an encoded slash or backslash (%2F, %5C)",
            Refusal::DoubleEncoding => {
                "it has an encoded percent sign (%25), which a second decoding could make a dot or a separator"
            }
            Refusal::NotUtf8 => "it is not UTF-8 once percent-decoded",
            Refusal::Backslash => "it has a backslash, which some servers take for a separator",
            Refusal::DotSegment => "it has a dot segment (. or .., however encoded)",
            Refusal::EmptySegment => "it has an empty segment (//)",
            Refusal::QueryOrFragment => "it has a query or fragment (? or #)",
            Refusal::Control => "it has a control character",
            Refusal::LookAlike => {
                "it has a character a normalising server may read as a dot or a slash"
            }
            Refusal::NotListed => "it is not a file the skill's manifest lists",
        }
    }

    /// A short name for the error's `data`.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::MalformedEscape => "malformed_escape",
            Refusal::EncodedSeparator => "encoded_separator",
            Refusal::DoubleEncoding => "double_encoding",
            Refusal::NotUtf8 => "not_utf8",
            Refusal::Backslash => "backslash",
            Refusal::DotSegment => "dot_segment",
            Refusal::EmptySegment => "empty_segment",
            Refusal::QueryOrFragment => "query_or_fragment",
            Refusal::Control => "control_character",
            Refusal::LookAlike => "look_alike",
            Refusal::NotListed => "not_listed",
        }
    }
}

/// Characters that NFKC or a lenient server maps to a dot.
const DOT_LIKE: [char; 5] = ['\u{2024}', '\u{2025}', '\u{2026}', '\u{FE52}', '\u{FF0E}'];
/// Characters that NFKC or a lenient server maps to a slash or a backslash.
const SLASH_LIKE: [char; 6] = [
    '\u{2215}', '\u{2216}', '\u{FE68}', '\u{FF0F}', '\u{FF3C}', '\u{29F5}',
];

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `rest` percent-decoded once, refusing escapes of a separator or of `%` itself.
fn decode_once(rest: &str) -> Result<String, Refusal> {
    let b = rest.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let (Some(h), Some(l)) = (
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            ) else {
                return Err(Refusal::MalformedEscape);
            };
            let c = h << 4 | l;
            match c {
                b'/' | b'\\' => return Err(Refusal::EncodedSeparator),
                b'%' => return Err(Refusal::DoubleEncoding),
                _ => out.push(c),
            }
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| Refusal::NotUtf8)
}

/// Checks `rest`, the part of a URI after its skill's folder: empty (the folder itself)
/// or `/` and the path within it.
pub fn check(rest: &str) -> Result<(), Refusal> {
    if rest.is_empty() {
        return Ok(());
    }
    let decoded = decode_once(rest)?;
    for c in decoded.chars() {
        match c {
            '\\' => return Err(Refusal::Backslash),
            '?' | '#' => return Err(Refusal::QueryOrFragment),
            c if c.is_control() => return Err(Refusal::Control),
            c if DOT_LIKE.contains(&c) || SLASH_LIKE.contains(&c) => {
                return Err(Refusal::LookAlike);
            }
            _ => {}
        }
    }
    let mut segments = decoded.split('/');
    // `rest` begins at a `/` (the folder is a prefix up to one).
    if segments.next() != Some("") {
        return Err(Refusal::EmptySegment);
    }
    let segments: Vec<&str> = segments.collect();
    for (i, s) in segments.iter().enumerate() {
        if s.is_empty() {
            // A trailing `/` names the same folder.
            if i + 1 == segments.len() {
                continue;
            }
            return Err(Refusal::EmptySegment);
        }
        // `.`, `..`, and what Windows trims to them (`...`, `.. `).
        if s.trim().chars().all(|c| c == '.') {
            return Err(Refusal::DotSegment);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_issue_s_examples_are_refused() {
        for (rest, why) in [
            ("/../secret/SKILL.md", Refusal::DotSegment),
            ("/%2e%2e/secret/SKILL.md", Refusal::DotSegment),
            ("/%2E%2E%2Fsecret/SKILL.md", Refusal::EncodedSeparator),
            ("/..%2fsecret/SKILL.md", Refusal::EncodedSeparator),
            ("/..\\secret\\SKILL.md", Refusal::Backslash),
            ("/..%5csecret%5cSKILL.md", Refusal::EncodedSeparator),
            ("/%252e%252e/secret", Refusal::DoubleEncoding),
            ("/./SKILL.md", Refusal::DotSegment),
            ("/.%2e/x", Refusal::DotSegment),
            ("/.../x", Refusal::DotSegment),
            ("/..?x", Refusal::QueryOrFragment),
            ("/x#/../..", Refusal::QueryOrFragment),
            ("//etc/passwd", Refusal::EmptySegment),
            ("/a%00.md", Refusal::Control),
            ("/a%zz", Refusal::MalformedEscape),
            ("/a%2", Refusal::MalformedEscape),
            ("/%c0%ae%c0%ae/x", Refusal::NotUtf8),
            ("/\u{FF0E}\u{FF0E}/x", Refusal::LookAlike),
            ("x", Refusal::EmptySegment),
        ] {
            assert_eq!(check(rest), Err(why), "{rest}");
        }
        for rest in [
            "",
            "/",
            "/SKILL.md",
            "/references/FORMS.md",
            "/references/",
            "/my%20file.md",
            "/.hidden",
            "/a..b",
            "/v1.2/x.tar.gz",
        ] {
            assert_eq!(check(rest), Ok(()), "{rest}");
        }
    }

    /// Pieces a hostile URI is made of: names, dots, separators, and their encodings
    /// in either case, once and twice.
    fn piece() -> impl Strategy<Value = String> {
        let fixed = prop::sample::select(vec![
            "a",
            "SKILL.md",
            "secret",
            "pdf",
            ".",
            "..",
            "...",
            ".hidden",
            "/",
            "\\",
            "%2f",
            "%2F",
            "%5c",
            "%5C",
            "%2e",
            "%2E",
            "%2e%2e",
            ".%2e",
            "%2E.",
            "%25",
            "%252e",
            "%252E%252e",
            "%252f",
            "%25252e",
            "%%32%65",
            "%%32%66",
            "%2",
            "%",
            "?",
            "#",
            "%3f",
            "%23",
            "%00",
            "%0a",
            " ",
            "%20",
            "\u{FF0E}",
            "\u{FF0F}",
            "%ef%bc%8e",
            "%c0%ae",
            ";",
            ":",
            "~",
            "%7e",
        ])
        .prop_map(str::to_string);
        prop_oneof![4 => fixed, 1 => "[a-z.%/\\\\]{1,4}"]
    }

    /// Percent-decodes every escape it can (a server's decoding, any number of times).
    fn decode_all(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            match (
                b[i],
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            ) {
                (b'%', Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                }
                (c, _, _) => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// How a path-resolving server may read `path` (the owner's URI after its scheme):
    /// `decodes` times percent-decoded, backslashes and look-alikes as separators or
    /// dots, cut at a query or fragment when `url`, then `.` and `..` resolved. `None`
    /// when it climbs above the root.
    fn resolved(path: &str, decodes: usize, url: bool) -> Option<Vec<String>> {
        let cut = |p: String| match url {
            true => p.split(['?', '#']).next().unwrap_or_default().to_string(),
            false => p,
        };
        let mut p = cut(path.to_string());
        for _ in 0..decodes {
            p = cut(decode_all(&p));
        }
        let p: String = p
            .chars()
            .map(|c| match c {
                '\\' => '/',
                c if SLASH_LIKE.contains(&c) => '/',
                c if DOT_LIKE.contains(&c) => '.',
                c => c,
            })
            .collect();
        let segments: Vec<&str> = p.split('/').collect();
        let mut out: Vec<String> = Vec::new();
        for (i, s) in segments.iter().enumerate() {
            let dots = s.trim();
            if s.is_empty() {
                // A trailing `/` is the same folder; `//` elsewhere, the root again.
                if i + 1 < segments.len() {
                    out.clear();
                }
            } else if dots == "." {
            } else if !dots.is_empty() && dots.chars().all(|c| c == '.') {
                out.pop()?;
            } else {
                out.push(s.to_string());
            }
        }
        Some(out)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// Any rest the gateway accepts, forwarded after the owner's folder `pdf`, stays
        /// inside `pdf` however a server reads it; and the examples that step out are
        /// refused (the generator reaches them: the refusals are counted).
        #[test]
        fn an_accepted_path_stays_inside_its_skill(pieces in prop::collection::vec(piece(), 0..8)) {
            let rest = format!("/{}", pieces.concat());
            if check(&rest).is_ok() {
                let own = format!("pdf{rest}");
                for decodes in 0..3 {
                    for url in [false, true] {
                        let r = resolved(&own, decodes, url);
                        prop_assert!(
                            r.as_ref().is_some_and(|r| r.first().map(String::as_str) == Some("pdf")),
                            "{rest:?} read as {r:?} ({decodes} decodings, url: {url})"
                        );
                    }
                }
            }
        }
    }

    /// The reference resolver does step out where the gateway refuses (so the property
    /// above is not vacuous).
    #[test]
    fn the_reference_resolver_steps_out() {
        for (rest, decodes) in [
            ("/../secret/SKILL.md", 0),
            ("/%2e%2e/secret/SKILL.md", 1),
            ("/%252e%252e/secret", 2),
            ("/..\\secret", 0),
            ("/\u{FF0E}\u{FF0E}/secret", 0),
        ] {
            let r = resolved(&format!("pdf{rest}"), decodes, false);
            assert!(
                r.is_none_or(|r| r.first().map(String::as_str) != Some("pdf")),
                "{rest}"
            );
            assert!(check(rest).is_err(), "{rest}");
        }
    }
}
