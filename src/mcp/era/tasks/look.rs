//! A look at the tasks holding a key's places in flight on this replica
//! ([`crate::mcp::era::tasks::places::Running`]), when the key is refused for
//! concurrency: each is read from its backend (`tasks/get`, on the era's own path), and
//! those that ended give their places back. A task's end is not always seen on its own
//! (a backend need not announce it, and a client reading `tasks/result` or nothing at all
//! asks no status), so the place a finished task still holds is found when it is wanted.

use std::time::Duration;

use bytes::Bytes;
use hyper::header::HeaderMap;

use crate::base::unix_now_ms;
use crate::jsonrpc::frame;
use crate::jsonrpc::methods::Method;
use crate::mcp::ctx::Ctx;
use crate::mcp::era::tasks::{extension, session};
use crate::mcp::wire::task_ids;

/// How long one task's backend is waited for.
const LOOK_WAIT: Duration = Duration::from_secs(5);

/// Reads the caller's tasks holding places here (at most once a
/// [`LOOK_EVERY`](crate::mcp::era::tasks::places::LOOK_EVERY) per key) and gives back
/// the places of those that ended; whether any did.
pub(crate) async fn free_ended(ctx: &Ctx) -> bool {
    let Some(p) = &ctx.principal else {
        return false;
    };
    let running = &ctx.state.era.tasks_running;
    let gids = running.held_by(&p.key_id);
    let looks = futures_util::future::join_all(
        gids.iter()
            .map(|gid| tokio::time::timeout(LOOK_WAIT, ended(ctx, gid))),
    )
    .await;
    let mut freed = false;
    for (gid, ended) in gids.iter().zip(looks) {
        if ended == Ok(true) {
            running.end(gid);
            freed = true;
        }
    }
    freed
}

/// Whether the caller's task `gid` has ended, as its backend says now. A task this
/// request cannot name (another namespace's endpoint, its id expired) is not looked at.
async fn ended(ctx: &Ctx, gid: &str) -> bool {
    let opened = task_ids::open(
        &ctx.state.cipher,
        gid,
        ctx.kid(),
        ctx.namespace.as_deref(),
        unix_now_ms(),
    );
    if opened.is_err() {
        return false;
    }
    let request = serde_json::json!({
        "jsonrpc": "2.0", "id": 0, "method": Method::TasksGet.as_str(), "params": {"taskId": gid},
    });
    let request = Bytes::from(request.to_string());
    let Ok(f) = frame::parse(&request) else {
        return false;
    };
    let headers = HeaderMap::new();
    let answer = match ctx.stateless {
        false => Box::pin(session::serve_held(ctx, &headers, &request, &f)).await,
        true => Box::pin(extension::serve_held(ctx, &headers, &request, &f)).await,
    };
    session::fetched(answer).await.ended()
}
