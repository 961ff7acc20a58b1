//! The error of every transport to a backend, which the planes above map to what a
//! client or operator is told.

/// Why talking to a backend failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UpstreamError {
    #[error("cannot reach the backend: {0}")]
    Connect(String),
    #[error("the backend answered HTTP {0}")]
    Status(u16),
    #[error("the backend forgot our session")]
    SessionExpired,
    #[error("the backend did not answer within {0} ms")]
    Timeout(u64),
    #[error("the backend broke the protocol: {0}")]
    Protocol(String),
    #[error("the backend returned error {code}: {message}")]
    Rpc { code: i64, message: String },
    /// The backend's account is not connected (an OAuth backend): why, and how.
    #[error("{0}")]
    Unauthorized(String),
    /// The caller has not connected their own account with a per-caller server (or it
    /// was refused): they are asked to connect it.
    #[error("{0}")]
    NeedsAccount(String),
    /// Refused by the gateway before reaching the backend: its calls in flight and its
    /// queue are full (the message names the server).
    #[error("{0}")]
    Busy(String),
}
