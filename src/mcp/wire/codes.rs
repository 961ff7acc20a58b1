//! Every JSON-RPC error code the gateway answers with on its own, in each era, in one
//! table ([`OWN`]), and the mapping a client's era needs ([`in_era`], [`data_in_era`]).
//!
//! The 2026-07-28 revision keeps `-32020..-32099` for the specification (it defines
//! `-32020`, `-32021` and `-32022`) and calls `-32000..-32019` legacy. Its clients get the
//! gateway's own errors outside `-32768..-32000`; session-era clients keep the codes they
//! have always had. The errors are built with the session era's codes and mapped where
//! they leave for a client whose era is known. `docs/reference/errors.md` lists the
//! table; a test holds the two to each other.

use serde_json::Value;

/// Over a limit of the caller's key or of the gateway (session era).
pub const LIMITED: i64 = -32029;
/// Refused by a policy, a guardrail or a confirmation (session era).
pub const POLICY_DENIED: i64 = -32003;
/// The backend needs an account or a secret connected first (session era).
pub const UPSTREAM_UNAUTHORIZED: i64 = -32051;
/// The session is unknown, ended or expired (session era only).
pub const SESSION_NOT_FOUND: i64 = -32001;
/// The call needs the user at a URL first (2025-11-25; session era only).
pub const URL_ELICITATION_REQUIRED: i64 = -32042;
/// A request header missing or not matching its body (2026-07-28, the specification's).
pub const HEADER_MISMATCH: i64 = -32020;
/// A request needs a client capability it did not declare (2026-07-28).
pub const MISSING_CAPABILITY: i64 = -32021;
/// A protocol version the gateway does not serve (2026-07-28).
pub const UNSUPPORTED_VERSION: i64 = -32022;

/// The gateway's own codes for 2026-07-28 clients, outside `-32768..-32000`: `-31xxx`,
/// with the session era's last digits.
pub const MODERN_LIMITED: i64 = -31029;
pub const MODERN_POLICY_DENIED: i64 = -31003;
pub const MODERN_UPSTREAM_UNAUTHORIZED: i64 = -31051;

/// One error the gateway answers with, and its code in each era (`None`: never sent in
/// that era).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Own {
    pub name: &'static str,
    pub session: Option<i64>,
    pub modern: Option<i64>,
}

const fn both(name: &'static str, session: i64, modern: i64) -> Own {
    Own {
        name,
        session: Some(session),
        modern: Some(modern),
    }
}

/// Every code the gateway itself can answer with. A backend's own errors pass through as
/// the backend sent them (less the codes [`super::retired`] patches).
pub const OWN: &[Own] = &[
    both("parse error", -32700, -32700),
    both("invalid request", -32600, -32600),
    both("method not found", -32601, -32601),
    both("invalid params", -32602, -32602),
    both("internal error", -32603, -32603),
    both("over a limit", LIMITED, MODERN_LIMITED),
    both("refused by a policy", POLICY_DENIED, MODERN_POLICY_DENIED),
    both(
        "an upstream account needed",
        UPSTREAM_UNAUTHORIZED,
        MODERN_UPSTREAM_UNAUTHORIZED,
    ),
    Own {
        name: "session not found",
        session: Some(SESSION_NOT_FOUND),
        modern: None,
    },
    Own {
        name: "URL elicitation required",
        session: Some(URL_ELICITATION_REQUIRED),
        modern: None,
    },
    Own {
        name: "header mismatch",
        session: None,
        modern: Some(HEADER_MISMATCH),
    },
    Own {
        name: "missing capability",
        session: None,
        modern: Some(MISSING_CAPABILITY),
    },
    Own {
        name: "unsupported protocol version",
        session: None,
        modern: Some(UNSUPPORTED_VERSION),
    },
];

/// The code a client of the era gets for the gateway's own `code` (built with the
/// session era's): a 2026-07-28 client's (`stateless`) is outside `-32768..-32000`
/// where the session era's is a gateway code; every other code is the same in both.
pub fn in_era(code: i64, stateless: bool) -> i64 {
    match (stateless, code) {
        (true, LIMITED) => MODERN_LIMITED,
        (true, POLICY_DENIED) => MODERN_POLICY_DENIED,
        (true, UPSTREAM_UNAUTHORIZED) => MODERN_UPSTREAM_UNAUTHORIZED,
        _ => code,
    }
}

/// The session era's code for either era's `code` (what the audit and the metrics read).
pub fn as_session(code: i64) -> i64 {
    match code {
        MODERN_LIMITED => LIMITED,
        MODERN_POLICY_DENIED => POLICY_DENIED,
        MODERN_UPSTREAM_UNAUTHORIZED => UPSTREAM_UNAUTHORIZED,
        c => c,
    }
}

