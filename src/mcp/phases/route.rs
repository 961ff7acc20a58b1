//! Phase 2, route: a request becomes a [`Target`] (an answer the gateway makes itself, a
//! stream it opens, a tool the gateway serves, or a backend with the name it knows the
//! item by), within the caller's view, which is its reach: an item outside it is unknown.
//! MCP requests of both eras and REST tool execution ([`rest_tool`]) are routed here.

use std::borrow::Cow;
use std::sync::Arc;

use bytes::Bytes;
use hyper::StatusCode;

use crate::backend::Backend;
use crate::base::unix_now;
use crate::jsonrpc::frame::{Frame, Span, string_value};
use crate::jsonrpc::methods::Method;
use crate::mcp::ctx::Ctx;
use crate::mcp::hop::exchange::Shape;
use crate::mcp::lists::{cursor, discover, listing, page};
use crate::mcp::wire::bridge::Bridge;
use crate::mcp::wire::rpc::{RpcError, code};
use crate::routing::{Served, TaskSupport, ToolRate};

/// Where a request goes.
pub enum Target<'v> {
    /// A result the gateway makes itself.
    Answer(Bytes),
    /// The stateless era's notification stream.
    Listen,
    /// A call the gateway makes: of a tool it serves or of a backend.
    Call(Call<'v>),
    /// A call whose bridge is chosen only after asking the backend (a session client's
    /// call to a 2026-07-28 backend, [`Bridge::choose`]); [`Call::new`] asks, and
    /// [`routed`] routes with it.
    Unsettled(Method, Callee<'v>),
}

/// A routed call, as a value: what is called, who serves it, and the era bridge for the
/// pair (the client's era, the backend's as it serves this client), chosen once here.
/// The phases after routing take it and ask it; none asks the eras again.
pub struct Call<'v> {
    /// The method called.
    pub method: Method,
    /// Who serves it.
    pub callee: Callee<'v>,
    /// The era bridge of the pair.
    pub bridge: Bridge,
}

impl<'v> Call<'v> {
    /// `callee`'s call of `method` for the client of `ctx`, the bridge chosen for it
    /// (the gateway's own tools answer in the client's era).
    pub async fn new(ctx: &Ctx, method: Method, callee: Callee<'v>) -> Call<'v> {
        let (method, callee) = match Call::settled(ctx, method, callee) {
            Ok(call) => return call,
            Err(unsettled) => unsettled,
        };
        let bridge = match &callee {
            Callee::Backend { backend, .. } => Bridge::choose(ctx.client_modern(), backend).await,
            Callee::Gateway(_) => Bridge::direct(ctx.client_modern()),
        };
        Call {
            method,
            callee,
            bridge,
        }
    }

    /// The call, when choosing its bridge asks the backend nothing
    /// ([`Bridge::settled`]); its parts back otherwise.
    fn settled(
        ctx: &Ctx,
        method: Method,
        callee: Callee<'v>,
    ) -> Result<Call<'v>, (Method, Callee<'v>)> {
        let bridge = match &callee {
            Callee::Backend { backend, .. } => Bridge::settled(ctx.client_modern(), backend),
            Callee::Gateway(_) => Some(Bridge::direct(ctx.client_modern())),
        };
        match bridge {
            Some(bridge) => Ok(Call {
                method,
                callee,
                bridge,
            }),
            None => Err((method, callee)),
        }
    }
}

/// Where [`reach`] takes a request.
enum Reached<'v> {
    Answer(Bytes),
    Listen,
    Call(Method, Callee<'v>),
}

