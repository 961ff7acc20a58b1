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
use crate::http::ApiError;
use crate::jsonrpc::frame::{Frame, Span, string_value};
use crate::mcp::Ctx;
use crate::mcp::lists::{cursor, discover, listing, page};
use crate::proxy::rpc::{RpcError, code};
use crate::routing::{Served, TaskSupport, ToolRate};

/// Where a request goes.
pub enum Target<'v> {
    /// A result the gateway makes itself.
    Answer(Bytes),
    /// The stateless era's notification stream.
    Listen,
    /// A call the gateway makes: of a tool it serves or of a backend.
    Call(Callee<'v>),
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
fn unavailable(ctx: &Ctx, id: Option<uuid::Uuid>, method: &str, name: &str) -> Option<RpcError> {
    let id = id.filter(|id| ctx.view.members.contains(id))?;
    let b = ctx.state.data.backends.get(&id)?;
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
fn held_check(view: &crate::routing::View, name: &str) -> Result<(), RpcError> {
    match view.held.get(name) {
        Some(why) => Err(held(name, why)),
        None => Ok(()),
    }
}

pub(crate) fn invalid(message: impl Into<String>) -> RpcError {
    RpcError::method(code::INVALID_PARAMS, message)
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
        if let Some(t) = skill_file(view, span, &uri, method)? {
            return Ok(t);
        }
        let backend = view.resource_backend(&uri).ok_or_else(|| {
            unavailable(ctx, view.absent.resource(&uri), method, &uri)
                .unwrap_or_else(|| invalid(format!("unknown resource {uri:?}")))
        })?;
        // A view URI the gateway renamed reaches its server under the server's own.
        let rename = span.zip(view.ui.get(uri.as_ref()).and_then(|r| r.upstream.clone()));
        Ok(Target::Call(Callee::Backend {
            backend,
            rename,
            tool: None,
            task: TaskSupport::Forbidden,
        }))
    };
    let prompt = |span: Option<Span>, what: &str| -> Result<Target<'v>, RpcError> {
        let (span, name) = named(span, what)?;
        held_check(view, &name)?;
        let p = view.prompt(&name).ok_or_else(|| {
            unavailable(
                ctx,
                view.absent.prompts.get(name.as_ref()).copied(),
                method,
                &name,
            )
            .unwrap_or_else(|| invalid(format!("unknown prompt {name:?}")))
        })?;
        Ok(Target::Call(Callee::Backend {
            backend: &p.backend,
            rename: Some((span, p.upstream_name.clone())),
            tool: None,
            task: TaskSupport::Forbidden,
        }))
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
        "tools/list" if view.search => {
            let listed = view.listed_tools();
            Target::Answer(page(listed.iter(), "tools", cursor(body, f)?)?)
        }
        "tools/list" => Target::Answer(page(view.tool_entries(), "tools", cursor(body, f)?)?),
        "prompts/list" => Target::Answer(listing(&view.prompts, "prompts", body, f)?),
        "resources/list" => Target::Answer(listing(&view.resources, "resources", body, f)?),
        "resources/templates/list" => {
            Target::Answer(listing(&view.templates, "resourceTemplates", body, f)?)
        }
        "tools/call" => {
            let (span, name) = named(f.name, "params.name")?;
            if let Some(served) = view.served(&name) {
                return Ok(Target::Call(Callee::Gateway(served)));
            }
            let Some(tool) = view.tool(&name) else {
                return Err(absent_tool(ctx, method, &name));
            };
            Target::Call(Callee::Backend {
                backend: &tool.backend,
                rename: Some((span, tool.upstream_name.clone())),
                tool: Some(tool.rate.as_ref()),
                task: tool.task,
            })
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
                ctx.state.data.subscriptions.remove(&uri, &ctx.conversation);
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
                .data
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

/// Why a tool the view does not route is refused: held for review, disabled in the
/// namespace, its server unavailable, or unknown (with the nearest names).
fn absent_tool(ctx: &Ctx, method: &str, name: &str) -> RpcError {
    let view = &ctx.view;
    if let Err(e) = held_check(view, name) {
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
    unavailable(ctx, owner, method, name).unwrap_or_else(|| unknown_tool(view, name))
}

/// A skill's file ([`crate::mcp::skills::resource`]): its owner, under the owner's URI.
fn skill_file<'v>(
    view: &'v crate::routing::View,
    span: Option<Span>,
    uri: &str,
    method: &str,
) -> Result<Option<Target<'v>>, RpcError> {
    Ok(
        crate::mcp::skills::resource(view, uri, method)?.map(|(backend, rename)| {
            Target::Call(Callee::Backend {
                backend,
                rename: span.zip(rename),
                tool: None,
                task: TaskSupport::Forbidden,
            })
        }),
    )
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

/// A REST tool execution's target: the tool `tool` (the backend's own name) of
/// `backend`, within the caller's reach (a narrowed caller gets 404 for one it does not
/// reach); `name` is the span of the frame's `params.name`, given the backend's own name.
pub(crate) fn rest_tool<'v>(
    ctx: &'v Ctx,
    backend: &'v Arc<Backend>,
    tool: &str,
    name: Option<Span>,
) -> Result<Callee<'v>, ApiError> {
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
        return Err(ApiError::Conflict(why.message(tool)));
    }
    if ctx.is_narrowed() && !ctx.tools_of(backend).iter().any(|(own, _)| own == tool) {
        return Err(ApiError::NotFound(format!(
            "no tool {tool:?} on server {} for this key",
            backend.name
        )));
    }
    Ok(Callee::Backend {
        backend,
        rename: name.map(|span| (span, Bytes::from(crate::jsonrpc::frame::json_string(tool)))),
        tool: Some(entry.and_then(|t| t.rate.as_ref())),
        task: entry.map_or(TaskSupport::Forbidden, |t| t.task),
    })
}
