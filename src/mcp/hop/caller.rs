//! Who a forwarded call is for: what the hop needs to know of the client (its
//! conversation, era, key, namespace, trace, and where its calls in flight and audit rows
//! go), and what follows from it alone: the isolated backend's owner, the call's opened
//! account.

use std::sync::Arc;

use bytes::Bytes;

use crate::backend::Backend;
use crate::backend::isolated::Owner;
use crate::jsonrpc::frame::{self, Frame};
use crate::jsonrpc::methods::Method;
use crate::mcp::hop::calls::{InFlight, ServerRequests, owner_key};
use crate::observe::audit::Audit;
use crate::observe::metrics::Metrics;
use crate::observe::trace::Tracer;

/// Who a forwarded call is for: what the forwarding needs to know of the client.
pub struct Caller<'a> {
    /// The client's conversation (session, key, or anonymous request).
    pub conversation: &'a Arc<str>,
    /// A stateless-era client (results get `resultType` and caching hints).
    pub stateless: bool,
    pub inflight: &'a Arc<InFlight>,
    pub server_requests: &'a Arc<ServerRequests>,
    /// When the client's session expires (unix seconds); `None` in the stateless era.
    pub expires: Option<u64>,
    /// The session's client capabilities; `None`: as the request's `_meta` declares.
    pub caps: Option<u8>,
    /// For the call's metrics and its log line: the key and the namespace, if any.
    pub metrics: &'a Arc<Metrics>,
    pub key: Option<crate::base::KeyId>,
    /// The OAuth subject the key id stands for, if any (for the audit row).
    pub subject: Option<&'a Arc<str>>,
    /// The OAuth identity the caller came with, its token included (`token_exchange`).
    pub inbound: Option<&'a Arc<crate::auth::oauth::Identity>>,
    pub namespace: Option<&'a str>,
    /// Where the call's audit row goes.
    pub audit: &'a Arc<Audit>,
    /// The request's trace and the tracer (when tracing is configured).
    pub trace: Option<(&'a crate::observe::trace::RequestTrace, &'a Arc<Tracer>)>,
    /// The log levels sessions set.
    pub log_levels: &'a Arc<crate::jsonrpc::log_level::Levels>,
    /// How long the call may take, when not the backend's `timeout_ms` (a task's
    /// `tasks/result`).
    pub timeout: Option<std::time::Duration>,
    /// The code-mode run the call was made within (its audit row's `parent`).
    pub run: Option<uuid::Uuid>,
    /// A script's inner call: the run's budget for the answer, when it is collected.
    pub charge: Option<&'a crate::codemode::Charge>,
    /// What policies in audit mode would have decided (its audit row's `policy_audit`).
    pub trial: Option<&'a str>,
    /// The request's place in flight among its key's, which the call keeps while it
    /// goes on past its answer.
    pub kept: Option<&'a Arc<crate::auth::limits::Kept>>,
}

impl Caller<'_> {
    /// The client, as an isolated backend tells its children apart.
    /// `caps`: the capabilities it declared (for the call at hand, in the stateless era).
    pub fn owner(&self, caps: u8) -> Owner<'_> {
        Owner {
            key: owner_key(self.conversation),
            expires: self.expires,
            api_key: self.key,
            caps,
            inbound: self.inbound.map(|i| &**i),
        }
    }

    /// The account of this caller's call of `backend`, opened as it is sent.
    pub(super) fn record(
        &self,
        backend: &Arc<Backend>,
        body: &[u8],
        f: &Frame,
        upstream_name: Option<&Bytes>,
    ) -> super::record::CallRecord {
        let method = super::record::forwarded_method(f);
        // The backend's own name (the same in every namespace).
        let tool = upstream_name
            .filter(|_| method == Some(Method::ToolsCall))
            .cloned();
        let audit = (self.audit.enabled() && method.is_some_and(Method::calls_item)).then(|| {
            let named = if method == Some(Method::ResourcesRead) {
                f.uri
            } else {
                f.name
            };
            // Copied: a slice would keep the whole request body (and the connection's
            // read buffer it came in) alive while the row waits.
            let exposed = named
                .and_then(|s| frame::string_value(body, s))
                .map(|n| Box::from(n.as_ref()));
            // None: the backend knows it by the same name.
            let upstream = upstream_name.cloned();
            super::record::AuditDraft {
                audit: self.audit.clone(),
                at: std::time::SystemTime::now(),
                exposed,
                upstream,
                trace_id: None,
                parent: self.run,
                policy_audit: self.trial.map(Box::from),
            }
        });
        super::record::CallRecord {
            started: tokio::time::Instant::now(),
            metrics: self.metrics.clone(),
            backend: backend.clone(),
            method,
            tool,
            key: self.key,
            subject: self.subject.cloned(),
            namespace: self.namespace.map(Box::from),
            request_bytes: body.len(),
            response_bytes: 0,
            done: false,
            admitted: None,
            failure: None,
            audit,
            span: None,
            tool_error: false,
            timed_out: false,
        }
    }
}
