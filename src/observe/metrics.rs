//! Prometheus metrics: request counts and latency histograms by route, method and
//! status; authentication failures by reason; connections; database pool state;
//! forwarded calls per backend (calls, errors, latency) and per tool (calls, errors).
//! Labels come from the route table, the registry and the backends' own lists, never
//! from raw paths, and the per-backend and per-tool series are capped
//! ([`MAX_BACKEND_SERIES`], [`MAX_TOOL_SERIES`]; beyond, they count under `_other`), so
//! cardinality stays bounded.

use std::collections::BTreeMap;

use foldhash::HashMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Default)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn record(&mut self, secs: f64) {
        self.count += 1;
        self.sum += secs;
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            self.buckets[i] += 1;
        }
    }

    /// Its `_bucket`, `_sum` and `_count` lines for `name{labels}`.
    fn write(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (i, b) in BUCKETS.iter().enumerate() {
            cumulative += self.buckets[i];
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{b}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

type RequestKey = (&'static str, &'static str, u16);

/// Backends with series of their own at most; the rest count under `_other`.
pub const MAX_BACKEND_SERIES: usize = 1000;
/// Tools with series of their own at most (over every backend).
pub const MAX_TOOL_SERIES: usize = 5000;
const OTHER: &str = "_other";
/// Refusal series (key and limit) at most, a thousand keys' worth; the rest count under
/// `_other`.
pub const MAX_KEY_SERIES: usize = 1000;

/// Forwarded calls of one backend, and of each of its tools (calls, errors).
#[derive(Default)]
struct BackendCalls {
    errors: u64,
    latency: Histogram,
    tools: HashMap<String, (u64, u64)>,
}

/// Forwarded calls by backend (looked up by `&str`: no allocation once a series exists).
#[derive(Default)]
struct Calls {
    backends: HashMap<String, BackendCalls>,
    /// Tool series over every backend (bounded by [`MAX_TOOL_SERIES`]).
    tool_series: usize,
}

/// A Prometheus label value: `\`, `"` and line breaks escaped.
fn label(v: &str) -> std::borrow::Cow<'_, str> {
    if !v.contains(['\\', '"', '\n']) {
        return v.into();
    }
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
        .into()
}

/// Counters by a free-form name (a key id, a backend) and a fixed label, bounded: past
/// a cap of names, new ones count under `_other`. Off the hot path (refusals, circuit
/// changes): a lookup by owned key is fine here.
#[derive(Default)]
struct Counters(Mutex<BTreeMap<(String, &'static str), u64>>);

impl Counters {
    /// Counts one for (`name`, `label`), with at most `cap` names' worth of series.
    fn add(&self, name: &str, label: &'static str, cap: usize) {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let series = (name.to_string(), label);
        let series = if m.contains_key(&series) || m.len() < cap * 4 {
            series
        } else {
            (OTHER.to_string(), label)
        };
        *m.entry(series).or_default() += 1;
    }

    fn render(&self, out: &mut String, metric: &str, help: &str, labels: (&str, &str)) {
        let _ = writeln!(out, "# HELP {metric} {help}\n# TYPE {metric} counter");
        for ((name, label), n) in self.0.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(
                out,
                "{metric}{{{}=\"{}\",{}=\"{label}\"}} {n}",
                labels.0,
                self::label(name),
                labels.1
            );
        }
    }
}

/// One more of `(name, word)` in `counts`.
fn count(counts: &Mutex<BTreeMap<(String, &'static str), u64>>, name: &str, word: &'static str) {
    let mut c = counts.lock().unwrap_or_else(|p| p.into_inner());
    match c.get_mut(&(name.to_string(), word)) {
        Some(n) => *n += 1,
        None => {
            c.insert((name.to_string(), word), 1);
        }
    }
}

/// The process's metrics.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<HashMap<RequestKey, Histogram>>,
    auth_failures: Mutex<BTreeMap<&'static str, u64>>,
    /// Refused logins' lines in the log, bounded.
    refused_logins: super::refused::RefusedLogins,
    /// Calls the gateway refused before any backend saw them, by reason (policy,
    /// confirmation, guardrail, disabled, held, limit).
    denied: Mutex<BTreeMap<&'static str, u64>>,
    /// Policy rules that failed to evaluate on a call, by policy and the rule's effect
    /// (bounded by the stored policies, at most 100).
    policy_failures: Mutex<BTreeMap<(String, &'static str), u64>>,
    /// What policies in audit mode would have decided, by policy and decision.
    policy_audits: Mutex<BTreeMap<(String, &'static str), u64>>,
    pub connections_open: AtomicI64,
    pub connections_total: AtomicU64,
    /// Connections closed at once: their address held its whole share, all busy.
    pub connections_refused: AtomicU64,
    /// Idle connections closed to make room for new ones.
    pub connections_evicted: AtomicU64,
    calls: Mutex<Calls>,
    /// Requests refused by a key's limits, by key id and limit.
    limited: Counters,
    /// Circuit transitions by backend and the state entered.
    circuits: Counters,
}

/// Database pool figures at render time.
/// The span exporter's counters (only when tracing is configured).
pub fn render_trace(out: &mut String, exported: u64, full: u64, failed: u64, queued: usize) {
    let _ = writeln!(
        out,
        "# HELP metamcp_trace_spans_exported_total Spans the collector accepted.\n\
         # TYPE metamcp_trace_spans_exported_total counter\n\
         metamcp_trace_spans_exported_total {exported}\n\
         # HELP metamcp_trace_spans_dropped_total Spans dropped: the queue was full, or their export failed.\n\
         # TYPE metamcp_trace_spans_dropped_total counter\n\
         metamcp_trace_spans_dropped_total{{reason=\"queue_full\"}} {full}\n\
         metamcp_trace_spans_dropped_total{{reason=\"export_failed\"}} {failed}\n\
         # HELP metamcp_trace_spans_queued Spans waiting for export.\n\
         # TYPE metamcp_trace_spans_queued gauge\n\
         metamcp_trace_spans_queued {queued}"
    );
}

/// The audit trail's counts: rows written, dropped (queue full), waiting.
pub fn render_audit(out: &mut String, written: u64, dropped: u64, queued: usize) {
    for (name, kind, help, value) in [
        (
            "metamcp_audit_rows_written_total",
            "counter",
            "Audit rows written to the database.",
            written,
        ),
        (
            "metamcp_audit_rows_dropped_total",
            "counter",
            "Audit rows dropped because the queue was full.",
            dropped,
        ),
        (
            "metamcp_audit_rows_queued",
            "gauge",
            "Audit rows waiting to be written.",
            queued as u64,
        ),
    ] {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    }
}

pub struct PoolFigures {
    pub max_size: usize,
    pub size: usize,
    pub available: usize,
    pub waiting: usize,
}

impl Metrics {
    /// Records one finished request.
    pub fn observe(&self, route: &'static str, method: &'static str, status: u16, secs: f64) {
        let mut map = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        map.entry((route, method, status)).or_default().record(secs);
    }

    /// Records one forwarded call: its backend, the tool (for `tools/call`), how long it
    /// took and whether it failed.
    pub fn call(&self, backend: &str, tool: Option<&str>, secs: f64, failed: bool) {
        let mut calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        let calls = &mut *calls;
        // The common case: the backend's and the tool's series exist (one lookup each).
        if let Some(entry) = calls.backends.get_mut(backend) {
            let tool = match tool {
                None => Some(None),
                Some(t) => entry.tools.get_mut(t).map(Some),
            };
            if let Some(tool) = tool {
                entry.latency.record(secs);
                entry.errors += u64::from(failed);
                if let Some(t) = tool {
                    t.0 += 1;
                    t.1 += u64::from(failed);
                }
                return;
            }
        }
        let b = if calls.backends.contains_key(backend) || calls.backends.len() < MAX_BACKEND_SERIES
        {
            backend
        } else {
            OTHER
        };
        if !calls.backends.contains_key(b) {
            calls
                .backends
                .insert(b.to_string(), BackendCalls::default());
        }
        let Some(entry) = calls.backends.get_mut(b) else {
            return;
        };
        entry.latency.record(secs);
        entry.errors += u64::from(failed);
        if let Some(tool) = tool {
            let t = if entry.tools.contains_key(tool) {
                tool
            } else if calls.tool_series < MAX_TOOL_SERIES {
                calls.tool_series += 1;
                entry.tools.insert(tool.to_string(), (0, 0));
                tool
            } else {
                if !entry.tools.contains_key(OTHER) {
                    entry.tools.insert(OTHER.to_string(), (0, 0));
                }
                OTHER
            };
            if let Some(t) = entry.tools.get_mut(t) {
                t.0 += 1;
                t.1 += u64::from(failed);
            }
        }
    }

    /// The per-backend and per-tool series, each backend's status among them.
    pub fn render_calls(&self, out: &mut String, statuses: &[(String, &'static str)]) {
        out.push_str("# HELP metamcp_backend_up Whether the backend is running (by status).\n");
        out.push_str("# TYPE metamcp_backend_up gauge\n");
        for (name, status) in statuses {
            let up = u8::from(*status == "running");
            let _ = writeln!(
                out,
                "metamcp_backend_up{{backend=\"{}\",status=\"{status}\"}} {up}",
                label(name)
            );
        }
        let calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        let mut backends: Vec<(&String, &BackendCalls)> = calls.backends.iter().collect();
        backends.sort_by(|a, b| a.0.cmp(b.0));
        out.push_str("# HELP metamcp_backend_calls_total Calls forwarded to each backend.\n");
        out.push_str("# TYPE metamcp_backend_calls_total counter\n");
        for (name, c) in &backends {
            let _ = writeln!(
                out,
                "metamcp_backend_calls_total{{backend=\"{}\"}} {}",
                label(name),
                c.latency.count
            );
        }
        out.push_str("# HELP metamcp_backend_errors_total Forwarded calls that ended in an error (the backend's or the gateway's).\n");
        out.push_str("# TYPE metamcp_backend_errors_total counter\n");
        for (name, c) in &backends {
            let _ = writeln!(
                out,
                "metamcp_backend_errors_total{{backend=\"{}\"}} {}",
                label(name),
                c.errors
            );
        }
        out.push_str("# HELP metamcp_backend_call_duration_seconds Forwarded calls, from the request to the end of the answer.\n");
        out.push_str("# TYPE metamcp_backend_call_duration_seconds histogram\n");
        for (name, c) in &backends {
            let labels = format!("backend=\"{}\"", label(name));
            c.latency
                .write(out, "metamcp_backend_call_duration_seconds", &labels);
        }
        let mut tools: Vec<(&String, &String, &(u64, u64))> = calls
            .backends
            .iter()
            .flat_map(|(b, c)| c.tools.iter().map(move |(t, n)| (b, t, n)))
            .collect();
        tools.sort();
        out.push_str("# HELP metamcp_tool_calls_total tools/call requests by backend and tool.\n");
        out.push_str("# TYPE metamcp_tool_calls_total counter\n");
        for (b, t, (n, _)) in &tools {
            let _ = writeln!(
                out,
                "metamcp_tool_calls_total{{backend=\"{}\",tool=\"{}\"}} {n}",
                label(b),
                label(t)
            );
        }
        out.push_str(
            "# HELP metamcp_tool_errors_total tools/call requests that ended in an error.\n",
        );
        out.push_str("# TYPE metamcp_tool_errors_total counter\n");
        for (b, t, (_, e)) in &tools {
            let _ = writeln!(
                out,
                "metamcp_tool_errors_total{{backend=\"{}\",tool=\"{}\"}} {e}",
                label(b),
                label(t)
            );
        }
    }

    pub fn connection_refused(&self) {
        self.connections_refused.fetch_add(1, Ordering::Relaxed);
    }

    /// A request refused by a key's limit (`kind`: rate, concurrency, daily_calls,
    /// tool_rate).
    pub fn limited(&self, key: &str, kind: &'static str) {
        self.limited.add(key, kind, MAX_KEY_SERIES);
    }

    /// A backend's circuit entered `circuit` (closed, open, half_open).
    pub fn circuit(&self, backend: &str, circuit: &'static str) {
        self.circuits.add(backend, circuit, MAX_BACKEND_SERIES);
    }

    /// A call refused before any backend saw it (`reason`: one of a fixed few words).
    pub fn denied(&self, reason: &'static str) {
        *self
            .denied
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(reason)
            .or_default() += 1;
    }

    /// A login refused: counted by reason, and logged with the client's address
    /// (a bounded number of lines a minute).
    pub fn refused_login(&self, reason: &'static str, peer: std::net::IpAddr) {
        self.auth_failure(reason);
        self.refused_logins.record(reason, peer);
    }

    /// A rule of `policy` (with `effect`) failed to evaluate on a call.
    pub fn policy_failure(&self, policy: &str, effect: &'static str) {
        count(&self.policy_failures, policy, effect);
    }

    /// A policy in audit mode would have decided `decision` on a call.
    pub fn policy_audit(&self, policy: &str, decision: &'static str) {
        count(&self.policy_audits, policy, decision);
    }

    pub fn auth_failure(&self, reason: &'static str) {
        *self
            .auth_failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(reason)
            .or_default() += 1;
    }

    /// The text exposition format.
    pub fn render(&self, pool: &PoolFigures, event_streams: usize) -> String {
        let mut out = String::with_capacity(4096);
        let requests = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        let mut keys: Vec<&RequestKey> = requests.keys().collect();
        keys.sort();
        out.push_str(
            "# HELP metamcp_http_requests_total HTTP requests by route, method and status.\n",
        );
        out.push_str("# TYPE metamcp_http_requests_total counter\n");
        for k in &keys {
            let _ = writeln!(
                out,
                "metamcp_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{}\"}} {}",
                k.0, k.1, k.2, requests[*k].count
            );
        }
        out.push_str("# HELP metamcp_http_request_duration_seconds Time to the response head.\n");
        out.push_str("# TYPE metamcp_http_request_duration_seconds histogram\n");
        for k in &keys {
            let labels = format!("route=\"{}\",method=\"{}\",status=\"{}\"", k.0, k.1, k.2);
            requests[*k].write(&mut out, "metamcp_http_request_duration_seconds", &labels);
        }
        drop(requests);
        out.push_str("# HELP metamcp_auth_failures_total Refused credentials by reason.\n");
        out.push_str("# TYPE metamcp_auth_failures_total counter\n");
        for (reason, n) in self
            .auth_failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "metamcp_auth_failures_total{{reason=\"{reason}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP metamcp_denied_calls_total Calls refused before any backend saw them, by \
             reason.\n# TYPE metamcp_denied_calls_total counter\n",
        );
        for (reason, n) in self.denied.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(out, "metamcp_denied_calls_total{{reason=\"{reason}\"}} {n}");
        }
        out.push_str(
            "# HELP metamcp_policy_rule_failures_total Policy rules that failed to evaluate on a \
             call, by policy and the rule's effect.\n# TYPE metamcp_policy_rule_failures_total counter\n",
        );
        for ((policy, effect), n) in self
            .policy_failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "metamcp_policy_rule_failures_total{{policy=\"{}\",effect=\"{effect}\"}} {n}",
                label(policy)
            );
        }
        out.push_str(
            "# HELP metamcp_policy_audit_decisions_total What policies in audit mode would have \
             decided, by policy and decision.\n# TYPE metamcp_policy_audit_decisions_total counter\n",
        );
        for ((policy, decision), n) in self
            .policy_audits
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "metamcp_policy_audit_decisions_total{{policy=\"{}\",decision=\"{decision}\"}} {n}",
                label(policy)
            );
        }
        self.limited.render(
            &mut out,
            "metamcp_limited_requests_total",
            "Requests refused by a key's limits, by key and limit.",
            ("key", "limit"),
        );
        self.circuits.render(
            &mut out,
            "metamcp_circuit_transitions_total",
            "Backend circuit changes by backend and the state entered.",
            ("backend", "circuit"),
        );
        let gauges: [(&str, &str, i64); 9] = [
            (
                "metamcp_http_connections_open",
                "Open client connections.",
                self.connections_open.load(Ordering::Relaxed),
            ),
            (
                "metamcp_event_streams_open",
                "Open event streams.",
                event_streams as i64,
            ),
            (
                "metamcp_db_pool_max_size",
                "Database pool capacity.",
                pool.max_size as i64,
            ),
            (
                "metamcp_db_pool_connections",
                "Database connections open.",
                pool.size as i64,
            ),
            (
                "metamcp_db_pool_available",
                "Idle database connections.",
                pool.available as i64,
            ),
            (
                "metamcp_db_pool_waiting",
                "Tasks waiting for a database connection.",
                pool.waiting as i64,
            ),
            (
                "metamcp_http_connections_total",
                "Client connections accepted.",
                self.connections_total.load(Ordering::Relaxed) as i64,
            ),
            (
                "metamcp_http_connections_refused_total",
                "Connections closed at once because their address held its whole share.",
                self.connections_refused.load(Ordering::Relaxed) as i64,
            ),
            (
                "metamcp_http_connections_evicted_total",
                "Idle connections closed to make room for new ones.",
                self.connections_evicted.load(Ordering::Relaxed) as i64,
            ),
        ];
        for (name, help, v) in gauges {
            let kind = if name.ends_with("_total") {
                "counter"
            } else {
                "gauge"
            };
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.observe("/health", "GET", 200, 0.0002);
        m.observe("/health", "GET", 200, 0.003);
        m.observe("/health", "GET", 200, 60.0);
        m.auth_failure("bad_secret");
        let text = m.render(
            &PoolFigures {
                max_size: 16,
                size: 1,
                available: 1,
                waiting: 0,
            },
            0,
        );
        assert!(text.contains(
            "metamcp_http_requests_total{route=\"/health\",method=\"GET\",status=\"200\"} 3"
        ));
        assert!(text.contains("le=\"0.00025\"} 1\n"));
        assert!(text.contains("le=\"0.005\"} 2\n"));
        assert!(text.contains("le=\"5\"} 2\n"));
        assert!(text.contains("le=\"+Inf\"} 3\n"));
        assert!(text.contains("metamcp_auth_failures_total{reason=\"bad_secret\"} 1"));
        assert!(text.contains("metamcp_db_pool_max_size 16"));
    }

    #[test]
    fn refusal_and_circuit_series_are_bounded() {
        let m = Metrics::default();
        for i in 0..(MAX_KEY_SERIES * 4 + 10) {
            m.limited(&format!("key{i}"), "rate");
        }
        m.circuit("web", "open");
        m.circuit("web", "open");
        let text = m.render(
            &PoolFigures {
                max_size: 1,
                size: 0,
                available: 0,
                waiting: 0,
            },
            0,
        );
        assert!(text.contains("metamcp_limited_requests_total{key=\"key0\",limit=\"rate\"} 1"));
        assert!(text.contains("metamcp_limited_requests_total{key=\"_other\",limit=\"rate\"} 10"));
        assert!(
            text.contains("metamcp_circuit_transitions_total{backend=\"web\",circuit=\"open\"} 2")
        );
    }
}