/// Who serves a routed call.
pub enum Callee<'v> {
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
fn unavailable(
    ctx: &Ctx,
    id: Option<uuid::Uuid>,
    method: Option<Method>,
    name: &str,
) -> Option<RpcError> {
    let id = id.filter(|id| ctx.view.members.contains(id))?;
    let b = ctx.state.data.backends.get(&id)?;
    if b.status() == crate::backend::Status::Running {
        return None;
    }
    let reason = b
        .last_error()
        .unwrap_or_else(|| b.status().as_str().to_string());
    if let Some(method) = method.filter(|m| m.calls_item())
        && ctx.state.observe.audit.enabled()
    {
        ctx.state
            .observe
            .audit
            .record(crate::observe::audit::Entry {
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
                method: method.as_str(),
                tool: Some(name.into()),
                upstream_tool: None,
                outcome: crate::observe::audit::Outcome::Unavailable.as_str(),
                duration: std::time::Duration::ZERO,
                request_bytes: 0,
                response_bytes: 0,
                trace_id: None,
                reason: None,
                id: None,
                parent: ctx.run,
                policy_audit: None,
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
        .data
        .backends
        .all()
        .into_iter()
        .find(|b| b.name.eq_ignore_ascii_case(server) && ctx.view.members.contains(&b.id))?;
    let known = !b.lists().tools.is_empty() || ctx.view.absent.tools.values().any(|id| *id == b.id);
    (!known).then_some(b.id)
}

/// A call of a tool or prompt held for review ([`crate::pins`]): what is held, why, and
/// who can release it, with `data.held: true`.
fn held(name: &str, why: &crate::pins::Why) -> RpcError {
    RpcError {
        data: Some(why.data(name)),
        ..invalid(why.message(name))
    }
}

/// Refuses a call of a tool or prompt `view` holds for review.
fn held_check(
    view: &crate::routing::View,
    item: crate::pins::Item,
    name: &str,
) -> Result<(), RpcError> {
    match view.held.get(&(item, name.to_string())) {
        Some(why) => Err(held(name, why)),
        None => Ok(()),
    }
}

pub(crate) fn invalid(message: impl Into<String>) -> RpcError {
    RpcError::invalid(message)
}

/// A call of a tool the view does not have: the names nearest it, in the message and
/// as `data.suggestions` (and `search_tools` in a searched view).
fn unknown_tool(view: &crate::routing::View, name: &str) -> RpcError {
    let unknown = view.unknown_tool(name);
    RpcError {
        data: Some(unknown.data),
        ..invalid(unknown.message)
    }
}

/// Routes a request to its target within the caller's view (which is its reach: an
/// item outside it is unknown); a call, with the era bridge chosen for it, or
/// [`Target::Unsettled`] when choosing it needs a wait.
///
/// Not `async`: nearly every call's bridge is chosen without a wait, and the call's
/// future then carries no routing future of its own.
pub fn route<'v>(
    ctx: &'v Ctx,
    body: &[u8],
    f: &Frame,
    shape: Shape,
) -> Result<Target<'v>, RpcError> {
    Ok(match reach(ctx, body, f, shape)? {
        Reached::Answer(result) => Target::Answer(result),
        Reached::Listen => Target::Listen,
        Reached::Call(method, callee) => match Call::settled(ctx, method, callee) {
            Ok(call) => Target::Call(call),
            Err((method, callee)) => Target::Unsettled(method, callee),
        },
    })
}

/// [`route`], with a call's bridge chosen even when that needs a wait (never
/// [`Target::Unsettled`]).
pub async fn routed<'v>(
    ctx: &'v Ctx,
    body: &[u8],
    f: &Frame,
    shape: Shape,
) -> Result<Target<'v>, RpcError> {
    Ok(match route(ctx, body, f, shape)? {
        Target::Unsettled(method, callee) => {
            Target::Call(Box::pin(Call::new(ctx, method, callee)).await)
        }
        target => target,
    })
}

