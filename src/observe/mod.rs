//! What the gateway tells operators: the lifecycle event stream, Prometheus metrics and
//! the audit trail.

pub mod audit;
mod batches;
pub mod events;
pub mod metrics;
pub mod refused;
pub mod trace;

use std::sync::Arc;

/// The observe plane of the gateway's state: what every room reports to.
pub struct Observe {
    /// Lifecycle events for `/api/v1/events`.
    pub events: events::EventBus,
    pub metrics: Arc<metrics::Metrics>,
    /// Audit rows waiting to be written.
    pub audit: Arc<audit::Audit>,
    /// Span export, when an OTLP endpoint is configured.
    pub tracer: Option<Arc<trace::Tracer>>,
}

impl Observe {
    /// The plane as `config` sets it: the audit trail (on or off, its queue) and span
    /// export.
    pub fn new(config: &crate::config::Config) -> Observe {
        Observe {
            events: events::EventBus::default(),
            metrics: Arc::default(),
            audit: Arc::new(audit::Audit::new(config.audit, config.audit_queue)),
            tracer: config
                .tracing
                .clone()
                .map(|t| Arc::new(trace::Tracer::new(t))),
        }
    }
}

/// `s` cut to at most `limit` bytes at a character boundary.
pub(crate) fn cut(s: &str, limit: usize) -> &str {
    if s.len() <= limit {
        return s;
    }
    let mut end = limit;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
