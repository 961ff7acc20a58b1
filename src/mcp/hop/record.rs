//! One forwarded call's account, recorded once when it ends: the backend's breaker told
//! how it went, the call's metrics, its audit row, its client span and its log line. A
//! call dropped before it ended was cancelled. Argument values are never part of it.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::backend::{Backend, CallEnd};
use crate::jsonrpc::frame::{self, Frame, Span};
use crate::jsonrpc::methods::Method;
use crate::observe::audit::{self, Audit};
use crate::observe::metrics::Metrics;
use crate::observe::trace::Tracer;

/// What a forwarded call ended as, for its metrics and log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    /// A result (a tool's `isError` result included: the call itself worked).
    Ok,
    /// The backend answered with a JSON-RPC error.
    Error,
    /// No answer: unreachable, timed out, broken.
    Failed,
    /// Not sent: the backend's circuit is open or its calls in flight are full.
    Refused,
    /// The client went away first.
    Cancelled,
}

impl Outcome {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Failed => "failed",
            Outcome::Refused => "refused",
            Outcome::Cancelled => "cancelled",
        }
    }
}

/// One forwarded call's account: recorded once, when it ends (a dropped one was
/// cancelled). Argument values are never part of it.
pub(in crate::mcp) struct CallRecord {
    pub(super) started: tokio::time::Instant,
    pub(super) metrics: Arc<Metrics>,
    pub(super) backend: Arc<Backend>,
    /// The method, when it is one a call is forwarded for ([`method_label`]).
    pub(super) method: Option<Method>,
    /// The backend's own tool name as a JSON string (shared, not copied), for
    /// `tools/call`.
    pub(super) tool: Option<Bytes>,
    pub(super) key: Option<crate::base::KeyId>,
    pub(super) subject: Option<Arc<str>>,
    /// Copied only for namespace endpoints (`/mcp` has none).
    pub(super) namespace: Option<Box<str>>,
    pub(super) request_bytes: usize,
    pub(super) response_bytes: usize,
    pub(super) done: bool,
    /// The call's pass through the backend's breaker and bulkhead, once admitted.
    pub(in crate::mcp) admitted: Option<crate::backend::Admitted>,
    /// Why it failed, for the breaker (`None`: a failure that says nothing about the
    /// backend, such as an HTTP 4xx).
    pub(super) failure: Option<String>,
    /// The call's audit row in the making (calls the trail covers, when it is on).
    pub(super) audit: Option<AuditDraft>,
    /// The call's client span, when its request is sampled.
    pub(super) span: Option<ClientSpan>,
    /// A `tools/call` result said `isError: true` (looked for only for an audit row or
    /// a span).
    pub(super) tool_error: bool,
    /// The call failed because `timeout_ms` passed.
    pub(super) timed_out: bool,
}

/// A client span in the making: one upstream call.
pub(super) struct ClientSpan {
    pub(super) tracer: Arc<Tracer>,
    pub(super) ctx: crate::observe::trace::SpanContext,
    pub(super) parent: [u8; 8],
    pub(super) start: std::time::SystemTime,
}

/// What an audit row needs beyond the call's account.
pub(super) struct AuditDraft {
    pub(super) audit: Arc<Audit>,
    pub(super) at: std::time::SystemTime,
    /// The name (or URI) as the client gave it, and as the backend knows it.
    pub(super) exposed: Option<Box<str>>,
    /// A JSON string literal (the routing table's, shared).
    pub(super) upstream: Option<Bytes>,
    pub(super) trace_id: Option<[u8; 16]>,
    /// The code-mode run the call was made within.
    pub(super) parent: Option<uuid::Uuid>,
    /// What policies in audit mode would have decided ([`crate::mcp::ctx::Ctx::trial`]).
    pub(super) policy_audit: Option<Box<str>>,
}

/// Whether a piece of an answer carries `"isError": true` (a tool's own error result).
pub(super) fn says_is_error(data: &[u8]) -> bool {
    const KEY: &[u8] = b"\"isError\"";
    // Built once: building a searcher costs more than searching a short answer.
    static FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(KEY));
    FINDER.find_iter(data).any(|i| {
        let rest = &data[i + KEY.len()..];
        let rest = rest.trim_ascii_start();
        rest.strip_prefix(b":")
            .is_some_and(|r| r.trim_ascii_start().starts_with(b"true"))
    })
}

/// A JSON string literal's text: borrowed unless it has escapes (tool names rarely do).
pub(super) fn json_text(literal: &[u8]) -> std::borrow::Cow<'_, str> {
    let whole = Span {
        start: 0,
        end: literal.len(),
    };
    frame::string_value(literal, whole).unwrap_or_default()
}

/// A method a call can be forwarded for, of those of `f`.
pub(super) fn forwarded_method(f: &Frame) -> Option<Method> {
    f.kind.filter(|m| {
        matches!(
            m,
            Method::ToolsCall
                | Method::PromptsGet
                | Method::ResourcesRead
                | Method::ResourcesSubscribe
                | Method::ResourcesUnsubscribe
                | Method::CompletionComplete
        )
    })
}

