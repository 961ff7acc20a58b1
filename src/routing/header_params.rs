//! The arguments a 2026-07-28 client also sends as `Mcp-Param-*` headers (SEP-2243),
//! read once from each tool's input schema when the routing table is built (the same
//! reading the gateway sends a modern backend's headers by).

pub use crate::backend::envelope::{header_params, header_params_valid};

/// A tool that declares an invalid `x-mcp-header` is not offered (a client must not call
/// it, SEP-2243): the problem that says so, for such a tool of `server`.
pub(super) fn invalid_declaration(
    tool: &serde_json::Value,
    name: &str,
    server: &str,
) -> Option<super::Problem> {
    (!header_params_valid(tool)).then(|| super::Problem {
        servers: vec![server.to_string()],
        message: format!(
            "tool {name:?} of {server} declares an invalid x-mcp-header; it is hidden"
        ),
    })
}
