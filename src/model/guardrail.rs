//! A namespace's external guardrails (`"guardrails"`, docs/guides/guardrails.md): HTTP hooks in
//! the shape of SEP-2624's interceptors, called before a `tools/call` is forwarded
//! (`on: request`) and on its result (`on: result`); each either `enforce`s its answer
//! (deny, or mutate the arguments or the result) or only `audit`s it, and on a failure
//! (timeout, error, an answer too large or not understood) fails `open` (the call goes
//! on unchanged) or `closed` (it is refused).
//!
//! Its URL may carry a secret (a token in the query or the userinfo): it is shown and
//! logged only [`redact`]ed, and a redacted URL sent back unchanged keeps the stored one.

use serde_json::{Map, Value, json};

use crate::model::MASK;
use crate::model::invalid::Invalid;

/// The most guardrails one namespace may have.
pub const MAX_GUARDRAILS: usize = 8;
/// `timeout_ms` when none is given.
pub const DEFAULT_TIMEOUT_MS: u32 = 2_000;
/// The longest `timeout_ms`: a call waits at most this long for each guardrail.
pub const MAX_TIMEOUT_MS: u32 = 30_000;
const MAX_URL: usize = 2048;
const FIELDS: &str = "url, on, mode, failure, timeout_ms";

/// One guardrail of a namespace.
#[derive(Clone, PartialEq, Eq)]
pub struct Guardrail {
    /// In clear (it may hold a secret): never logged or returned, see [`Guardrail::name`].
    pub url: String,
    pub on_request: bool,
    pub on_result: bool,
    /// `enforce`: its deny and mutate take effect; `audit`: recorded only.
    pub enforce: bool,
    /// `closed`: a failure refuses the call; `open`: the call goes on unchanged.
    pub fail_closed: bool,
    pub timeout_ms: u32,
}

impl std::fmt::Debug for Guardrail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guardrail")
            .field("url", &self.name())
            .field("on_request", &self.on_request)
            .field("on_result", &self.on_result)
            .field("enforce", &self.enforce)
            .field("fail_closed", &self.fail_closed)
            .field("timeout_ms", &self.timeout_ms)
            .finish()
    }
}

impl Guardrail {
    /// What names it in errors, events and logs: its URL, redacted.
    pub fn name(&self) -> String {
        redact(&self.url)
    }

    fn json_with(&self, url: String) -> Value {
        let mut on = Vec::new();
        if self.on_request {
            on.push("request");
        }
        if self.on_result {
            on.push("result");
        }
        json!({
            "url": url,
            "on": on,
            "mode": if self.enforce { "enforce" } else { "audit" },
            "failure": if self.fail_closed { "closed" } else { "open" },
            "timeout_ms": self.timeout_ms,
        })
    }

    /// The REST form: its URL redacted.
    pub fn public_json(&self) -> Value {
        self.json_with(self.name())
    }

    /// The stored form: its URL in clear.
    pub fn stored_json(&self) -> Value {
        self.json_with(self.url.clone())
    }
}

/// `url` with its userinfo and its query's values replaced by [`MASK`].
pub fn redact(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let host = match authority.rsplit_once('@') {
        Some((_, host)) => format!("{MASK}@{host}"),
        None => authority.to_string(),
    };
    let (path, fragment) = match tail.split_once('#') {
        Some((p, _)) => (p, true),
        None => (tail, false),
    };
    let path = match path.split_once('?') {
        Some((p, query)) => {
            let masked: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, _)) => format!("{k}={MASK}"),
                    None => pair.to_string(),
                })
                .collect();
            format!("{p}?{}", masked.join("&"))
        }
        None => path.to_string(),
    };
    let sep = if scheme.is_empty() { "" } else { "://" };
    let frag = if fragment { "#" } else { "" };
    format!("{scheme}{sep}{host}{path}{frag}")
}

/// The guardrails as stored (`[]` when unreadable entries are skipped: they were
/// validated on write).
pub fn from_stored(v: &Value) -> Vec<Guardrail> {
    v.as_array()
        .map(|items| items.iter().filter_map(|g| one(g, 0, &[]).ok()).collect())
        .unwrap_or_default()
}

