//! The phase trait of a routed call ([`CallPhase`]): what a phase may do to a call once
//! it is routed, each a method with a no-op default, so a phase overrides only what it
//! does (pingora's `ProxyHttp`). The phases are registered in one list,
//! [`super::Phases`], one line each, and walked in its order:
//!
//! - [`CallPhase::before`] sees the call before it goes on, and lets it go on, refuses it
//!   (its JSON-RPC error), or has the user confirm it first ([`Next::Confirm`]); it may
//!   give the request new bytes ([`Routed::rewrite`]), which later phases and the
//!   forward see.
//! - [`CallPhase::after`] sees its answer once it is forwarded, in the same order, and
//!   may watch it, change it or refuse it.
//!
//! A refusal or a confirmation ends the walk: no later phase sees the call, and no phase
//! sees an answer. A tuple of phases is a phase that walks its members in order, so the
//! list is a type and the walk static: each phase's check of whether it has anything to
//! do (a field of the view, the caller) is inlined into the pipeline, and a view no phase
//! has business with pays those checks only, with no allocation and no dynamic call.

use std::borrow::Cow;

use bytes::Bytes;
use hyper::Response;

use crate::http::Body;
use crate::jsonrpc::frame::{Frame, string_value};
use crate::mcp::confirm::Pending;
use crate::mcp::ctx::Ctx;
use crate::mcp::wire::rpc::RpcError;
use crate::routing::{Served, ToolRate};

/// What the walk does after a phase let a call through its [`CallPhase::before`].
pub(crate) enum Next {
    /// On to the next phase, and then to the callee.
    Go,
    /// The user is asked to confirm the call first ([`crate::mcp::confirm`]); the call,
    /// once confirmed, walks every phase again.
    Confirm(Pending),
}

/// A routed call as its phases see it.
pub(crate) struct Routed<'a> {
    /// The request as the client sent it, and its frame.
    body: &'a Bytes,
    f: &'a Frame,
    /// The request as a phase rewrote it, when one did.
    rewritten: Option<Box<(Bytes, Frame)>>,
    /// The server that owns the callee ([`crate::routing::SERVED_BY`] for the gateway's
    /// own tools).
    pub server: &'a str,
    /// `Some` for a tool call, with the tool's rate in its namespace if it has one;
    /// `None` for another method routed to a backend (a prompt, a resource).
    pub tool: Option<Option<&'a ToolRate>>,
    /// The gateway tool called; `None`: the callee is a backend.
    pub served: Option<&'a Served>,
}

impl<'a> Routed<'a> {
    pub(crate) fn new(
        body: &'a Bytes,
        f: &'a Frame,
        server: &'a str,
        tool: Option<Option<&'a ToolRate>>,
        served: Option<&'a Served>,
    ) -> Routed<'a> {
        Routed {
            body,
            f,
            rewritten: None,
            server,
            tool,
            served,
        }
    }

    /// The request as it goes on: the client's, or a phase's rewriting of it.
    pub(crate) fn request(&self) -> (&Bytes, &Frame) {
        match &self.rewritten {
            Some(r) => (&r.0, &r.1),
            None => (self.body, self.f),
        }
    }

    /// Whether a phase gave the request new bytes.
    pub(crate) fn is_rewritten(&self) -> bool {
        self.rewritten.is_some()
    }

    /// Goes on with `request` (bytes and frame) in place of the request.
    pub(crate) fn rewrite(&mut self, request: Box<(Bytes, Frame)>) {
        self.rewritten = Some(request);
    }

    /// Whether this is a tool call.
    pub(crate) fn is_tool(&self) -> bool {
        self.tool.is_some()
    }

    /// The tool as the client named it (empty when the request names none).
    pub(crate) fn tool_name(&self) -> Cow<'_, str> {
        let (body, f) = self.request();
        f.name
            .and_then(|s| string_value(body, s))
            .unwrap_or_default()
    }
}

/// A phase of a routed call: each method a no-op unless the phase overrides it. `C` is
/// what a phase is given of the request: its context ([`Ctx`]) in the pipeline.
pub(crate) trait CallPhase<C = Ctx> {
    /// Whether the phase looks at answers at all: a walk never runs the `after` of one
    /// that does not (decided when the list is compiled).
    const SEES_ANSWERS: bool = true;

    /// Whether the phase has nothing to do for this call, before or after (a cheap,
    /// synchronous check of what it would check first): the walk passes over it without
    /// making its futures. A phase is never idle unless it says so.
    fn idle(&self, cx: &C, call: &Routed<'_>) -> bool {
        let _ = (cx, call);
        false
    }

