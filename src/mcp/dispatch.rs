//! Dispatch, in two steps: [`route`] turns a request into a [`Target`] (an answer the
//! gateway makes itself, a stream it opens, or a backend with the name it knows the item
//! by), checking that the caller reaches it; [`dispatch`] then serves the target. So
//! "look up, check reach, forward" is written once, whatever the method.

use std::borrow::Cow;
use std::sync::Arc;

use bytes::Bytes;
use hyper::{Response, StatusCode};

use crate::auth::limits::{InFlight, Refused};
use crate::backend::Backend;
use crate::base::ClientCaps;
use crate::base::unix_now;
use crate::http::Body;
use crate::jsonrpc::frame::{self, Frame, Span, string_value};
use crate::mcp::Ctx;
use crate::mcp::charge;
use crate::mcp::lists::{cursor, discover, list_cache, listing, page, with_hints};
use crate::mcp::policing;
use crate::mcp::stream::listen;
use crate::proxy::calls::{Taken, cancellation, owner_key};
use crate::proxy::forward::forward;
use crate::proxy::rpc::{RpcError, code, envelope, json_response};
use crate::routing::{SERVED_BY, Served, TaskSupport, ToolRate};

/// Where a request goes.
pub enum Target<'v> {
    /// A result the gateway makes itself.
    Answer(Bytes),
    /// The stateless era's notification stream.
    Listen,
    /// A tool the gateway serves itself.
    Gateway(&'v Served),
    /// A backend; `rename` replaces the exposed name (at its span) with the backend's own.
    Backend {
        backend: &'v Arc<Backend>,
        rename: Option<(Span, Bytes)>,
        /// A tool call (counted against a daily quota), with its namespace's rate if any.
        tool: Option<Option<&'v ToolRate>>,
        /// Whether the tool runs as a task (forbidden for anything but a tool).
        task: TaskSupport,
    },
}

/// Why the server `id` of this view cannot serve what the client named, if it is a
/// member that is not running (its items are out of the lists until it is back).
/// A call of the audited kinds (`method` on `name`) is audited as `unavailable`.
fn unavailable(ctx: &Ctx, id: Option<uuid::Uuid>, method: &str, name: &str) -> Option<RpcError> {
    let id = id.filter(|id| ctx.view.members.contains(id))?;
    let b = ctx.state.backends.get(&id)?;
    if b.status() == crate::backend::Status::Running {
        return None;
    }
    let reason = b
        .last_error()
        .unwrap_or_else(|| b.status().as_str().to_string());
    let audited = ["tools/call", "prompts/get", "resources/read"]
        .into_iter()
        .find(|m| *m == method);
    if let Some(method) = audited
        && ctx.state.audit.enabled()
    {
        ctx.state.audit.record(crate::observe::audit::Entry {
            at: std::time::SystemTime::now(),
            kind: crate::observe::audit::Kind::Call,
            key_id: ctx.principal.as_ref().map(|p| p.key_id),
            subject: ctx
                .principal
                .as_ref()
                .and_then(|p| p.oauth.as_ref())
                .map(|o| crate::observe::audit::Text::Str(&o.subject)),
            namespace: ctx
                .namespace
                .as_deref()
                .map(crate::observe::audit::Text::Str),
            server: Some(crate::observe::audit::Text::Str(&b.label)),
            method,
            tool: Some(name.into()),
            upstream_tool: None,
            outcome: crate::observe::audit::Outcome::Unavailable.as_str(),
            duration: std::time::Duration::ZERO,
            request_bytes: 0,
            response_bytes: 0,
            trace_id: None,
        });
    }
    if b.needs_account() {
        // Down for want of its account: say so, and where an admin connects it.
        return Some(RpcError {
            data: Some(serde_json::json!({"server": b.name,
                "authorize": format!("/api/v1/mcp/servers/{}/authorize", b.name)})),
            ..RpcError::method(
                code::UPSTREAM_UNAUTHORIZED,
                format!("server `{}` needs its account connected: {reason}", b.name),
            )
        });
    }
    // Not the client's fault: its server is down.
    Some(RpcError::method(
        code::INTERNAL,
        format!("server `{}` is unavailable: {reason}", b.name),
    ))
}

/// For `<server>__<tool>` of a member that has never listed its tools (it never
/// started): that server, whose names nobody can know yet.
fn never_listed(ctx: &Ctx, name: &str) -> Option<uuid::Uuid> {
    let (server, _) = name.split_once("__")?;
    let b = ctx
        .state
        .backends
        .all()
        .into_iter()
        .find(|b| b.name.eq_ignore_ascii_case(server) && ctx.view.members.contains(&b.id))?;
    let known = !b.lists().tools.is_empty() || ctx.view.absent.tools.values().any(|id| *id == b.id);
    (!known).then_some(b.id)
}

