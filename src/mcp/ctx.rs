//! The request's context ([`Ctx`]): who calls, on which endpoint, what they reach and in
//! which era, built once per request; with what the user answered a policy's confirmation
//! of it. Below everything that serves a request, so none of them imports the endpoint.

use std::sync::Arc;

use crate::auth::Principal;
use crate::backend::Backend;
use crate::mcp::hop::caller::Caller;
use crate::mcp::planes::Planes;
use crate::mcp::wire::request_state::StateError;
use crate::routing::{Table, View};

/// The conversation of a request not yet admitted (shared, so a request allocates none).
fn no_conversation() -> Arc<str> {
    static EMPTY: std::sync::OnceLock<Arc<str>> = std::sync::OnceLock::new();
    EMPTY.get_or_init(|| Arc::from("")).clone()
}

/// Who and where a request is: built once per request.
pub struct Ctx {
    pub state: Arc<Planes>,
    pub principal: Option<Principal>,
    pub namespace: Option<String>,
    pub table: Arc<Table>,
    /// What this caller reaches: the endpoint's view, or for a key limited to
    /// namespaces on `/mcp` the union of those namespaces' views.
    pub view: Arc<View>,
    pub stateless: bool,
    /// Key for this client's in-flight requests (session or key).
    pub conversation: Arc<str>,
    /// The session's expiry (unix seconds), once a session-era request is admitted.
    pub session_expires: Option<u64>,
    /// The session's client capabilities ([`ClientCaps`] bits); `None` when each
    /// request declares its own (stateless era) or there is no client to ask (REST).
    ///
    /// [`ClientCaps`]: crate::base::ClientCaps
    pub client_caps: Option<u8>,
    /// This request's trace, when tracing is configured.
    pub trace: Option<Box<crate::observe::trace::RequestTrace>>,
    /// What the user answered a policy's confirmation of this call, if asked.
    pub confirmation: Confirmation,
    /// A `run_code` call resuming a run suspended for the user (2026-07-28): its
    /// journal, the inner call asked about, and the answer.
    pub resume: Option<Box<crate::mcp::wire::run_state::Resume>>,
    /// The code-mode run this call was made within: its audit identity, which the row of
    /// each call made in this context names as `parent`. `None` but for a script's inner
    /// calls ([`crate::mcp::phases::inner`]).
    pub run: Option<uuid::Uuid>,
    /// A script's inner call: its share of the run's budget for inner results, which
    /// the reader of its answer grows before it buffers more ([`crate::codemode::budget`]).
    pub charge: Option<crate::codemode::Charge>,
    /// What the policies in audit mode would have decided on this call (set by the
    /// policies phase, once), for its audit row's `policy_audit`.
    pub trial: std::sync::OnceLock<Box<str>>,
    /// The place in flight phase 1 took for this request (its key has a
    /// `max_concurrent`), which its call keeps while it goes on past its answer.
    pub kept: std::sync::OnceLock<Arc<crate::auth::limits::Kept>>,
}

impl Ctx {
    pub fn new(
        state: &Arc<Planes>,
        principal: Option<Principal>,
        namespace: Option<&str>,
    ) -> Option<Ctx> {
        Ctx::in_table(state, state.data.routing.load(), principal, namespace)
    }

    /// [`Ctx::new`] within a routing table the caller loaded already (the endpoint's,
    /// which looked up the namespace's view in it: one load a request).
    pub fn in_table(
        state: &Arc<Planes>,
        table: Arc<Table>,
        principal: Option<Principal>,
        namespace: Option<&str>,
    ) -> Option<Ctx> {
        let view = match (&principal, namespace) {
            (Some(p), None) if p.is_limited() && !p.is_admin() => table.reach(&p.namespaces),
            _ => table.view(namespace)?.clone(),
        };
        Some(Ctx {
            state: state.clone(),
            principal,
            namespace: namespace.map(str::to_string),
            table,
            view,
            stateless: false,
            conversation: no_conversation(),
            session_expires: None,
            client_caps: None,
            trace: None,
            confirmation: Confirmation::Unasked,
            resume: None,
            run: None,
            charge: None,
            trial: std::sync::OnceLock::new(),
            kept: std::sync::OnceLock::new(),
        })
    }

    /// The same caller, for a call made on its behalf (a confirmed call, a script's inner
    /// call), with `confirmation` as what the user answered for it.
    pub(crate) fn derived(&self, confirmation: Confirmation) -> Ctx {
        Ctx {
            state: self.state.clone(),
            principal: self.principal.clone(),
            namespace: self.namespace.clone(),
            table: self.table.clone(),
            view: self.view.clone(),
            stateless: self.stateless,
            conversation: self.conversation.clone(),
            session_expires: self.session_expires,
            client_caps: self.client_caps,
            trace: self.trace.clone(),
            confirmation,
            resume: None,
            run: self.run,
            charge: self.charge.clone(),
            trial: std::sync::OnceLock::new(),
            kept: std::sync::OnceLock::new(),
        }
    }

