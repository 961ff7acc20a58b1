//! The protocol versions the gateway speaks with clients, of both eras.

/// Session-era versions the gateway speaks with clients, newest first.
pub const SESSION_VERSIONS: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];
/// The stateless era.
pub const STATELESS_VERSION: &str = "2026-07-28";