fn invalid(message: impl Into<String>) -> RpcError {
    RpcError::method(code::INVALID_PARAMS, message)
}

/// Routes a request to its target within the caller's view (which is its reach: an
/// item outside it is unknown).
pub fn route<'v>(
    ctx: &'v Ctx,
    body: &[u8],
    f: &Frame,
    collect: bool,
) -> Result<Target<'v>, RpcError> {
    let method = f.method(body).unwrap_or_default();
    let view = &ctx.view;
    let named = |span: Option<Span>, what: &str| -> Result<(Span, Cow<'_, str>), RpcError> {
        let span = span.ok_or_else(|| invalid(format!("{method} needs {what}")))?;
        Ok((span, string_value(body, span).unwrap_or_default()))
    };
    let resource = |span: Option<Span>| -> Result<Target<'v>, RpcError> {
        let uri = span.and_then(|s| string_value(body, s)).unwrap_or_default();
        let backend = view.resource_backend(&uri).ok_or_else(|| {
            unavailable(ctx, view.absent.resource(&uri), method, &uri)
                .unwrap_or_else(|| invalid(format!("unknown resource {uri:?}")))
        })?;
        // A view URI the gateway renamed reaches its server under the server's own.
        let rename = span.zip(view.ui.get(uri.as_ref()).and_then(|r| r.upstream.clone()));
        Ok(Target::Backend {
            backend,
            rename,
            tool: None,
            task: TaskSupport::Forbidden,
        })
    };
    let prompt = |span: Option<Span>, what: &str| -> Result<Target<'v>, RpcError> {
        let (span, name) = named(span, what)?;
        let p = view.prompt(&name).ok_or_else(|| {
            unavailable(
                ctx,
                view.absent.prompts.get(name.as_ref()).copied(),
                method,
                &name,
            )
            .unwrap_or_else(|| invalid(format!("unknown prompt {name:?}")))
        })?;
        Ok(Target::Backend {
            backend: &p.backend,
            rename: Some((span, p.upstream_name.clone())),
            tool: None,
            task: TaskSupport::Forbidden,
        })
    };
    if ctx.stateless && REMOVED_IN_2026.contains(&method) {
        return Err(RpcError::new(
            StatusCode::NOT_FOUND,
            code::METHOD_NOT_FOUND,
            format!("method not found: {method} is not part of the 2026-07-28 revision"),
        ));
    }
    Ok(match method {
        "ping" | "logging/setLevel" => Target::Answer(Bytes::from_static(b"{}")),
        "server/discover" => Target::Answer(Bytes::from(discover(ctx).to_string())),
        "tools/list" => Target::Answer(page(view.tool_entries(), "tools", cursor(body, f)?)?),
        "prompts/list" => Target::Answer(listing(&view.prompts, "prompts", body, f)?),
        "resources/list" => Target::Answer(listing(&view.resources, "resources", body, f)?),
        "resources/templates/list" => {
            Target::Answer(listing(&view.templates, "resourceTemplates", body, f)?)
        }
        "tools/call" => {
            let (span, name) = named(f.name, "params.name")?;
            if let Some(served) = view.served(&name) {
                return Ok(Target::Gateway(served));
            }
            let Some(tool) = view.tool(&name) else {
                if view.disabled.contains(name.as_ref()) {
                    return Err(invalid(format!(
                        "tool {name:?} is disabled in this namespace"
                    )));
                }
                let owner = view
                    .absent
                    .tools
                    .get(name.as_ref())
                    .copied()
                    .or_else(|| never_listed(ctx, &name));
                if let Some(e) = unavailable(ctx, owner, method, &name) {
                    return Err(e);
                }
                return Err(invalid(format!("unknown tool {name:?}")));
            };
            Target::Backend {
                backend: &tool.backend,
                rename: Some((span, tool.upstream_name.clone())),
                tool: Some(tool.rate.as_ref()),
                task: tool.task,
            }
        }
        "prompts/get" => prompt(f.name, "params.name")?,
        "resources/read" | "resources/unsubscribe" => {
            if f.uri.is_none() {
                return Err(invalid(format!("{method} needs params.uri")));
            }
            let target = resource(f.uri)?;
            if method == "resources/unsubscribe"
                && let Some(uri) = f.uri.and_then(|s| string_value(body, s))
            {
                ctx.state.subscriptions.remove(&uri, &ctx.conversation);
            }
            target
        }
        "resources/subscribe" => {
            let uri = f
                .uri
                .and_then(|s| string_value(body, s))
                .ok_or_else(|| invalid("resources/subscribe needs params.uri"))?;
            let target = resource(f.uri)?;
            ctx.state
                .subscriptions
                .add(&uri, &ctx.holder(), unix_now())
                .map_err(|e| RpcError::method(code::INTERNAL, e.to_string()))?;

            target
        }
        "completion/complete" => {
            let kind = f
                .ref_type
                .and_then(|s| string_value(body, s))
                .unwrap_or_default();
            match kind.as_ref() {
                "ref/prompt" => prompt(f.ref_name, "ref.name")?,
                "ref/resource" => resource(f.ref_uri)?,
                _ => return Err(invalid("ref.type must be ref/prompt or ref/resource")),
            }
        }
        "subscriptions/listen" if ctx.stateless && !collect => Target::Listen,
        _ => {
            let status = if ctx.stateless {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::OK
            };
            return Err(RpcError::new(
                status,
                code::METHOD_NOT_FOUND,
                format!("method not found: {method}"),
            ));
        }
    })
}

