//! The audit trail's read side, shared by `GET /api/v1/audit`, `GET /api/v1/usage` and
//! keyadm: filtered pages newest first with a cursor, and usage per tool computed from
//! the rows (exact, not sampled).

use deadpool_postgres::Pool;
use serde_json::{Value, json};
use tokio_postgres::types::ToSql;

use crate::store::db::DbError;

/// Most entries in one page.
pub const MAX_LIMIT: i64 = 1000;
/// Entries in a page when no limit is given.
pub const DEFAULT_LIMIT: i64 = 100;

/// The outcomes a call row can have.
pub const OUTCOMES: [&str; 8] = [
    "ok",
    "tool_error",
    "rpc_error",
    "timeout",
    "unavailable",
    "refused",
    "cancelled",
    "denied",
];

/// The longest duration back a filter may name (`36500d`): further back than any
/// retention, and within what PostgreSQL's intervals hold.
pub const MAX_AGO: std::time::Duration = std::time::Duration::from_secs(100 * 365 * 86_400);
/// The longest name a filter may give, in bytes (stored names are cut at 1,024).
pub const MAX_NAME: usize = 4096;
/// Cursor times PostgreSQL can hold: 0001-01-01 to 9999-12-31, in microseconds since the
/// epoch.
const CURSOR_RANGE: std::ops::RangeInclusive<i64> =
    -62_135_596_800_000_000..=253_402_300_799_999_999;

/// A point in time as a filter gives it: an RFC 3339 time, or a duration before now
/// (`24h`, `30d`).
#[derive(Debug, Clone, PartialEq)]
pub enum When {
    At(String),
    Ago(std::time::Duration),
}

impl When {
    /// Parses `2026-11-22T10:00:00Z` (RFC 3339) or `24h`.
    pub fn parse(s: &str) -> Result<When, String> {
        let s = s.trim();
        if is_rfc3339(s) {
            return Ok(When::At(s.to_string()));
        }
        match crate::config::parse_duration(s) {
            Ok(d) if d <= MAX_AGO => Ok(When::Ago(d)),
            Ok(_) => Err(format!(
                "{s:?} is too far back (at most {}d)",
                MAX_AGO.as_secs() / 86_400
            )),
            Err(_) => Err(format!(
                "expected an RFC 3339 time (years 0001 to 9999) or a duration like 24h, got {s:?}"
            )),
        }
    }

