//! Prometheus metrics: request counts and latency histograms by route, method and
//! status; authentication failures by reason; connections; database pool state.
//! Labels come from the route table, never from raw paths, so cardinality stays bounded.

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

type RequestKey = (&'static str, &'static str, u16);

/// The process's metrics.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<HashMap<RequestKey, Histogram>>,
    auth_failures: Mutex<BTreeMap<&'static str, u64>>,
    pub connections_open: AtomicI64,
    pub connections_total: AtomicU64,
    /// Connections closed at once: their address held its whole share, all busy.
    pub connections_refused: AtomicU64,
    /// Idle connections closed to make room for new ones.
    pub connections_evicted: AtomicU64,
}

/// Database pool figures at render time.
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
        let h = map.entry((route, method, status)).or_default();
        h.count += 1;
        h.sum += secs;
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            h.buckets[i] += 1;
        }
    }

    pub fn connection_refused(&self) {
        self.connections_refused.fetch_add(1, Ordering::Relaxed);
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
            let h = &requests[*k];
            let labels = format!("route=\"{}\",method=\"{}\",status=\"{}\"", k.0, k.1, k.2);
            let mut cumulative = 0;
            for (i, b) in BUCKETS.iter().enumerate() {
                cumulative += h.buckets[i];
                let _ = writeln!(
                    out,
                    "metamcp_http_request_duration_seconds_bucket{{{labels},le=\"{b}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "metamcp_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "metamcp_http_request_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "metamcp_http_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
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
}