/// A session's `logging/setLevel`: remembered for its call streams, and when the lowest
/// level any live session wants changes, sent on to every backend of the caller's view
/// that logs (in the background; the client's answer does not wait for them).
fn set_level(ctx: &Ctx, body: &[u8], f: &Frame) -> Result<(), RpcError> {
    let level = f
        .params
        .and_then(|p| frame::container_span(body, p.start))
        .and_then(|p| serde_json::from_slice::<serde_json::Value>(p.of(body)).ok())
        .and_then(|p| p["level"].as_str().map(str::to_string))
        .ok_or_else(|| invalid("logging/setLevel needs params.level"))?;
    let rank = crate::jsonrpc::log_level::rank(&level).ok_or_else(|| {
        invalid(format!(
            "{level:?} is not a log level ({})",
            crate::jsonrpc::log_level::LEVELS.join(", ")
        ))
    })?;
    let expires = ctx.session_expires.unwrap_or(u64::MAX);
    let (before, after) = ctx
        .state
        .log_levels
        .set(&ctx.conversation, rank, expires, unix_now());
    let Some(floor) = after.filter(|a| Some(*a) != before) else {
        return Ok(());
    };
    let name = crate::jsonrpc::log_level::LEVELS[usize::from(floor)];
    let params = format!("{{\"level\":\"{name}\"}}");
    let backends: Vec<Arc<Backend>> = ctx
        .view
        .members
        .iter()
        .filter_map(|id| ctx.state.backends.get(id))
        .filter(|b| b.lists().capabilities.get("logging").is_some())
        .collect();
    let owner = owner_key(&ctx.conversation).to_string();
    let expires = ctx.session_expires;
    tokio::spawn(async move {
        for b in backends {
            // Each of its sessions: the main one and those of client capability sets.
            for caps in b.session_sets() {
                let owner = crate::backend::isolated::Owner {
                    key: &owner,
                    expires,
                    api_key: None,
                    caps,
                    inbound: None,
                };
                let sent = crate::mcp::shared::upstream_request(
                    &b,
                    owner,
                    "logging/setLevel",
                    params.as_bytes(),
                    std::time::Duration::from_secs(5),
                )
                .await;
                if let Err(e) = sent {
                    tracing::debug!(backend = %b.name, error = %e, "logging/setLevel not taken");
                }
            }
        }
    });
    Ok(())
}

/// Requests the 2026-07-28 revision removed: a stateless client asking for one gets 404
/// and -32601, as for any method the gateway does not serve.
const REMOVED_IN_2026: [&str; 5] = [
    "initialize",
    "ping",
    "logging/setLevel",
    "resources/subscribe",
    "resources/unsubscribe",
];

