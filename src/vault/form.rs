//! `application/x-www-form-urlencoded`: token requests and authorization URLs are
//! written in it, and callbacks read from it.

/// `k=v&…`, every byte but the unreserved ones percent-encoded.
pub fn encode(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        component(&mut out, k);
        out.push('=');
        component(&mut out, v);
    }
    out
}

/// One component (a path segment or a query value), every byte but the unreserved ones
/// percent-encoded.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    component(&mut out, s);
    out
}

fn component(out: &mut String, s: &str) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

/// The pairs of a query string or form body (`+` is a space); `None` when one does not
/// decode to UTF-8.
pub fn pairs(s: &str) -> Option<Vec<(String, String)>> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Some((decode(k)?, decode(v)?))
        })
        .collect()
}

/// One percent-encoded component (`+` is a space); `None` when it is not UTF-8.
pub fn decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_what_urls_and_forms_carry() {
        let s = encode(&[
            ("redirect_uri", "https://gw/oauth/callback?x=1"),
            ("scope", "a b"),
        ]);
        assert_eq!(
            s,
            "redirect_uri=https%3A%2F%2Fgw%2Foauth%2Fcallback%3Fx%3D1&scope=a%20b"
        );
        assert_eq!(
            pairs(&s).unwrap(),
            vec![
                (
                    "redirect_uri".into(),
                    "https://gw/oauth/callback?x=1".into()
                ),
                ("scope".into(), "a b".into())
            ]
        );
        assert_eq!(pairs("a=b+c&d").unwrap()[0].1, "b c");
        assert!(pairs("a=%ff%fe").is_none());
        assert!(pairs("a=%4").is_none());
    }
}
