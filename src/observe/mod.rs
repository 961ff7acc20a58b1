//! What the gateway tells operators: the lifecycle event stream and Prometheus metrics.

pub mod events;
pub mod metrics;