/// The request's target within the caller's view.
fn reach<'v>(ctx: &'v Ctx, body: &[u8], f: &Frame, shape: Shape) -> Result<Reached<'v>, RpcError> {
    // The method's name, for messages only (read when one is written).
    let method = || f.method(body).unwrap_or_default();
    let kind = f.kind;
    let view = &ctx.view;
    let named = |span: Option<Span>, what: &str| -> Result<(Span, Cow<'_, str>), RpcError> {
        let span = span.ok_or_else(|| invalid(format!("{} needs {what}", method())))?;
        Ok((span, string_value(body, span).unwrap_or_default()))
    };
    let resource = |span: Option<Span>| -> Result<Callee<'v>, RpcError> {
        let uri = span.and_then(|s| string_value(body, s)).unwrap_or_default();
        if let Some(t) = skill_file(view, span, &uri, kind)? {
            return Ok(t);
        }
        let backend = view.resource_backend(&uri).ok_or_else(|| {
            unavailable(ctx, view.absent.resource(&uri), kind, &uri)
                .unwrap_or_else(|| invalid(format!("unknown resource {uri:?}")))
        })?;
        // A view URI the gateway renamed reaches its server under the server's own.
        let rename = span.zip(view.ui.get(uri.as_ref()).and_then(|r| r.upstream.clone()));
        Ok(Callee::Backend {
            backend,
            rename,
            tool: None,
            task: TaskSupport::Forbidden,
        })
    };
    let prompt = |span: Option<Span>, what: &str| -> Result<Callee<'v>, RpcError> {
        let (span, name) = named(span, what)?;
        held_check(view, crate::pins::Item::Prompt, &name)?;
        let p = view.prompt(&name).ok_or_else(|| {
            unavailable(
                ctx,
                view.absent.prompts.get(name.as_ref()).copied(),
                kind,
                &name,
            )
            .unwrap_or_else(|| invalid(format!("unknown prompt {name:?}")))
        })?;
        Ok(Callee::Backend {
            backend: &p.backend,
            rename: Some((span, p.upstream_name.clone())),
            tool: None,
            task: TaskSupport::Forbidden,
        })
    };
    if ctx.client_modern() && kind.is_some_and(Method::removed_in_2026) {
        return Err(RpcError::new(
            StatusCode::NOT_FOUND,
            code::METHOD_NOT_FOUND,
            format!(
                "method not found: {} is not part of the 2026-07-28 revision",
                method()
            ),
        ));
    }
    let Some(kind) = kind else {
        return Err(not_found(ctx, method()));
    };
    Ok(match kind {
        Method::Ping | Method::LoggingSetLevel => Reached::Answer(Bytes::from_static(b"{}")),
        Method::ServerDiscover => Reached::Answer(Bytes::from(discover(ctx).to_string())),
        Method::ToolsList if view.search => {
            let listed = view.listed_tools();
            Reached::Answer(page(listed.iter(), "tools", cursor(body, f)?)?)
        }
        Method::ToolsList => Reached::Answer(page(view.tool_entries(), "tools", cursor(body, f)?)?),
        Method::PromptsList => Reached::Answer(listing(&view.prompts, "prompts", body, f)?),
        Method::ResourcesList => Reached::Answer(listing(&view.resources, "resources", body, f)?),
        Method::ResourceTemplatesList => {
            Reached::Answer(listing(&view.templates, "resourceTemplates", body, f)?)
        }
        Method::ToolsCall => {
            let (span, name) = named(f.name, "params.name")?;
            if let Some(served) = view.served(&name) {
                return Ok(Reached::Call(kind, Callee::Gateway(served)));
            }
            let Some(tool) = view.tool(&name) else {
                return Err(absent_tool(ctx, &name));
            };
            Reached::Call(
                kind,
                Callee::Backend {
                    backend: &tool.backend,
                    rename: Some((span, tool.upstream_name.clone())),
                    tool: Some(tool.rate.as_ref()),
                    task: tool.task,
                },
            )
        }
        Method::PromptsGet => Reached::Call(kind, prompt(f.name, "params.name")?),
        Method::ResourcesRead | Method::ResourcesUnsubscribe => {
            if f.uri.is_none() {
                return Err(invalid(format!("{} needs params.uri", method())));
            }
            let target = Reached::Call(kind, resource(f.uri)?);
            if kind == Method::ResourcesUnsubscribe
                && let Some(uri) = f.uri.and_then(|s| string_value(body, s))
            {
                ctx.state.data.subscriptions.remove(&uri, &ctx.conversation);
            }
            target
        }
        Method::ResourcesSubscribe => {
            let uri = f
                .uri
                .and_then(|s| string_value(body, s))
                .ok_or_else(|| invalid("resources/subscribe needs params.uri"))?;
            let target = Reached::Call(kind, resource(f.uri)?);
            ctx.state
                .data
                .subscriptions
                .add(&uri, &ctx.holder(), unix_now())
                .map_err(|e| RpcError::method(code::INTERNAL, e.to_string()))?;

            target
        }
        Method::CompletionComplete => {
            let ref_kind = f
                .ref_type
                .and_then(|s| string_value(body, s))
                .unwrap_or_default();
            match ref_kind.as_ref() {
                "ref/prompt" => Reached::Call(kind, prompt(f.ref_name, "ref.name")?),
                "ref/resource" => Reached::Call(kind, resource(f.ref_uri)?),
                _ => return Err(invalid("ref.type must be ref/prompt or ref/resource")),
            }
        }
        Method::SubscriptionsListen if ctx.client_modern() && shape != Shape::Whole => {
            Reached::Listen
        }
        _ => return Err(not_found(ctx, method())),
    })
}

