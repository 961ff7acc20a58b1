//! Passing a request to the replica that holds what it names: a multi-round-trip
//! retry whose call waits there ([`crate::mcp::era::rounds::retry`]), or a task kept there
//! ([`crate::mcp::era::tasks::session`]). The request goes as it came, marked [`RELAYED`] so it is
//! never passed on again, and its answer comes back as it arrives (replicas need no
//! affinity at the balancer, only `METAMCP_REPLICA_URL`).

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::header::HeaderMap;
use hyper::{Response, StatusCode};

use crate::http::Body;
use crate::jsonrpc::frame;
use crate::mcp::ctx::Ctx;
use crate::mcp::wire::rpc::{RpcError, code};

pub use crate::mcp::wire::relayed::RELAYED;
/// How long a replica waits for another to take a relayed retry's headers.
const RELAY_CONNECT: std::time::Duration = std::time::Duration::from_secs(10);

/// Passes a request to the replica holding what it names (a retry's call, a task), and
/// its answer back as it comes.
pub(crate) async fn relay(
    ctx: &Ctx,
    base: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response<Body> {
    static CLIENT: std::sync::OnceLock<
        hyper_util::client::legacy::Client<
            hyper_util::client::legacy::connect::HttpConnector,
            http_body_util::Full<Bytes>,
        >,
    > = std::sync::OnceLock::new();
    let client = CLIENT.get_or_init(|| {
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http()
    });
    let path = match &ctx.namespace {
        Some(ns) => format!("/mcp/{ns}"),
        None => "/mcp".to_string(),
    };
    let id = frame::parse(body)
        .ok()
        .and_then(|f| f.id.map(|s| s.of(body).to_vec()))
        .unwrap_or_else(|| b"null".to_vec());
    let mut req = hyper::Request::post(format!("{base}{path}"));
    for (name, value) in headers {
        if !matches!(
            name.as_str(),
            "connection"
                | "content-length"
                | "transfer-encoding"
                | "keep-alive"
                | "upgrade"
                | RELAYED
        ) {
            req = req.header(name, value);
        }
    }
    let req = match req
        .header(
            RELAYED,
            crate::mcp::wire::relayed::mark(
                &ctx.state.cipher,
                ctx.kid(),
                body,
                crate::base::unix_now_ms(),
            ),
        )
        .body(http_body_util::Full::new(body.clone()))
    {
        Ok(r) => r,
        Err(e) => {
            return RpcError::method(code::INTERNAL, format!("could not relay the retry: {e}"))
                .response(&id);
        }
    };
    match tokio::time::timeout(RELAY_CONNECT, client.request(req)).await {
        Ok(Ok(resp)) => {
            let (parts, incoming) = resp.into_parts();
            let stream = incoming.map_err(std::io::Error::other);
            Response::from_parts(parts, Body::Stream(Box::pin(stream)))
        }
        Ok(Err(e)) => RpcError::new(
            StatusCode::BAD_GATEWAY,
            code::INTERNAL,
            format!("the replica holding this call did not answer: {e}"),
        )
        .response(&id),
        Err(_) => RpcError::new(
            StatusCode::GATEWAY_TIMEOUT,
            code::INTERNAL,
            "the replica holding this call did not answer in time",
        )
        .response(&id),
    }
}