    /// Whether no phase will look at this call's answer: the pipeline then returns it as
    /// it came, without the walk after.
    fn answer_unseen(&self, cx: &C, call: &Routed<'_>) -> bool {
        !Self::SEES_ANSWERS || self.idle(cx, call)
    }

    /// Sees the call before it goes on: `Err` refuses it (the callee never sees it).
    async fn before(&self, cx: &C, call: &mut Routed<'_>) -> Result<Next, RpcError> {
        let _ = (cx, call);
        Ok(Next::Go)
    }

    /// Sees the call's answer: the answer as it goes on to the client, or a refusal.
    async fn after(
        &self,
        cx: &C,
        call: &Routed<'_>,
        resp: Response<Body>,
    ) -> Result<Response<Body>, RpcError> {
        let _ = (cx, call);
        Ok(resp)
    }
}

/// A tuple of phases is the phase that walks them in order (up to eight; a ninth phase
/// is one more line below).
macro_rules! in_order {
    ($($phase:ident . $at:tt),+) => {
        impl<C, $($phase: CallPhase<C>),+> CallPhase<C> for ($($phase,)+) {
            const SEES_ANSWERS: bool = $($phase::SEES_ANSWERS)||+;

            fn idle(&self, cx: &C, call: &Routed<'_>) -> bool {
                $(self.$at.idle(cx, call))&&+
            }

            fn answer_unseen(&self, cx: &C, call: &Routed<'_>) -> bool {
                $(self.$at.answer_unseen(cx, call))&&+
            }

            async fn before(&self, cx: &C, call: &mut Routed<'_>) -> Result<Next, RpcError> {
                $(
                    if !self.$at.idle(cx, call)
                        && let Next::Confirm(pending) = self.$at.before(cx, call).await?
                    {
                        return Ok(Next::Confirm(pending));
                    }
                )+
                Ok(Next::Go)
            }

            async fn after(
                &self,
                cx: &C,
                call: &Routed<'_>,
                resp: Response<Body>,
            ) -> Result<Response<Body>, RpcError> {
                $(
                    let resp = match self.$at.answer_unseen(cx, call) {
                        true => resp,
                        false => self.$at.after(cx, call, resp).await?,
                    };
                )+
                Ok(resp)
            }
        }
    };
}