/// A method the gateway does not serve: 404 in the stateless era, as the revision says.
fn not_found(ctx: &Ctx, method: &str) -> RpcError {
    let status = ctx.not_found_status();
    RpcError::new(
        status,
        code::METHOD_NOT_FOUND,
        format!("method not found: {method}"),
    )
}

/// Why a tool the view does not route is refused: held for review, disabled in the
/// namespace, its server unavailable, or unknown (with the nearest names).
fn absent_tool(ctx: &Ctx, name: &str) -> RpcError {
    let view = &ctx.view;
    if let Err(e) = held_check(view, crate::pins::Item::Tool, name) {
        return e;
    }
    if view.disabled.contains(name) {
        return invalid(format!("tool {name:?} is disabled in this namespace"));
    }
    let owner = view
        .absent
        .tools
        .get(name)
        .copied()
        .or_else(|| never_listed(ctx, name));
    unavailable(ctx, owner, Some(Method::ToolsCall), name)
        .unwrap_or_else(|| unknown_tool(view, name))
}

/// A skill's file ([`crate::mcp::skills::resource`]): its owner, under the owner's URI.
fn skill_file<'v>(
    view: &'v crate::routing::View,
    span: Option<Span>,
    uri: &str,
    method: Option<Method>,
) -> Result<Option<Callee<'v>>, RpcError> {
    Ok(
        crate::mcp::skills::resource(view, uri, method)?.map(|(backend, rename)| Callee::Backend {
            backend,
            rename: span.zip(rename),
            tool: None,
            task: TaskSupport::Forbidden,
        }),
    )
}

/// A REST tool execution's target: the tool `tool` (the backend's own name) of
/// `backend`, exposed to the caller as `exposed`, within the caller's reach; `name` is
/// the span of the frame's `params.name`, given the backend's own name. Refused as the
/// same call over MCP is, with the same JSON-RPC error: a tool held for review, one the
/// caller's namespace switches off, one the server does not list or the caller does not
/// reach (never forwarded).
pub(crate) async fn rest_tool<'v>(
    ctx: &'v Ctx,
    backend: &'v Arc<Backend>,
    tool: &str,
    exposed: &str,
    name: Option<Span>,
) -> Result<Call<'v>, RpcError> {
    let entry = ctx
        .view
        .tools
        .iter()
        .find(|t| t.backend.id == backend.id && t.original == tool);
    if let Some(why) =
        ctx.view.held.values().find(|w| {
            w.server == backend.name && w.name == tool && w.item == crate::pins::Item::Tool
        })
    {
        return Err(held(exposed, why));
    }
    if !ctx.tools_of(backend).iter().any(|(own, _)| own == tool) {
        return Err(absent_tool(ctx, exposed));
    }
    let callee = Callee::Backend {
        backend,
        rename: name.map(|span| (span, Bytes::from(crate::jsonrpc::frame::json_string(tool)))),
        tool: Some(entry.and_then(|t| t.rate.as_ref())),
        task: entry.map_or(TaskSupport::Forbidden, |t| t.task),
    };
    Ok(Call::new(ctx, Method::ToolsCall, callee).await)
}