/// The stored form of `list`.
pub fn to_stored(list: &[Guardrail]) -> Value {
    Value::Array(list.iter().map(Guardrail::stored_json).collect())
}

/// The `guardrails` field as a client sent it; `existing` gives back the stored URL of a
/// redacted one sent unchanged.
pub fn parse_list(v: &Value, existing: &[Guardrail]) -> Result<Vec<Guardrail>, Invalid> {
    let Value::Array(items) = v else {
        return Err(Invalid::field(
            "guardrails",
            format!("must be an array of objects with {FIELDS}"),
        ));
    };
    if items.len() > MAX_GUARDRAILS {
        return Err(Invalid::field(
            "guardrails",
            format!(
                "at most {MAX_GUARDRAILS} per namespace ({} given)",
                items.len()
            ),
        ));
    }
    let mut out: Vec<Guardrail> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let g = one(item, i, existing)?;
        if out.iter().any(|o| o.url == g.url) {
            return Err(Invalid::field(
                "guardrails",
                format!("[{i}].url: {} is listed twice", g.name()),
            ));
        }
        out.push(g);
    }
    Ok(out)
}

fn bad(i: usize, field: &str, why: impl std::fmt::Display) -> Invalid {
    Invalid::field("guardrails", format!("[{i}].{field}: {why}"))
}

fn one(item: &Value, i: usize, existing: &[Guardrail]) -> Result<Guardrail, Invalid> {
    let Value::Object(m) = item else {
        return Err(Invalid::field(
            "guardrails",
            format!("[{i}] must be an object with {FIELDS}"),
        ));
    };
    if let Some(k) = m
        .keys()
        .find(|k| !matches!(k.as_str(), "url" | "on" | "mode" | "failure" | "timeout_ms"))
    {
        return Err(bad(i, k, format!("unknown (expected {FIELDS})")));
    }
    let url = url(m, i, existing)?;
    let (on_request, on_result) = on(m, i)?;
    let enforce = match m.get("mode").and_then(|v| (!v.is_null()).then_some(v)) {
        None => true,
        Some(v) => match v.as_str() {
            Some("enforce") => true,
            Some("audit") => false,
            _ => return Err(bad(i, "mode", "must be enforce or audit")),
        },
    };
    let fail_closed = match m.get("failure").and_then(|v| (!v.is_null()).then_some(v)) {
        None => true,
        Some(v) => match v.as_str() {
            Some("closed") => true,
            Some("open") => false,
            _ => return Err(bad(i, "failure", "must be open or closed")),
        },
    };
    let timeout_ms = match m
        .get("timeout_ms")
        .and_then(|v| (!v.is_null()).then_some(v))
    {
        None => DEFAULT_TIMEOUT_MS,
        Some(v) => v
            .as_u64()
            .filter(|t| (1..=u64::from(MAX_TIMEOUT_MS)).contains(t))
            .and_then(|t| u32::try_from(t).ok())
            .ok_or_else(|| {
                bad(
                    i,
                    "timeout_ms",
                    format!("must be a whole number of milliseconds from 1 to {MAX_TIMEOUT_MS}"),
                )
            })?,
    };
    Ok(Guardrail {
        url,
        on_request,
        on_result,
        enforce,
        fail_closed,
        timeout_ms,
    })
}

