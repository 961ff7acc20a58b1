//! The phase of a `tools/call` that runs the view's policies ([`ViewPolicies`], the
//! [`crate::policy::Policy`] trait objects of [`crate::routing::View::policies`]): they
//! see the routed call before it is forwarded (any may refuse it, with its JSON-RPC
//! error and the request's id), and, for those that ask, its answer once sent. A view
//! without policies (the default) skips the phase on one emptiness check.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use hyper::Response;

use crate::base::KeyId;
use crate::http::Body;
use crate::jsonrpc::frame::Frame;
use crate::mcp::ctx::Ctx;
use crate::mcp::phases::call_phase::{CallPhase, Next, Routed};
use crate::mcp::wire::rpc::RpcError;
use crate::policy::schema::Schema;
use crate::policy::{Call, Called, Policy};

/// The most of an answer held for policies that see results; a longer one is given to
/// them cut at this length.
pub const MAX_SEEN: usize = 1 << 20;

/// The view's policies on a tool call.
#[derive(Default)]
pub(crate) struct ViewPolicies;

impl CallPhase for ViewPolicies {
    fn idle(&self, ctx: &Ctx, call: &Routed<'_>) -> bool {
        !call.is_tool() || ctx.view.policies.is_empty()
    }

    async fn before(&self, ctx: &Ctx, call: &mut Routed<'_>) -> Result<Next, RpcError> {
        if !call.is_tool() || ctx.view.policies.is_empty() {
            return Ok(Next::Go);
        }
        let named = call.tool_name();
        let schema = match call.served {
            Some(served) => served.schema.as_deref(),
            None => ctx.view.tool(&named).and_then(|t| t.schema.as_deref()),
        };
        let (body, f) = call.request();
        before(ctx, body, f, call.server, &named, schema)?;
        Ok(Next::Go)
    }

    async fn after(
        &self,
        ctx: &Ctx,
        call: &Routed<'_>,
        resp: Response<Body>,
    ) -> Result<Response<Body>, RpcError> {
        if !call.is_tool() || ctx.view.policies.is_empty() {
            return Ok(resp);
        }
        Ok(after(ctx, resp, call.server, &call.tool_name()))
    }
}

/// Runs the view's policies on a routed call of `tool` (of `server`).
fn before(
    ctx: &Ctx,
    body: &[u8],
    f: &Frame,
    server: &str,
    tool: &str,
    schema: Option<&Schema>,
) -> Result<(), RpcError> {
    let arguments = crate::policy::arguments(body, f).map_err(|r| RpcError {
        data: r.data,
        ..RpcError::method(r.code, r.message)
    })?;
    let call = Call {
        called: Called {
            namespace: ctx.namespace.as_deref(),
            server,
            tool,
            caller: ctx.principal.as_ref().map(|p| &p.key_id),
        },
        body,
        arguments,
        schema,
    };
    match crate::policy::check(&ctx.view.policies, &call) {
        None => Ok(()),
        Some((p, r)) => {
            tracing::debug!(policy = p.name(), tool, "a policy refused a call");
            Err(RpcError {
                data: r.data,
                ..RpcError::method(r.code, r.message)
            })
        }
    }
}

/// `resp`, its body watched for the view's policies that see results (unchanged when
/// none does).
fn after(ctx: &Ctx, resp: Response<Body>, server: &str, tool: &str) -> Response<Body> {
    let seeing: Vec<Arc<dyn Policy>> = ctx
        .view
        .policies
        .iter()
        .filter(|p| p.sees_results())
        .cloned()
        .collect();
    if seeing.is_empty() {
        return resp;
    }
    let stream = resp
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    let owned = Owned {
        namespace: ctx.namespace.as_deref().map(str::to_string),
        server: server.to_string(),
        tool: tool.to_string(),
        caller: ctx.principal.as_ref().map(|p| p.key_id),
    };
    resp.map(|body| {
        Body::Stream(Box::pin(Watched {
            body,
            seen: BytesMut::new(),
            stream,
            policies: seeing,
            called: Some(owned),
        }))
    })
}

struct Owned {
    namespace: Option<String>,
    server: String,
    tool: String,
    caller: Option<KeyId>,
}

/// An answer's body, its bytes kept (up to [`MAX_SEEN`]) for the policies that see
/// results, which are given them when it ends.
struct Watched {
    body: Body,
    seen: BytesMut,
    stream: bool,
    policies: Vec<Arc<dyn Policy>>,
    called: Option<Owned>,
}

impl Watched {
    fn ended(&mut self) {
        let Some(o) = self.called.take() else { return };
        let called = Called {
            namespace: o.namespace.as_deref(),
            server: &o.server,
            tool: &o.tool,
            caller: o.caller.as_ref(),
        };
        // The response as the one answer reader finds it; an answer in which none can be
        // found one way is given whole (the policies that see results only record).
        let found = crate::jsonrpc::answer::response(&self.seen, self.stream);
        let answer = match &found {
            Ok(found) => &found.message[..],
            Err(_) => &self.seen[..],
        };
        for p in &self.policies {
            p.after(&called, answer);
        }
    }
}

impl Drop for Watched {
    /// The client went away first: the policies see what was sent.
    fn drop(&mut self) {
        self.ended();
    }
}

impl hyper::body::Body for Watched {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, std::io::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(f))) => {
                if let Some(data) = f.data_ref() {
                    let room = MAX_SEEN.saturating_sub(self.seen.len());
                    let take = data.len().min(room);
                    self.seen.extend_from_slice(&data[..take]);
                }
                // A body that knows its end is not polled past it.
                if self.body.is_end_stream() {
                    self.ended();
                }
            }
            Poll::Ready(None) => self.ended(),
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use crate::jsonrpc::frame;

    #[test]
    fn the_arguments_are_the_frames_own() {
        let body = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t", "arguments" : {"a":[1,2]}}}"#;
        let f = frame::parse_request(body).expect("a frame");
        let args = crate::policy::arguments(body, &f).expect("readable");
        assert_eq!(args, Some(serde_json::json!({"a": [1, 2]})));
        let none = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t"}}"#;
        let f = frame::parse_request(none).expect("a frame");
        assert_eq!(crate::policy::arguments(none, &f), Ok(None));
        // The name spelt with an escape is the same member, as a backend reads it.
        let escaped = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"org":"evil"}}}"#;
        let f = frame::parse_request(escaped).expect("a frame");
        assert_eq!(
            crate::policy::arguments(escaped, &f),
            Ok(Some(serde_json::json!({"org": "evil"})))
        );
    }
}