    /// The context of one call made within this one (a code-mode script's inner call):
    /// the same caller, run and confirmation, under a span of its own that is a child of
    /// this call's.
    pub(crate) fn nested(&self) -> Ctx {
        Ctx {
            trace: self.trace.as_ref().map(|t| Box::new(t.nested())),
            ..self.derived(self.confirmation)
        }
    }

    pub(crate) fn kid(&self) -> &str {
        self.principal.as_ref().map_or("", |p| p.key_id.as_str())
    }

    /// Whether this caller's reach is narrower than every server: a key limited to
    /// namespaces (on `/mcp`, the union of their views) or a namespace endpoint.
    pub(crate) fn is_narrowed(&self) -> bool {
        self.namespace.is_some()
            || self
                .principal
                .as_ref()
                .is_some_and(|p| p.is_limited() && !p.is_admin())
    }

    /// This client as the holder of resource subscriptions.
    pub(crate) fn holder(&self) -> crate::routing::subscriptions::Holder<'_> {
        crate::routing::subscriptions::Holder {
            conversation: &self.conversation,
            key: self.kid(),
            session_expires: self.session_expires,
        }
    }

    /// This client as the caller of a forwarded call.
    pub(crate) fn caller(&self) -> Caller<'_> {
        Caller {
            conversation: &self.conversation,
            stateless: self.stateless,
            inflight: &self.state.data.inflight,
            server_requests: &self.state.data.server_requests,
            expires: self.session_expires,
            caps: self.client_caps,
            metrics: &self.state.observe.metrics,
            key: self.principal.as_ref().map(|p| p.key_id),
            subject: self
                .principal
                .as_ref()
                .and_then(|p| p.oauth.as_ref())
                .map(|o| &o.subject),
            inbound: self.principal.as_ref().and_then(|p| p.oauth.as_ref()),
            namespace: self.namespace.as_deref(),
            audit: &self.state.observe.audit,
            trace: self
                .trace
                .as_deref()
                .zip(self.state.observe.tracer.as_ref()),
            log_levels: &self.state.data.log_levels,
            timeout: None,
            run: self.run,
            charge: self.charge.as_ref(),
            trial: self.trial.get().map(|t| &**t),
            kept: self.kept.get(),
        }
    }

    /// The views whose list changes this caller hears about.
    pub(crate) fn watched_views(&self) -> Vec<Option<String>> {
        match &self.principal {
            Some(p) if self.namespace.is_none() && p.is_limited() && !p.is_admin() => {
                p.namespaces.iter().cloned().map(Some).collect()
            }
            _ => vec![self.namespace.clone()],
        }
    }

    /// The tools of `backend` this caller reaches, by the backend's own name, with the
    /// name the caller knows each by. Every tool the backend lists when nothing narrows
    /// the caller's reach.
    pub(crate) fn tools_of(&self, backend: &Backend) -> Vec<(String, String)> {
        if !self.is_narrowed() {
            return backend
                .lists()
                .tools
                .iter()
                .filter_map(|t| t["name"].as_str())
                .map(|n| {
                    let exposed = crate::routing::exposed_name(&backend.name, n, true);
                    (n.to_string(), exposed)
                })
                .collect();
        }
        self.view
            .tools
            .iter()
            .filter(|t| t.backend.id == backend.id)
            .map(|t| (t.original.clone(), t.name.clone()))
            .collect()
    }
}

/// Where a call stands with the user's confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Confirmation {
    /// Nobody asked yet (every call at first).
    #[default]
    Unasked,
    /// The user said yes: a `confirm` lets the call go on.
    Accepted,
    /// The answer that came was no (or none came): a `confirm` refuses the call.
    Refused(Outcome),
    /// A script's inner call: a `confirm` is handed back to its run (answered
    /// `input_required` with the question and the call's own confirmation state), which
    /// asks its client the way that client can be asked ([`crate::mcp::code_run`]).
    ByRun,
}

/// What happened to a confirmation that did not let the call go on (`data.outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Declined,
    Cancelled,
    TimedOut,
    Gone,
    TooMany,
    CannotAsk,
    State(StateError),
    /// The state was used already: a confirmation runs its call once.
    Used,
    /// Its use could not be recorded (the database), so it is not taken.
    Unrecorded,
    /// The arguments cannot all be shown in the question, however shortened.
    TooLarge,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Declined => "declined",
            Outcome::Cancelled => "cancelled",
            Outcome::TimedOut => "timed out",
            Outcome::Gone => "client gone",
            Outcome::TooMany => "too many",
            Outcome::CannotAsk => "cannot ask",
            Outcome::State(_) => "invalid state",
            Outcome::Used => "used",
            Outcome::Unrecorded => "not recorded",
            Outcome::TooLarge => "too large to confirm",
        }
    }
}