/// A limit's `data` for the client's era. It is built as the session era has it:
/// `retryAfterMs`, `limit` (the limit's name, as always), `limit_name` (the same), and
/// where known `bound` (the number the limit allows) and `remaining`. A 2026-07-28
/// client gets it as SEP-3304 (`-32023 RateLimited`, a proposal) would read it: `limit`
/// is the number (absent when there is none), `limit_name` names it, and no `bound`.
pub fn data_in_era(code: i64, data: &mut Value, stateless: bool) {
    if !stateless || code != LIMITED {
        return;
    }
    let Some(d) = data.as_object_mut() else {
        return;
    };
    match d.remove("bound") {
        Some(n) => d.insert("limit".into(), n),
        None => d.remove("limit"),
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The codes of the docs' table (`docs/reference/errors.md`): each row's session-era
    /// and 2026-07-28 codes (`—`: none).
    fn documented() -> Vec<(Option<i64>, Option<i64>)> {
        let page = include_str!("../../../docs/reference/errors.md");
        let code = |cell: &str| -> Option<i64> {
            let c = cell.trim().trim_matches('`');
            match c {
                "—" => None,
                _ => Some(c.parse().unwrap_or_else(|_| panic!("not a code: {cell:?}"))),
            }
        };
        page.lines()
            .skip_while(|l| !l.starts_with("| error |"))
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .map(|l| {
                let cells: Vec<&str> = l.split('|').collect();
                (code(cells[2]), code(cells[3]))
            })
            .collect()
    }

    #[test]
    fn the_docs_table_lists_exactly_the_codes_the_gateway_emits() {
        let mut table: Vec<_> = OWN.iter().map(|o| (o.session, o.modern)).collect();
        let mut docs = documented();
        table.sort();
        docs.sort();
        assert_eq!(docs, table, "docs/reference/errors.md against OWN");
        // And every code constant the gateway builds errors with is in the table.
        let rpc = include_str!("rpc.rs");
        let codes = rpc
            .split("pub mod code {")
            .nth(1)
            .and_then(|s| s.split('}').next())
            .expect("rpc.rs's code module");
        let mut seen = 0;
        for line in codes.lines().filter(|l| l.contains("pub const")) {
            let value = line.rsplit('=').next().expect("a value");
            let value = value.trim().trim_end_matches(';');
            let value: i64 = match value.parse() {
                Ok(v) => v,
                // A name of this file's.
                Err(_) => constant(value),
            };
            assert!(
                OWN.iter()
                    .any(|o| o.session == Some(value) || o.modern == Some(value)),
                "{line} is not in OWN"
            );
            seen += 1;
        }
        assert!(seen >= 10, "{seen} codes read from rpc.rs");
    }

    fn constant(path: &str) -> i64 {
        match path.rsplit("::").next().unwrap_or(path) {
            "LIMITED" => LIMITED,
            "POLICY_DENIED" => POLICY_DENIED,
            "UPSTREAM_UNAUTHORIZED" => UPSTREAM_UNAUTHORIZED,
            "SESSION_NOT_FOUND" => SESSION_NOT_FOUND,
            "URL_ELICITATION_REQUIRED" => URL_ELICITATION_REQUIRED,
            "HEADER_MISMATCH" => HEADER_MISMATCH,
            "MISSING_CAPABILITY" => MISSING_CAPABILITY,
            "UNSUPPORTED_VERSION" => UNSUPPORTED_VERSION,
            other => panic!("unknown code {other}"),
        }
    }

    #[test]
    fn the_http_rooms_limit_codes_are_the_tables() {
        assert_eq!(
            crate::http::error::LIMITED_CODES,
            (LIMITED, MODERN_LIMITED),
            "http::error names the limit codes itself (it sits below mcp)"
        );
    }

    #[test]
    fn a_modern_client_gets_no_code_of_the_reserved_ranges_but_the_specs() {
        for o in OWN {
            if let Some(c) = o.modern {
                let reserved = (-32099..=-32000).contains(&c);
                assert!(!reserved || [-32020, -32021, -32022].contains(&c), "{o:?}");
            }
            if let (Some(s), Some(m)) = (o.session, o.modern) {
                assert_eq!(in_era(s, true), m, "{o:?}");
                assert_eq!(in_era(s, false), s, "{o:?}");
                assert_eq!(as_session(m), s, "{o:?}");
            }
        }
    }

    #[test]
    fn a_limits_data_reads_as_sep_3304_for_a_modern_client() {
        let session = json!({"retryAfterMs": 1500, "limit": "daily_calls",
                             "limit_name": "daily_calls", "bound": 30, "remaining": 0});
        let mut modern = session.clone();
        data_in_era(LIMITED, &mut modern, true);
        assert_eq!(
            modern,
            json!({"retryAfterMs": 1500, "limit": 30, "limit_name": "daily_calls", "remaining": 0})
        );
        let mut kept = session.clone();
        data_in_era(LIMITED, &mut kept, false);
        assert_eq!(kept, session);
        let mut unbounded =
            json!({"retryAfterMs": 1000, "limit": "parked", "limit_name": "parked"});
        data_in_era(LIMITED, &mut unbounded, true);
        assert_eq!(
            unbounded,
            json!({"retryAfterMs": 1000, "limit_name": "parked"})
        );
    }
}
