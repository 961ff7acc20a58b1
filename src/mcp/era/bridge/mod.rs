//! The era bridges: a call crosses one of four pairs of eras (the client's, the
//! backend's); [`Bridge`] is chosen once per call, when it is routed
//! (`mcp::phases::route::Call`), and the phases and the hop ask it, not the eras, what to
//! do. Above `backend/`, this file alone asks a backend's era ([`Bridge::choose`],
//! [`Bridge::stateless`], [`follows_on_listen`], [`hears_roots_changed`]). The bridge
//! says which envelope a request needs, what a result is given, whether the backend's
//! questions become rounds for the client ([`crate::mcp::era::rounds`]) or requests to it
//! (`session_to_modern`).

use std::future::Future;
use std::pin::Pin;

use hyper::Response;

use crate::backend::Backend;
use crate::http::Body;
use crate::mcp::era::plane::EraPlane;
use crate::mcp::era::rounds::{self, Rounds};
use crate::mcp::hop::caller::Caller;
use crate::mcp::hop::exchange::{Exchange, Hopped, Shape};

pub(crate) mod session_to_modern;

pub use crate::mcp::wire::bridge::Bridge;

/// Whether `backend` follows the resources a session client subscribes to on its own
/// `subscriptions/listen` stream (a 2026-07-28 backend, even one that takes sessions:
/// the revision has no `resources/subscribe`), rather than by a `resources/subscribe`.
pub fn follows_on_listen(backend: &Backend) -> bool {
    backend.is_modern()
}

/// Whether `backend` holds sessions to tell a client's `roots/list_changed` (a
/// 2026-07-28 backend asks for roots with each request instead).
pub fn hears_roots_changed(backend: &Backend) -> bool {
    !backend.is_modern()
}

/// The adapter of the call's pair of eras around the hop: the call sent through the hop
/// ([`crate::mcp::hop::forward::forward`]), and what the hop hands back finished here: a
/// session client's call of a 2026-07-28 backend has the backend's `input_required`
/// put to it as requests (`session_to_modern`); a 2026-07-28 client's call of a
/// session-era backend has the backend's requests held as rounds ([`rounds`]); an
/// account to connect or URLs to visit are asked for in the client's era (`consent`).
///
/// The call's future lives on the heap: every future that awaits it (the whole request
/// path) then holds a pointer instead of embedding it, and each of them is moved at
/// least once, so their size is paid for on every request.
pub fn forward<'a>(
    era: &'a EraPlane,
    caller: &'a Caller<'a>,
    ex: Exchange<'a>,
) -> Pin<Box<dyn Future<Output = Response<Body>> + Send + 'a>> {
    crate::base::boxed(move || adapt(era, caller, ex))
}

async fn adapt(era: &EraPlane, caller: &Caller<'_>, mut ex: Exchange<'_>) -> Response<Body> {
    let (body, f, backend, shape) = (ex.body, ex.f, ex.backend, ex.shape);
    if shape == Shape::Streamed && ex.bridge.asks_client(f.kind) {
        // The backend may answer `input_required`: a session client is asked instead.
        // The first round goes as any call; the bridge carries on.
        let rename = ex.rename.clone();
        let first = crate::mcp::hop::forward::forward(caller, ex).await;
        let first = Box::pin(finish(era, caller, body, f, backend, shape, first)).await;
        return Box::pin(session_to_modern::rounds(
            first, era, caller, body, f, backend, rename,
        ))
        .await;
    }
    if shape == Shape::Streamed && ex.bridge.rounds_for_client(f.kind) {
        ex.shape = Shape::Held;
    }
    let hopped = crate::mcp::hop::forward::forward(caller, ex).await;
    match hopped {
        Hopped::Answer(r) => r,
        other => Box::pin(finish(era, caller, body, f, backend, shape, other)).await,
    }
}

/// What the hop handed back, finished in the client's era.
pub async fn finish(
    era: &EraPlane,
    caller: &Caller<'_>,
    body: &bytes::Bytes,
    f: &crate::jsonrpc::frame::Frame,
    backend: &std::sync::Arc<Backend>,
    shape: Shape,
    hopped: Hopped,
) -> Response<Body> {
    let method = f.method(body).unwrap_or_default();
    match hopped {
        Hopped::Answer(r) => r,
        Hopped::NeedsAccount(why, rename) => {
            super::consent::ask(era, caller, body, f, backend, rename, shape, &why).await
        }
        Hopped::UrlsFirst(asks) => {
            let client_id = f.id.map_or(&b"null"[..], |s| s.of(body));
            rounds::to_the_urls(&era.parked, caller, body, method, client_id, &asks)
        }
        Hopped::Held(stream) => {
            // The digest is taken when a round ends (most calls ask nothing).
            let binding = rounds::binding(caller, method, String::new());
            rounds::respond(Rounds::new(stream, era.parked.clone(), binding)).await
        }
    }
}