/// Answers a request; `collect` returns whole JSON bodies (for batches and REST).
pub async fn dispatch(
    ctx: &Ctx,
    body: &Bytes,
    f: &Frame,
    collect: bool,
) -> Result<Response<Body>, RpcError> {
    // Limits first: a refused request costs no backend work.
    let held = admit(ctx)?;
    if !ctx.stateless && f.method(body) == Some("logging/setLevel") {
        set_level(ctx, body, f)?;
    }
    // Some backends offer this caller fewer tools than they list to the gateway: a
    // listing of its own (never shared between callers).
    if f.method(body) == Some("tools/list")
        && let Some(result) = crate::mcp::lists::tools_for(ctx, body, f).await?
    {
        let id = f.id.map_or(&b"null"[..], |s| s.of(body));
        let cache = crate::mcp::lists::Cache {
            public: false,
            ..list_cache(ctx)
        };
        return Ok(json_response(
            StatusCode::OK,
            envelope(
                id,
                "result",
                &with_hints(result, ctx.stateless, Some(cache)),
            ),
        ));
    }
    match route(ctx, body, f, collect)? {
        Target::Answer(result) => {
            let id = f.id.map_or(&b"null"[..], |s| s.of(body));
            Ok(json_response(
                StatusCode::OK,
                envelope(
                    id,
                    "result",
                    &with_hints(result, ctx.stateless, Some(list_cache(ctx))),
                ),
            ))
        }
        Target::Listen => listen(
            ctx,
            Some(crate::mcp::era::listen::Subscription::parse(body, f)?),
        ),
        Target::Gateway(served) => {
            if let Some(p) = &ctx.principal {
                charge_tool_call(ctx, p, served.rate.as_ref())?;
                ctx.state.auth.usage.called(p.key_id.as_str());
            }
            let policed = !ctx.view.policies.is_empty();
            if policed {
                let schema = served.schema.as_deref();
                policing::before(ctx, body, f, SERVED_BY, &served.name, schema)?;
            }
            let mut resp = crate::mcp::served::call(ctx, body, f, served).await?;
            if policed {
                resp = policing::after(ctx, resp, SERVED_BY, &served.name);
            }
            Ok(match held {
                Some(held) => resp.map(|b| self::held(b, held)),
                None => resp,
            })
        }
        Target::Backend {
            backend,
            rename,
            tool,
            task,
        } => {
            if let Some(p) = &ctx.principal {
                if let Some(rate) = tool {
                    charge_tool_call(ctx, p, rate)?;
                }
                ctx.state.auth.usage.called(p.key_id.as_str());
            }
            let method = f.method(body).unwrap_or_default();
            // The policy phase: a tools/call of a view with policies.
            let policed = tool.is_some() && !ctx.view.policies.is_empty();
            let named = if policed {
                f.name
                    .and_then(|s| string_value(body, s))
                    .unwrap_or_default()
            } else {
                Cow::Borrowed("")
            };
            if policed {
                let schema = ctx.view.tool(&named).and_then(|t| t.schema.as_deref());
                policing::before(ctx, body, f, &backend.name, &named, schema)?;
            }
            if matches!(method, "resources/subscribe" | "resources/unsubscribe")
                && let Some(uri) = f.uri.and_then(|s| string_value(body, s))
            {
                crate::mcp::shared::record(ctx, method, &uri).await;
                if backend.is_modern() {
                    // The revision has no resources/subscribe: the backend's listen
                    // stream follows the resource instead.
                    let on =
                        method == "resources/subscribe" || ctx.state.subscriptions.is_held(&uri);
                    backend
                        .follow(&uri, on)
                        .map_err(|e| RpcError::method(code::INTERNAL, e))?;
                    let id = f.id.map_or(&b"null"[..], |s| s.of(body));
                    return Ok(json_response(StatusCode::OK, envelope(id, "result", b"{}")));
                }
            }
            // A session's task call (a batch's too: its answer is whole JSON already)
            // gets the gateway's task id, is recorded and counts against the key's bound.
            let resp = if method == "tools/call"
                && !ctx.stateless
                && crate::mcp::tasks::asks_task(body, f)
            {
                Box::pin(crate::mcp::tasks::call(ctx, body, f, backend, rename)).await?
            } else if method == "tools/call" && ctx.stateless {
                use crate::mcp::task_ext::{self, Plan};
                match task_ext::plan(body, f, backend, task)? {
                    Plan::Task if !collect => {
                        Box::pin(task_ext::call(ctx, body, f, backend, rename)).await?
                    }
                    Plan::Without(plain) => {
                        let (pf, rename) = task_ext::reframe(&plain, rename)?;
                        forward(&ctx.caller(), &plain, &pf, backend, rename, collect).await
                    }
                    _ => forward(&ctx.caller(), body, f, backend, rename, collect).await,
                }
            } else {
                forward(&ctx.caller(), body, f, backend, rename, collect).await
            };
            let resp = if policed {
                policing::after(ctx, resp, &backend.name, &named)
            } else {
                resp
            };
            Ok(match held {
                // The place is held until the answer has been sent.
                Some(held) => resp.map(|b| {
                    Body::Stream(Box::pin(Held {
                        body: b,
                        _held: held,
                    }))
                }),
                None => resp,
            })
        }
    }
}

