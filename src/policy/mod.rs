//! The policies of a call: what may look at a `tools/call` after it is routed and
//! before it is forwarded (and refuse it), and at its result. A view carries the
//! policies that apply to it (none by default, and then their phase costs nothing: one
//! emptiness check, no allocation); a namespace turns on the ones it is configured
//! with, and `State::police` adds one to every view. The call pipeline runs both kinds
//! here as phases of a routed call (its `CallPhase` trait): the view's [`Policy`]
//! objects in one, the [`rules`] in another, first of all.
//!
//! - [`Policy`]: the trait, two hooks.
//! - [`arguments`]: the first policy: a call's `arguments` checked against the tool's
//!   `inputSchema` ([`schema`], compiled when the list changes), per namespace
//!   (`"validate_arguments": true`).
//! - [`rules`]: policies by identity (CEL), stored in PostgreSQL and managed by admins:
//!   allow, deny or confirm a call or a listing; [`cel`] bounds what a rule may cost to
//!   parse, hold and evaluate.

pub mod arguments;
pub mod cel;
pub mod cel_syntax;
pub mod reads;
pub mod rules;
pub mod schema;
pub mod simulate;
pub mod vocabulary;

use std::sync::Arc;

use crate::base::KeyId;
use crate::jsonrpc::frame::Frame;
use crate::jsonrpc::read;

/// Who called what: the part of a call both hooks see.
#[derive(Clone, Copy)]
pub struct Called<'a> {
    /// `None`: `/mcp` (every server the caller reaches).
    pub namespace: Option<&'a str>,
    /// The server that owns the tool (`metamcp` for the gateway's own).
    pub server: &'a str,
    /// The tool as the client named it.
    pub tool: &'a str,
    pub caller: Option<&'a KeyId>,
}

/// A routed `tools/call`, before it is forwarded.
pub struct Call<'a> {
    pub called: Called<'a>,
    /// The request as the client sent it.
    pub body: &'a [u8],
    /// `params.arguments`, read as the backend reads them ([`arguments`]; absent: none
    /// sent).
    pub arguments: Option<serde_json::Value>,
    /// The tool's `inputSchema`, compiled, when the view checks arguments.
    pub schema: Option<&'a schema::Schema>,
}

/// A call refused by a policy: a JSON-RPC error for the client.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub code: i64,
    pub message: String,
    pub data: Option<serde_json::Value>,
}

/// Something that looks at calls.
pub trait Policy: Send + Sync {
    /// Its name, for logs.
    fn name(&self) -> &str;
    /// Before the call is forwarded: `Err` refuses it (the backend never sees it).
    fn before(&self, call: &Call<'_>) -> Result<(), Refusal> {
        let _ = call;
        Ok(())
    }
    /// Whether [`Policy::after`] should be given results (a result is held in full, up to
    /// a bound, only for a policy that wants it).
    fn sees_results(&self) -> bool {
        false
    }
    /// The call's whole answer (a JSON-RPC response, or the stream's last message), once
    /// it has been sent.
    fn after(&self, called: &Called<'_>, answer: &[u8]) {
        let _ = (called, answer);
    }
}

/// Runs `policies` in their order on `call`: the first to refuse it, with its refusal;
/// `None` when every one lets it through (and at once when there is none).
pub fn check<'p>(
    policies: &'p [Arc<dyn Policy>],
    call: &Call<'_>,
) -> Option<(&'p dyn Policy, Refusal)> {
    policies
        .iter()
        .find_map(|p| p.before(call).err().map(|r| (&**p, r)))
}

/// A call's `arguments` as the backend will read them: `Ok(None)` when none were sent,
/// the value read off the same tape as the frame ([`crate::jsonrpc::read`]) otherwise.
/// Arguments that cannot be read one way are an error, never "no arguments".
pub fn arguments(body: &[u8], f: &Frame) -> Result<Option<serde_json::Value>, Refusal> {
    let Some(span) = f.arguments(body) else {
        return Ok(None);
    };
    read::value(span.of(body)).map(Some).map_err(|a| {
        let what = a.map_or_else(
            || "they are not JSON".to_string(),
            |a| format!("they have {a}, which JSON readers read differently"),
        );
        Refusal {
            code: -32602,
            message: format!(
                "params.arguments cannot be read one way: {what}; send every member once, \
                 with numbers a 64-bit integer or a double holds"
            ),
            data: Some(serde_json::json!({"ambiguous": what, "at": "params.arguments"})),
        }
    })
}
