//! What the gateway tells operators: the lifecycle event stream, Prometheus metrics and
//! the audit trail.

pub mod audit;
pub mod events;
pub mod metrics;
pub mod trace;