    /// This point as SQL over parameter `$n` (pushed onto `args`).
    fn sql(&self, args: &mut Vec<Box<dyn ToSql + Sync + Send>>) -> String {
        match self {
            When::At(t) => {
                args.push(Box::new(t.clone()));
                format!("${}::text::timestamptz", args.len())
            }
            When::Ago(d) => {
                args.push(Box::new(d.as_secs_f64()));
                format!("now() - make_interval(secs => ${})", args.len())
            }
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, checked by shape and ranges.
fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        b.get(r.clone())
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    let num = |r: std::ops::Range<usize>| {
        std::str::from_utf8(&b[r])
            .ok()
            .and_then(|t| t.parse::<u32>().ok())
            .unwrap_or(99)
    };
    if b.len() < 20
        || !(digits(0..4) && b[4] == b'-' && digits(5..7) && b[7] == b'-' && digits(8..10))
        || !matches!(b[10], b'T' | b't' | b' ')
        || !(digits(11..13) && b[13] == b':' && digits(14..16) && b[16] == b':' && digits(17..19))
    {
        return false;
    }
    let (year, month) = (num(0..4), num(5..7));
    if year == 0 {
        // Year zero does not exist in PostgreSQL's (proleptic Gregorian, AD) calendar.
        return false;
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if !(1..=12).contains(&month)
        || !(1..=days).contains(&num(8..10))
        || num(11..13) > 23
        || num(14..16) > 59
        || num(17..19) > 60
    {
        return false;
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    match &b[i..] {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => {
            [h1, h2, m1, m2].iter().all(|d| d.is_ascii_digit())
                && num(i + 1..i + 3) <= 23
                && num(i + 4..i + 6) <= 59
        }
        _ => false,
    }
}

/// What `GET /api/v1/audit` and `keyadm audit` filter on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    pub key: Option<String>,
    pub server: Option<String>,
    /// The tool, prompt or resource as exposed (for changes: the object).
    pub tool: Option<String>,
    pub outcome: Option<String>,
    pub since: Option<When>,
    pub until: Option<When>,
    pub limit: Option<i64>,
    /// Where the previous page ended (its `next_cursor`).
    pub cursor: Option<String>,
    /// The rows of the calls made within this one (its `call_id`): a code-mode run's
    /// inner calls.
    pub parent: Option<String>,
}

/// A cursor: the last entry's time (microseconds since the epoch) and id.
fn parse_cursor(c: &str) -> Result<(i64, i64), String> {
    let bad = || format!("not a cursor from a previous page: {c:?}");
    let (us, id) = c.split_once('.').ok_or_else(bad)?;
    let us: i64 = us.parse().map_err(|_| bad())?;
    let id: i64 = id.parse().map_err(|_| bad())?;
    if !CURSOR_RANGE.contains(&us) || id < 0 {
        return Err(bad());
    }
    Ok((us, id))
}

impl Filter {
    /// Checks the values a client gave (the database sees only valid ones).
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if let Some(k) = &self.key {
            check_key_id(k).map_err(|e| ("key", e))?;
        }
        for (field, v) in [("server", &self.server), ("tool", &self.tool)] {
            if let Some(v) = v {
                check_name(v).map_err(|e| (field, e))?;
            }
        }
        if let Some(o) = &self.outcome
            && !OUTCOMES.contains(&o.as_str())
        {
            return Err((
                "outcome",
                format!("unknown outcome {o:?} (one of {})", OUTCOMES.join(", ")),
            ));
        }
        if let Some(l) = self.limit
            && !(1..=MAX_LIMIT).contains(&l)
        {
            return Err(("limit", format!("limit must be from 1 to {MAX_LIMIT}")));
        }
        if let Some(c) = &self.cursor {
            parse_cursor(c).map_err(|e| ("cursor", e))?;
        }
        if let Some(p) = &self.parent {
            parse_call_id(p).map_err(|e| ("parent", e))?;
        }
        Ok(())
    }
}

/// A row's identity as an entry's `call_id` gives it: a UUID in its hyphenated form (36
/// characters), nothing else.
pub fn parse_call_id(s: &str) -> Result<uuid::Uuid, String> {
    let bad = || {
        format!(
            "{:?} is not a call id (a UUID such as 0194f3c2-7a4e-8d1b-9c3f-2b6a5e0d4c11, \
             as an entry's call_id gives it)",
            s.chars().take(64).collect::<String>()
        )
    };
    if s.len() != 36 {
        return Err(bad());
    }
    uuid::Uuid::try_parse(s).map_err(|_| bad())
}

/// A key id as keyadm prints it (16 lowercase hex digits).
pub fn check_key_id(k: &str) -> Result<(), String> {
    crate::base::KeyId::parse(k)
        .map(|_| ())
        .ok_or_else(|| format!("{k:?} is not a key id (16 hex digits, as keyadm prints it)"))
}

/// A name to filter on: text PostgreSQL can hold (no NUL), of a bounded length.
fn check_name(v: &str) -> Result<(), String> {
    if v.contains('\0') {
        return Err("must not contain NUL (no stored name does)".into());
    }
    if v.len() > MAX_NAME {
        return Err(format!("longer than {MAX_NAME} bytes"));
    }
    Ok(())
}

/// One page of entries, newest first, and the cursor of the next page (`None` at the
/// end).
pub async fn list(pool: &Pool, f: &Filter) -> Result<(Vec<Value>, Option<String>), DbError> {
    let mut args: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
    let mut clauses: Vec<String> = Vec::new();
    let mut eq =
        |column: &str, v: &Option<String>, args: &mut Vec<Box<dyn ToSql + Sync + Send>>| {
            if let Some(v) = v {
                args.push(Box::new(v.clone()));
                clauses.push(format!("{column} = ${}", args.len()));
            }
        };
    eq("key_id", &f.key, &mut args);
    eq("server", &f.server, &mut args);
    eq("tool", &f.tool, &mut args);
    eq("outcome", &f.outcome, &mut args);
    if let Some(p) = f.parent.as_deref().and_then(|p| parse_call_id(p).ok()) {
        args.push(Box::new(p));
        clauses.push(format!("parent = ${}", args.len()));
    }
    if let Some(w) = &f.since {
        clauses.push(format!("at >= {}", w.sql(&mut args)));
    }
    if let Some(w) = &f.until {
        clauses.push(format!("at < {}", w.sql(&mut args)));
    }
    if let Some((us, id)) = f.cursor.as_deref().and_then(|c| parse_cursor(c).ok()) {
        args.push(Box::new(us));
        args.push(Box::new(id));
        clauses.push(format!(
            "(at, id) < ('epoch'::timestamptz + ${}::int8 * interval '1 microsecond', ${}::int8)",
            args.len() - 1,
            args.len()
        ));
    }
    let limit = f.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    args.push(Box::new(limit + 1));
    let sql = format!(
        "SELECT id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),
                (extract(epoch FROM at) * 1000000)::int8, kind, key_id, subject, namespace,
                server, method, tool, upstream_tool, outcome, duration_us, request_bytes,
                response_bytes, trace_id, reason, call_id, parent, policy_audit
         FROM audit_log {} ORDER BY at DESC, id DESC LIMIT ${}",
        if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        },
        args.len()
    );
    let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a.as_ref() as _).collect();
    let client = pool.get().await?;
    let rows = client.query(&sql, &params).await?;
    let more = rows.len() as i64 > limit;
    let mut next = None;
    let entries: Vec<Value> = rows
        .iter()
        .take(limit as usize)
        .map(|r| {
            let id: i64 = r.get(0);
            let us: i64 = r.get(2);
            next = Some(format!("{us}.{id}"));
            let duration_us: i64 = r.get(12);
            json!({
                "id": id,
                "at": r.get::<_, String>(1),
                "kind": r.get::<_, String>(3),
                "key_id": r.get::<_, Option<String>>(4),
                "subject": r.get::<_, Option<String>>(5),
                "namespace": r.get::<_, Option<String>>(6),
                "server": r.get::<_, Option<String>>(7),
                "method": r.get::<_, String>(8),
                "tool": r.get::<_, Option<String>>(9),
                "upstream_tool": r.get::<_, Option<String>>(10),
                "outcome": r.get::<_, String>(11),
                "duration_ms": duration_us as f64 / 1000.0,
                "request_bytes": r.get::<_, i64>(13),
                "response_bytes": r.get::<_, i64>(14),
                "trace_id": r.get::<_, Option<String>>(15),
                "reason": r.get::<_, Option<String>>(16),
                "call_id": r.get::<_, Option<uuid::Uuid>>(17).map(|u| u.to_string()),
                "parent": r.get::<_, Option<uuid::Uuid>>(18).map(|u| u.to_string()),
                "policy_audit": r.get::<_, Option<String>>(19),
            })
        })
        .collect();
    let mut entries = entries;
    name_keys(&client, &mut entries).await?;
    Ok((entries, if more { next } else { None }))
}

