//! `fixedserver`: a plain hyper 1.x server (current-thread runtime, HTTP/1.1 keep-alive)
//! answering every request with one fixed JSON-RPC result, session header included. The
//! baseline for what the gateway answers itself (`ping`, cached `tools/list`) in
//! `loadtest/selfanswer.sh`: the same HTTP stack with none of the gateway's work.
//!
//! ```text
//! fixedserver [--port N] [--body FILE]   # prints the port first
//! ```
//!
//! `--body FILE` answers with that file's bytes instead (selfanswer.sh gives it the
//! gateway's own `tools/list` answer, so both send the same bytes).

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ANSWER: &[u8] = br#"{"jsonrpc":"2.0","id":1,"result":{}}"#;

async fn answer(
    req: Request<hyper::body::Incoming>,
    body: Bytes,
) -> Result<Response<Full<Bytes>>, Infallible> {
    // Read the body, as a server must before answering a keep-alive request.
    let _ = req.into_body().collect().await;
    let mut r = Response::new(Full::new(body));
    let h = r.headers_mut();
    h.insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    h.insert(
        "mcp-session-id",
        hyper::header::HeaderValue::from_static("fixed"),
    );
    Ok(r)
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let port = args
        .iter()
        .position(|a| a == "--port")
        .and_then(|i| args.get(i + 1))
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or(0);
    let body = match args.iter().position(|a| a == "--body") {
        Some(i) => Bytes::from(std::fs::read(
            args.get(i + 1)
                .ok_or_else(|| std::io::Error::other("--body needs a file"))?,
        )?),
        None => Bytes::from_static(ANSWER),
    };
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
            println!("{}", listener.local_addr()?.port());
            loop {
                let (stream, _) = listener.accept().await?;
                stream.set_nodelay(true)?;
                let body = body.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| answer(req, body.clone()));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        })
}