fn url(m: &Map<String, Value>, i: usize, existing: &[Guardrail]) -> Result<String, Invalid> {
    let Some(Value::String(url)) = m.get("url") else {
        return Err(bad(
            i,
            "url",
            "is required: the guardrail's http:// or https:// URL",
        ));
    };
    // A redacted URL sent back (GET → edit → PUT) keeps the stored one.
    if url.contains(MASK)
        && let Some(g) = existing.iter().find(|g| g.name() == *url)
    {
        return Ok(g.url.clone());
    }
    if url.len() > MAX_URL {
        return Err(bad(i, "url", format!("at most {MAX_URL} characters")));
    }
    let uri: hyper::Uri = url
        .parse()
        .map_err(|_| bad(i, "url", "is not a valid URL"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err(bad(i, "url", "must be an http:// or https:// URL"));
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(bad(i, "url", "has no host"));
    }
    if url.contains(MASK) {
        return Err(bad(
            i,
            "url",
            "is a redacted URL that matches no stored guardrail; send the URL in full",
        ));
    }
    Ok(url.clone())
}

fn on(m: &Map<String, Value>, i: usize) -> Result<(bool, bool), Invalid> {
    let why = "must be a non-empty array of \"request\" and \"result\"";
    match m.get("on") {
        None | Some(Value::Null) => Ok((true, true)),
        Some(Value::Array(items)) if !items.is_empty() => {
            let (mut request, mut result) = (false, false);
            for v in items {
                let slot = match v.as_str() {
                    Some("request") => &mut request,
                    Some("result") => &mut result,
                    _ => return Err(bad(i, "on", why)),
                };
                if *slot {
                    return Err(bad(i, "on", "names a phase twice"));
                }
                *slot = true;
            }
            Ok((request, result))
        }
        Some(_) => Err(bad(i, "on", why)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            redact("https://u:secret@guard.example/check?token=abc&x=1#f"),
            format!("https://{MASK}@guard.example/check?token={MASK}&x={MASK}#")
        );
        assert_eq!(redact("http://127.0.0.1:9/x"), "http://127.0.0.1:9/x");
        assert_eq!(redact("http://h?flag"), "http://h?flag");
    }

    #[test]
    fn defaults_and_bounds() {
        let g = parse_list(&json!([{"url": "http://127.0.0.1:1/g"}]), &[]).unwrap();
        assert_eq!(
            g[0].public_json(),
            json!({"url": "http://127.0.0.1:1/g", "on": ["request", "result"],
                   "mode": "enforce", "failure": "closed", "timeout_ms": DEFAULT_TIMEOUT_MS})
        );
        let cases = [
            (json!({}), "guardrails: must be an array"),
            (json!([1]), "[0] must be an object"),
            (json!([{"url": "ftp://h/"}]), "[0].url: must be an http"),
            (json!([{"url": "http://"}]), "[0].url:"),
            (json!([{}]), "[0].url: is required"),
            (
                json!([{"url": "http://h", "on": []}]),
                "[0].on: must be a non-empty",
            ),
            (json!([{"url": "http://h", "on": ["x"]}]), "[0].on: must be"),
            (
                json!([{"url": "http://h", "on": ["result", "result"]}]),
                "twice",
            ),
            (json!([{"url": "http://h", "on": "result"}]), "[0].on:"),
            (
                json!([{"url": "http://h", "mode": "watch"}]),
                "enforce or audit",
            ),
            (json!([{"url": "http://h", "failure": 1}]), "open or closed"),
            (
                json!([{"url": "http://h", "timeout_ms": 0}]),
                "from 1 to 30000",
            ),
            (
                json!([{"url": "http://h", "timeout_ms": 30001}]),
                "from 1 to 30000",
            ),
            (
                json!([{"url": "http://h", "colour": 1}]),
                "[0].colour: unknown",
            ),
            (
                json!([{"url": "http://h"}, {"url": "http://h"}]),
                "listed twice",
            ),
            (
                json!([{"url": format!("http://h/?t={MASK}")}]),
                "redacted URL",
            ),
        ];
        for (v, want) in cases {
            let e = parse_list(&v, &[]).expect_err(&v.to_string());
            assert!(e.message.contains(want), "{v}: {}", e.message);
        }
        let nine: Vec<Value> = (0..9)
            .map(|i| json!({"url": format!("http://h/{i}")}))
            .collect();
        let e = parse_list(&Value::Array(nine), &[]).unwrap_err();
        assert!(e.message.contains("at most 8"), "{}", e.message);
    }

    #[test]
    fn a_redacted_url_sent_back_keeps_the_stored_one() {
        let stored = parse_list(
            &json!([{"url": "https://guard.example/g?token=s3cret", "on": ["result"],
                     "mode": "audit", "failure": "open", "timeout_ms": 50}]),
            &[],
        )
        .unwrap();
        let shown = Value::Array(stored.iter().map(Guardrail::public_json).collect());
        assert!(!shown.to_string().contains("s3cret"));
        assert!(!format!("{stored:?}").contains("s3cret"));
        let back = parse_list(&shown, &stored).unwrap();
        assert_eq!(back, stored);
        assert_eq!(from_stored(&to_stored(&stored)), stored);
        assert!(from_stored(&json!("nonsense")).is_empty());
    }
}