/// A forwarded method's label in spans, audit rows and logs: `other` for the rest.
pub(super) fn method_label(method: Option<Method>) -> &'static str {
    method.map_or("other", Method::as_str)
}

impl CallRecord {
    /// Records the client span (when sampled), `took` long, with the audit outcome as
    /// `error.type`.
    pub(super) fn end_span(&mut self, outcome: &'static str, took: Duration) {
        use crate::observe::trace::{Attrs, Kind, SpanData};
        let Some(s) = self.span.take() else { return };
        let tool = self.tool.as_ref().map(|t| json_text(t));
        let mut attributes = Attrs::default();
        attributes.str("mcp.method.name", method_label(self.method));
        attributes.str("metamcp.server", &self.backend.label);
        attributes.str("network.transport", self.backend.network_transport());
        if let Some(t) = &tool {
            attributes.str("gen_ai.tool.name", t);
        }
        let error = (outcome != "ok").then_some(outcome);
        if let Some(e) = error {
            attributes.str("error.type", e);
        }
        s.tracer.record(SpanData {
            ctx: s.ctx,
            parent: Some(s.parent),
            name: method_label(self.method),
            target: tool.as_deref(),
            kind: Kind::Client,
            start: s.start,
            end: s.start + took,
            attributes: attributes.as_slice(),
            error,
        });
    }

    /// Looks at a piece of the answer for what the audit row says of it.
    pub(super) fn saw(&mut self, data: &[u8]) {
        if (self.audit.is_some() || self.span.is_some())
            && !self.tool_error
            && self.method == Some(Method::ToolsCall)
        {
            self.tool_error = says_is_error(data);
        }
    }

    /// Ends a call that got no answer within the server's timeout.
    pub(super) fn time_out(&mut self, why: &str) {
        self.timed_out = true;
        self.fail(why);
    }

    /// Queues the call's audit row.
    pub(super) fn audit(&mut self, outcome: Outcome, took: Duration) {
        let outcome = match outcome {
            Outcome::Ok if self.tool_error => audit::Outcome::ToolError,
            Outcome::Ok => audit::Outcome::Ok,
            Outcome::Error => audit::Outcome::RpcError,
            Outcome::Failed if self.timed_out => audit::Outcome::Timeout,
            Outcome::Failed => audit::Outcome::Unavailable,
            Outcome::Refused => audit::Outcome::Refused,
            Outcome::Cancelled => audit::Outcome::Cancelled,
        };
        self.end_span(outcome.as_str(), took);
        let Some(d) = self.audit.take() else { return };
        let tool = d.exposed.as_deref().map(audit::Text::Str);
        d.audit.record(audit::Entry {
            at: d.at,
            kind: audit::Kind::Call,
            key_id: self.key,
            subject: self.subject.as_deref().map(audit::Text::Str),
            namespace: self.namespace.as_deref().map(audit::Text::Str),
            server: Some(audit::Text::Str(&self.backend.label)),
            method: method_label(self.method),
            upstream_tool: d.upstream.as_deref().map(audit::Text::Literal).or(tool),
            tool,
            outcome: outcome.as_str(),
            duration: took,
            request_bytes: self.request_bytes as u64,
            response_bytes: self.response_bytes as u64,
            trace_id: d.trace_id,
            reason: None,
            id: None,
            parent: d.parent,
            policy_audit: d.policy_audit.as_deref().map(audit::Text::Str),
        });
    }

    /// Ends a call that failed because of the backend, saying why.
    pub(super) fn fail(&mut self, why: &str) {
        self.failure = Some(why.to_string());
        self.finish(Outcome::Failed);
    }

    pub(super) fn finish(&mut self, outcome: Outcome) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        if let Some(a) = self.admitted.take() {
            let end = match (outcome, &self.failure) {
                (Outcome::Ok | Outcome::Error, _) => CallEnd::Answered,
                (Outcome::Failed, Some(why)) if self.timed_out => CallEnd::TimedOut(why, a.at),
                (Outcome::Failed, Some(why)) => CallEnd::Failed(why),
                _ => CallEnd::Neutral,
            };
            self.backend.call_ended(a.ticket, end);
        }
        let took = self.started.elapsed();
        self.audit(outcome, took);
        let failed = outcome != Outcome::Ok;
        let tool = self.tool.as_ref().map(|t| json_text(t));
        self.metrics.call(
            &self.backend.name,
            tool.as_deref(),
            took.as_secs_f64(),
            failed,
        );
        tracing::info!(
            target: "metamcp::call",
            key = %self.key.as_ref().map_or("-", |k| k.as_str()),
            subject = %self.subject.as_deref().unwrap_or("-"),
            namespace = %self.namespace.as_deref().unwrap_or("-"),
            method = %method_label(self.method),
            tool = %tool.as_deref().unwrap_or("-"),
            backend = %self.backend.name,
            duration_us = took.as_micros() as u64,
            outcome = %outcome.as_str(),
            request_bytes = self.request_bytes,
            response_bytes = self.response_bytes,
            "call"
        );
    }
}

impl Drop for CallRecord {
    fn drop(&mut self) {
        self.finish(Outcome::Cancelled);
    }
}
