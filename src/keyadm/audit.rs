//! `keyadm audit` and `keyadm keys usage` as text: aligned rows, one per line.

use super::text::aligned;

/// `keyadm audit` as text: one line an entry, then how to get the next page. A key is
/// shown by its name (by its id with `ids`, or when it has none: a deleted key's).
pub(super) fn audit_table(entries: &[serde_json::Value], next: Option<&str>, ids: bool) -> String {
    if entries.is_empty() {
        return "no audit entries\n".to_string();
    }
    let cell = |e: &serde_json::Value, k: &str| match &e[k] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "-".to_string(),
        v => v.to_string(),
    };
    // A change keyadm made has no key: its actor (`keyadm:alice`) is shown instead.
    let who = |e: &serde_json::Value| match (&e["key_id"], &e["subject"], &e["key_name"]) {
        (serde_json::Value::Null, serde_json::Value::String(s), _) => s.clone(),
        (_, _, serde_json::Value::String(name)) if !ids => name.clone(),
        _ => cell(e, "key_id"),
    };
    let rows = entries
        .iter()
        .map(|e| {
            let mut row = [
                "at",
                "key_id",
                "namespace",
                "server",
                "method",
                "tool",
                "outcome",
                "duration_ms",
                "reason",
            ]
            .map(|k| cell(e, k));
            row[1] = who(e);
            row.to_vec()
        })
        .collect();
    let mut out = aligned(
        &[
            "AT",
            "KEY",
            "NAMESPACE",
            "SERVER",
            "METHOD",
            "TOOL",
            "OUTCOME",
            "MS",
            "REASON",
        ],
        rows,
    );
    if let Some(c) = next {
        out.push_str(&format!("more: --cursor {c}\n"));
    }
    out
}

/// `keyadm keys usage` as text: one line a tool, then the totals.
pub(super) fn usage_table(usage: &serde_json::Value) -> String {
    let tools = usage["tools"].as_array().cloned().unwrap_or_default();
    if tools.is_empty() {
        return format!(
            "key {} made no calls in the period\n",
            usage["key_id"].as_str().unwrap_or("-")
        );
    }
    let n = |v: &serde_json::Value| v.as_f64().map_or("-".to_string(), |f| f.to_string());
    let rows = tools
        .iter()
        .map(|t| {
            vec![
                t["tool"].as_str().unwrap_or("-").to_string(),
                t["method"].as_str().unwrap_or("-").to_string(),
                n(&t["calls"]),
                n(&t["errors"]),
                n(&t["denied"]),
                n(&t["p50_ms"]),
                n(&t["p99_ms"]),
                n(&t["request_bytes"]),
                n(&t["response_bytes"]),
            ]
        })
        .collect();
    let mut out = aligned(
        &[
            "TOOL",
            "METHOD",
            "CALLS",
            "ERRORS",
            "DENIED",
            "P50 MS",
            "P99 MS",
            "BYTES IN",
            "BYTES OUT",
        ],
        rows,
    );
    let t = &usage["total"];
    out.push_str(&format!(
        "total: {} calls, {} errors, {} denied, {} bytes in, {} bytes out\n",
        n(&t["calls"]),
        n(&t["errors"]),
        n(&t["denied"]),
        n(&t["request_bytes"]),
        n(&t["response_bytes"])
    ));
    out
}
