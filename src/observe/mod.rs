//! What the gateway tells operators: the lifecycle event stream, Prometheus metrics and
//! the audit trail.

pub mod audit;
mod batches;
pub mod events;
pub mod metrics;
pub mod trace;

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