in_order!(A.0);
in_order!(A.0, B.1);
in_order!(A.0, B.1, D.2);
in_order!(A.0, B.1, D.2, E.3);
in_order!(A.0, B.1, D.2, E.3, F.4);
in_order!(A.0, B.1, D.2, E.3, F.4, G.5);
in_order!(A.0, B.1, D.2, E.3, F.4, G.5, H.6);
in_order!(A.0, B.1, D.2, E.3, F.4, G.5, H.6, I.7);

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::jsonrpc::frame;
    use crate::mcp::wire::rpc::code;

    /// The test phases' context: what each saw, in order.
    type Journal = Mutex<Vec<String>>;

    fn note(journal: &Journal, line: String) {
        journal.lock().unwrap_or_else(|p| p.into_inner()).push(line);
    }

    fn lines(journal: &Journal) -> Vec<String> {
        journal.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Sees every call and answer, and says so.
    struct Sees(&'static str);

    impl CallPhase<Journal> for Sees {
        async fn before(&self, j: &Journal, call: &mut Routed<'_>) -> Result<Next, RpcError> {
            note(j, format!("{} before {}", self.0, call.tool_name()));
            Ok(Next::Go)
        }

        async fn after(
            &self,
            j: &Journal,
            call: &Routed<'_>,
            resp: Response<Body>,
        ) -> Result<Response<Body>, RpcError> {
            note(j, format!("{} after {}", self.0, call.tool_name()));
            Ok(resp)
        }
    }

    /// A phase in one file: refuses the tool it names, and has no `after`.
    struct Refuses(&'static str);

    impl CallPhase<Journal> for Refuses {
        async fn before(&self, j: &Journal, call: &mut Routed<'_>) -> Result<Next, RpcError> {
            let tool = call.tool_name();
            note(j, format!("refuses before {tool}"));
            if tool != self.0 {
                return Ok(Next::Go);
            }
            Err(RpcError::method(
                code::POLICY_DENIED,
                format!("{tool} is refused"),
            ))
        }
    }

    /// Asks the user to confirm the tool it names.
    struct Confirms(&'static str);

    impl CallPhase<Journal> for Confirms {
        async fn before(&self, _: &Journal, call: &mut Routed<'_>) -> Result<Next, RpcError> {
            if call.tool_name() != self.0 {
                return Ok(Next::Go);
            }
            Ok(Next::Confirm(Pending {
                policy: "ask".into(),
                tool: self.0.into(),
                server: call.server.into(),
                reason: None,
                arguments: None,
            }))
        }
    }

    /// Gives the request new bytes: the tool renamed.
    struct Renames(&'static str);

    impl CallPhase<Journal> for Renames {
        async fn before(&self, _: &Journal, call: &mut Routed<'_>) -> Result<Next, RpcError> {
            let body = Bytes::from(request(self.0));
            let f = frame::parse_request(&body).map_err(|_| {
                RpcError::method(code::INTERNAL, "the renamed request does not read")
            })?;
            call.rewrite(Box::new((body, f)));
            Ok(Next::Go)
        }
    }

    fn request(tool: &str) -> String {
        format!(
            r#"{{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{{"name":"{tool}","arguments":{{}}}}}}"#
        )
    }

    /// Walks `phases` over a call of `tool`, and on its answer when it goes on.
    async fn walk(
        phases: &impl CallPhase<Journal>,
        journal: &Journal,
        tool: &str,
    ) -> Result<Next, RpcError> {
        let body = Bytes::from(request(tool));
        let f = frame::parse_request(&body).expect("a request");
        let mut call = Routed::new(&body, &f, "github", Some(None), None);
        let next = phases.before(journal, &mut call).await?;
        if let Next::Go = next {
            let answer = Response::new(Body::full(&br#"{"jsonrpc":"2.0","id":7,"result":{}}"#[..]));
            phases.after(journal, &call, answer).await?;
        }
        Ok(next)
    }

    #[tokio::test]
    async fn a_new_phase_is_a_line_of_the_list_and_is_walked_in_its_order() {
        let phases = (Sees("first"), Refuses("delete_repo"), Sees("last"));
        let journal = Journal::default();
        assert!(matches!(
            walk(&phases, &journal, "get_issue").await,
            Ok(Next::Go)
        ));
        assert_eq!(
            lines(&journal),
            [
                "first before get_issue",
                "refuses before get_issue",
                "last before get_issue",
                // The answer, in the same order; a phase without `after` lets it by.
                "first after get_issue",
                "last after get_issue",
            ]
        );
        // The named tool is refused by the new phase: no later phase sees the call, and
        // no phase an answer.
        let journal = Journal::default();
        let refused = walk(&phases, &journal, "delete_repo").await;
        let e = refused.err().expect("refused");
        assert_eq!(e.code, code::POLICY_DENIED);
        assert_eq!(
            lines(&journal),
            ["first before delete_repo", "refuses before delete_repo"]
        );
    }

    #[tokio::test]
    async fn a_confirmation_ends_the_walk_before_the_phases_after_it() {
        let phases = (Sees("rules"), Confirms("merge"), Sees("charge"));
        let journal = Journal::default();
        match walk(&phases, &journal, "merge").await {
            Ok(Next::Confirm(p)) => assert_eq!((&*p.tool, &*p.server), ("merge", "github")),
            _ => panic!("the user is asked first"),
        }
        assert_eq!(lines(&journal), ["rules before merge"]);
    }

    #[tokio::test]
    async fn a_rewritten_request_is_what_later_phases_see() {
        let phases = (Sees("before"), Renames("renamed"), Sees("later"));
        let journal = Journal::default();
        assert!(matches!(
            walk(&phases, &journal, "sent").await,
            Ok(Next::Go)
        ));
        assert_eq!(
            lines(&journal),
            [
                "before before sent",
                "later before renamed",
                "before after renamed",
                "later after renamed",
            ]
        );
    }

    #[test]
    fn the_pipelines_list_keeps_the_order_of_effects() {
        // A rule's refusal or confirmation comes before the tool's rate is charged, the
        // charge before the policies, the policies before the guardrails.
        let list = std::any::type_name::<super::super::Phases>();
        let at = |name: &str| list.find(name).unwrap_or(usize::MAX);
        let order = [
            at("IdentityRules"),
            at("ToolCharge"),
            at("ViewPolicies"),
            at("ExternalGuardrails"),
        ];
        assert!(order.is_sorted() && order[3] != usize::MAX, "{list}");
    }
}
