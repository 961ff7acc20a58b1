//! `${VAR}` references in a server's `env` and `headers` values: stored as written (an
//! imported `mcpServers` file keeps them), expanded from the gateway's own environment
//! when the backend is started, so a secret can live in the deployment rather than in
//! the database.
//!
//! `${VAR}` and `${VAR:-default}` are expanded; `$$` is a literal `$`; any other `$` is
//! kept. The gateway's own secrets and settings (`DATABASE_URL`, `JWT_SECRET`,
//! `ENCRYPTION_KEY`, `METAMCP_*`, `OTEL_*`) are never handed to a backend.

use std::borrow::Cow;

/// A reference that cannot be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefError {
    #[error("${{{0}}} is not set in the gateway's environment")]
    Unset(String),
    #[error("${{{0}}} names one of the gateway's own settings, which backends never receive")]
    Reserved(String),
    #[error("an unclosed or empty ${{…}} reference")]
    Malformed,
}

/// Whether a variable is the gateway's own (never expanded into a backend's settings).
pub fn is_reserved(name: &str) -> bool {
    matches!(name, "DATABASE_URL" | "JWT_SECRET" | "ENCRYPTION_KEY")
        || name.starts_with("METAMCP_")
        || name.starts_with("OTEL_")
}

fn valid_name(name: &str) -> bool {
    name.bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// One piece of a value: literal text, or a reference with its default.
#[derive(Debug, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Ref(&'a str, Option<&'a str>),
}

fn pieces(value: &str) -> Result<Vec<Piece<'_>>, RefError> {
    let mut out = Vec::new();
    let mut rest = value;
    while let Some(at) = rest.find('$') {
        let after = &rest[at + 1..];
        if let Some(next) = after.strip_prefix('$') {
            out.push(Piece::Text(&rest[..at + 1]));
            rest = next;
            continue;
        }
        let Some(body) = after.strip_prefix('{') else {
            out.push(Piece::Text(&rest[..at + 1]));
            rest = after;
            continue;
        };
        let end = body.find('}').ok_or(RefError::Malformed)?;
        let inner = &body[..end];
        let (name, default) = match inner.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (inner, None),
        };
        if !valid_name(name) {
            return Err(RefError::Malformed);
        }
        out.push(Piece::Text(&rest[..at]));
        out.push(Piece::Ref(name, default));
        rest = &body[end + 1..];
    }
    out.push(Piece::Text(rest));
    Ok(out)
}

/// Whether a value holds any `${…}` reference.
pub fn has_reference(value: &str) -> bool {
    pieces(value).is_ok_and(|p| p.iter().any(|p| matches!(p, Piece::Ref(..))))
}

/// Checks a stored value's references without expanding them: malformed or reserved
/// ones are refused when a server is written, not when it starts.
pub fn check(value: &str) -> Result<(), RefError> {
    for p in pieces(value)? {
        if let Piece::Ref(name, _) = p
            && is_reserved(name)
        {
            return Err(RefError::Reserved(name.to_string()));
        }
    }
    Ok(())
}

/// Whether a value can be shown as it is stored: references with no default, and at
/// most an authorization scheme around them (`Bearer ${TOKEN}`). Anything else may hold
/// a secret and is masked.
pub fn is_shareable(value: &str) -> bool {
    let Ok(pieces) = pieces(value) else {
        return false;
    };
    let mut text = String::new();
    let mut refs = 0;
    for p in &pieces {
        match p {
            Piece::Text(t) => text.push_str(t),
            Piece::Ref(_, None) => refs += 1,
            Piece::Ref(_, Some(_)) => return false,
        }
    }
    refs > 0
        && ["", "bearer ", "basic ", "token "]
            .iter()
            .any(|s| text.eq_ignore_ascii_case(s))
}

/// Expands every reference with `lookup` (the process environment in production).
pub fn expand<'a>(
    value: &'a str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Cow<'a, str>, RefError> {
    if !value.contains('$') {
        return Ok(Cow::Borrowed(value));
    }
    let mut out = String::with_capacity(value.len());
    for p in pieces(value)? {
        match p {
            Piece::Text(t) => out.push_str(t),
            Piece::Ref(name, default) => {
                if is_reserved(name) {
                    return Err(RefError::Reserved(name.to_string()));
                }
                match (lookup(name).filter(|v| !v.is_empty()), default) {
                    (Some(v), _) => out.push_str(&v),
                    (None, Some(d)) => out.push_str(d),
                    (None, None) => return Err(RefError::Unset(name.to_string())),
                }
            }
        }
    }
    Ok(Cow::Owned(out))
}

/// Expands a map's values from the process environment; the error names the entry.
pub fn expand_map(
    what: &str,
    map: &std::collections::BTreeMap<String, String>,
) -> Result<std::collections::BTreeMap<String, String>, String> {
    map.iter()
        .map(|(k, v)| {
            expand(v, |n| std::env::var(n).ok())
                .map(|e| (k.clone(), e.into_owned()))
                .map_err(|e| format!("{what} {k}: {e}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "TOKEN" => Some("s3cret".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands_references_defaults_and_dollars() {
        assert_eq!(expand("plain", env).unwrap(), "plain");
        assert_eq!(expand("Bearer ${TOKEN}", env).unwrap(), "Bearer s3cret");
        assert_eq!(expand("${MISSING:-x}-${TOKEN}", env).unwrap(), "x-s3cret");
        assert_eq!(expand("${EMPTY:-fallback}", env).unwrap(), "fallback");
        assert_eq!(expand("$$5 and $HOME", env).unwrap(), "$5 and $HOME");
        assert_eq!(
            expand("${MISSING}", env),
            Err(RefError::Unset("MISSING".into()))
        );
        assert_eq!(
            expand("${JWT_SECRET}", |_| Some("x".into())),
            Err(RefError::Reserved("JWT_SECRET".into()))
        );
        assert_eq!(expand("${TOKEN", env), Err(RefError::Malformed));
        assert_eq!(expand("${}", env), Err(RefError::Malformed));
        assert_eq!(expand("${1A}", env), Err(RefError::Malformed));
    }

    #[test]
    fn only_bare_references_are_shareable() {
        assert!(is_shareable("${TOKEN}"));
        assert!(is_shareable("Bearer ${TOKEN}"));
        assert!(is_shareable("${A}${B}"));
        assert!(!is_shareable("sk-live-123"));
        assert!(!is_shareable("sk-${TOKEN}"));
        assert!(!is_shareable("${TOKEN:-sk-live-123}"));
        assert!(!is_shareable("Bearer abc"));
        assert!(has_reference("x${A}") && !has_reference("$A"));
        assert!(check("${METAMCP_DATA_DIR}").is_err() && check("${GITHUB_TOKEN}").is_ok());
        assert!(
            expand_map(
                "env",
                &[("A".to_string(), "${NOPE_NOT_SET_9}".to_string())].into()
            )
            .unwrap_err()
            .contains("env A: ${NOPE_NOT_SET_9}")
        );
    }
}