/// Applies the caller's key limits to one request: its rate, then a place among its
/// requests in flight (held by the caller until the answer is sent).
pub(crate) fn admit(ctx: &Ctx) -> Result<Option<InFlight>, RpcError> {
    match &ctx.principal {
        Some(p) => charge::request_in_flight(&ctx.state, p).map_err(|r| limited(&r)),
        None => Ok(None),
    }
}

/// Charges one request to the caller's key rate alone (opening a stream).
pub(crate) fn charge_rate(ctx: &Ctx) -> Result<(), RpcError> {
    match &ctx.principal {
        Some(p) => charge::request(&ctx.state, p).map_err(|r| limited(&r)),
        None => Ok(()),
    }
}

/// A stream refused by the stream bounds (counted like the key's other refusals).
pub(crate) fn refuse_stream(ctx: &Ctx, r: &Refused) -> RpcError {
    if let Some(p) = &ctx.principal {
        ctx.state.over_limit(&p.key_id, r);
    }
    limited(r)
}

/// Charges a tool call to the tool's own rate and the key's daily quota.
fn charge_tool_call(
    ctx: &Ctx,
    p: &crate::auth::Principal,
    rate: Option<&ToolRate>,
) -> Result<(), RpcError> {
    charge::tool_call(&ctx.state, p, rate).map_err(|r| limited(&r))
}

/// A refusal of the key's limits as a JSON-RPC error (HTTP 429, `-32029`).
fn limited(r: &Refused) -> RpcError {
    RpcError::limited(r.message.clone(), r.kind.as_str(), r.retry_after_ms)
}

/// `body` holding the key's place in flight until it has been sent.
pub(crate) fn held(body: Body, held: InFlight) -> Body {
    Body::Stream(Box::pin(Held { body, _held: held }))
}

/// An answer's body with the key's place in flight, given back when it has been sent.
struct Held {
    body: Body,
    _held: InFlight,
}

impl hyper::body::Body for Held {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, std::io::Error>>> {
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

/// A client's answer to a backend's request: sent to that backend with its own id.
pub async fn answer_backend(ctx: &Ctx, body: &Bytes, f: &Frame) {
    let Some(span) = f.id else { return };
    match ctx
        .state
        .server_requests
        .take(&ctx.conversation, span.of(body))
    {
        Some(Taken::Backend(backend, original, via)) => {
            let upstream = frame::splice(body, &mut [(span, &original[..])]);
            backend
                .notify(owner_key(&ctx.conversation), via, upstream)
                .await;
        }
        Some(Taken::Gateway(waiter)) => {
            let _ = waiter.send(body.clone());
        }
        None => tracing::debug!("a client answered a request nobody is waiting for"),
    }
}

/// A session client's roots changed: the backends of its view are told, each on the
/// session of it that serves this client, if that session is open (nothing is started
/// just to be told; a 2026-07-28 backend asks for roots with each request instead).
/// A session shared with other clients hears it too, and asks for roots again during
/// the next call that needs them, which the asking client answers.
pub async fn roots_changed(ctx: &Ctx) {
    if ctx.client_caps.is_some_and(|c| c & ClientCaps::ROOTS == 0) {
        return;
    }
    let owner = owner_key(&ctx.conversation);
    let via = ctx.client_caps.unwrap_or(ClientCaps::ALL);
    let message =
        Bytes::from_static(br#"{"jsonrpc":"2.0","method":"notifications/roots/list_changed"}"#);
    let backends: Vec<Arc<Backend>> = ctx
        .view
        .members
        .iter()
        .filter_map(|id| ctx.state.backends.get(id))
        .filter(|b| !b.is_modern() && b.status() == crate::backend::Status::Running)
        .collect();
    futures_util::future::join_all(
        backends
            .iter()
            .map(|b| b.notify(owner, via, message.clone())),
    )
    .await;
}

/// Forwards the client's cancellation to the backend running the request.
pub async fn cancel(ctx: &Ctx, body: &Bytes, f: &Frame) {
    let Some(rid) = f.request_id else { return };
    let key = (
        ctx.conversation.clone(),
        Bytes::copy_from_slice(rid.of(body)),
    );
    if let Some(p) = ctx.state.inflight.remove(&key) {
        p.backend
            .notify(
                owner_key(&ctx.conversation),
                p.via,
                cancellation(
                    &crate::backend::upstream_id(p.upstream),
                    "cancelled by the client",
                ),
            )
            .await;
    }
}
