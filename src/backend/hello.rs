//! What is said when a backend's session opens, whatever the transport: the versions
//! the gateway asks for and speaks, and what the backend said of itself ([`Hello`]).
//! Every arm of [`super::transport::Transport`] returns it from `connect`.

use serde_json::Value;

/// The version the gateway asks backends for; they answer it or their latest.
pub const UPSTREAM_VERSION: &str = "2025-11-25";
/// Versions the gateway can speak to a backend.
pub const UPSTREAM_VERSIONS: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

/// What a backend said of itself when its session opened: its capabilities and its
/// `instructions` (cut to [`MAX_INSTRUCTIONS`] bytes: a server's advice for a model, not
/// a place to hold a client's context window hostage).
#[derive(Debug, Clone, Default)]
pub struct Hello {
    pub capabilities: Value,
    pub instructions: Option<String>,
}

/// The most of one server's `instructions` kept, in bytes.
pub const MAX_INSTRUCTIONS: usize = 8 * 1024;

impl Hello {
    /// From an `initialize` result.
    pub fn from_result(result: &Value) -> Hello {
        let instructions = result["instructions"]
            .as_str()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| {
                if t.len() <= MAX_INSTRUCTIONS {
                    return t.to_string();
                }
                let mut end = MAX_INSTRUCTIONS;
                while !t.is_char_boundary(end) {
                    end -= 1;
                }
                format!("{}…", &t[..end])
            });
        Hello {
            capabilities: result["capabilities"].clone(),
            instructions,
        }
    }
}