/// Adds `key_name` to each entry with a key: the key's name, or null for a key since
/// deleted. One query for the page's keys.
async fn name_keys(
    client: &deadpool_postgres::Client,
    entries: &mut [Value],
) -> Result<(), DbError> {
    let mut ids: Vec<String> = entries
        .iter()
        .filter_map(|e| e["key_id"].as_str().map(String::from))
        .collect();
    ids.sort();
    ids.dedup();
    let names: std::collections::HashMap<String, String> = if ids.is_empty() {
        Default::default()
    } else {
        client
            .query("SELECT id, name FROM api_keys WHERE id = ANY($1)", &[&ids])
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    };
    for e in entries.iter_mut() {
        let name = e["key_id"].as_str().and_then(|k| names.get(k)).cloned();
        e["key_name"] = json!(name);
    }
    Ok(())
}

/// A key's calls per exposed tool since `since`: calls, errors (every outcome but
/// `ok`), of them `denied` (refused by the gateway before any backend saw them),
/// p50/p99 duration and bytes, busiest first, with the totals.
pub async fn usage(pool: &Pool, key: &str, since: &When) -> Result<Value, DbError> {
    let mut args: Vec<Box<dyn ToSql + Sync + Send>> = vec![Box::new(key.to_string())];
    let from = since.sql(&mut args);
    let sql = format!(
        "SELECT method, tool, count(*), count(*) FILTER (WHERE outcome <> 'ok'),
                coalesce(percentile_disc(0.5) WITHIN GROUP (ORDER BY duration_us), 0),
                coalesce(percentile_disc(0.99) WITHIN GROUP (ORDER BY duration_us), 0),
                coalesce(sum(request_bytes), 0)::int8, coalesce(sum(response_bytes), 0)::int8,
                array_agg(DISTINCT server) FILTER (WHERE server IS NOT NULL),
                count(*) FILTER (WHERE outcome = 'denied')
         FROM audit_log WHERE kind = 'call' AND key_id = $1 AND at >= {from}
         GROUP BY method, tool ORDER BY count(*) DESC, tool"
    );
    let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a.as_ref() as _).collect();
    let client = pool.get().await?;
    let rows = client.query(&sql, &params).await?;
    let (mut calls, mut errors, mut req, mut resp) = (0i64, 0i64, 0i64, 0i64);
    let mut denied = 0i64;
    let tools: Vec<Value> = rows
        .iter()
        .map(|r| {
            let n: i64 = r.get(2);
            let e: i64 = r.get(3);
            let q: i64 = r.get(6);
            let a: i64 = r.get(7);
            let d: i64 = r.get(9);
            denied += d;
            calls += n;
            errors += e;
            req += q;
            resp += a;
            json!({
                "method": r.get::<_, String>(0),
                "tool": r.get::<_, Option<String>>(1),
                "servers": r.get::<_, Option<Vec<String>>>(8).unwrap_or_default(),
                "calls": n,
                "errors": e,
                "denied": d,
                "p50_ms": r.get::<_, i64>(4) as f64 / 1000.0,
                "p99_ms": r.get::<_, i64>(5) as f64 / 1000.0,
                "request_bytes": q,
                "response_bytes": a,
            })
        })
        .collect();
    Ok(json!({
        "key_id": key,
        "tools": tools,
        "total": {
            "calls": calls,
            "errors": errors,
            "denied": denied,
            "request_bytes": req,
            "response_bytes": resp,
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_or_durations() {
        for ok in [
            "2026-11-22T10:00:00Z",
            "2026-11-22T10:00:00.123456Z",
            "2026-11-22T10:00:00+01:00",
            "2026-11-22t10:00:00-05:30",
        ] {
            assert_eq!(When::parse(ok), Ok(When::At(ok.to_string())), "{ok}");
        }
        assert_eq!(
            When::parse("24h"),
            Ok(When::Ago(std::time::Duration::from_secs(86_400)))
        );
        for bad in [
            "2026-13-22T10:00:00Z",
            "2026-11-22T10:00:00",
            "2026-11-22T25:00:00Z",
            "2026-11-22T10:00:00.Z",
            "yesterday",
            "2026-11-22T10:00:00+0100",
            "'; DROP TABLE audit_log; --",
        ] {
            assert!(When::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn filters_are_checked_before_any_query() {
        let f = |o: &str, l: i64, c: &str| Filter {
            outcome: Some(o.into()),
            limit: Some(l),
            cursor: Some(c.into()),
            ..Filter::default()
        };
        assert!(f("ok", 10, "1.2").validate().is_ok());
        assert_eq!(f("weird", 10, "1.2").validate().unwrap_err().0, "outcome");
        assert_eq!(f("ok", 1001, "1.2").validate().unwrap_err().0, "limit");
        assert_eq!(f("ok", 0, "1.2").validate().unwrap_err().0, "limit");
        assert_eq!(f("ok", 5, "x").validate().unwrap_err().0, "cursor");
    }
}
