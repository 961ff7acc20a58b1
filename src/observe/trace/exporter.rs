//! The exporter: one task that drains the tracer's queue and sends each batch to the
//! collector over one reused HTTP/1.1 connection.

use super::*;

pub(super) type Collector = hyper::client::conn::http1::SendRequest<http_body_util::Full<Bytes>>;

/// The exporter's state between batches: the spans being sent, the buffer they are
/// encoded into and the connection to the collector, all reused (a batch allocates
/// nothing once they have grown to size).
#[derive(Default)]
pub(super) struct Exporter {
    pub(super) conn: Option<Collector>,
}

impl Exporter {
    /// POSTs `body` to the collector over the kept connection, or a new one. A kept
    /// connection the collector has closed meanwhile gets one retry on a new one.
    pub(super) async fn post(&mut self, config: &Tracing, body: Bytes) -> Result<(), String> {
        match self.conn.take() {
            Some(conn) if !conn.is_closed() => match send(conn, config, body.clone()).await {
                Err(Stale) => self.post_fresh(config, body).await,
                Ok(r) => r.map(|c| self.conn = c),
            },
            _ => self.post_fresh(config, body).await,
        }
    }

    pub(super) async fn post_fresh(&mut self, config: &Tracing, body: Bytes) -> Result<(), String> {
        let stream = tokio::net::TcpStream::connect(&config.authority)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let _ = stream.set_nodelay(true);
        let (conn, driver) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| format!("handshake: {e}"))?;
        tokio::spawn(driver);
        match send(conn, config, body).await {
            Err(Stale) => Err("the collector closed the connection".into()),
            Ok(r) => r.map(|c| self.conn = c),
        }
    }
}

/// The request never reached the collector (a kept connection it had closed).
pub(super) struct Stale;

/// One POST; `Ok(Ok(conn))` gives back the connection when it may be kept.
pub(super) async fn send(
    mut conn: Collector,
    config: &Tracing,
    body: Bytes,
) -> Result<Result<Option<Collector>, String>, Stale> {
    use http_body_util::BodyExt;
    if conn.ready().await.is_err() {
        return Err(Stale);
    }
    let mut req = hyper::Request::post(config.path.as_str())
        .header(hyper::header::HOST, config.authority.as_str())
        .header(hyper::header::CONTENT_TYPE, "application/x-protobuf");
    for (k, v) in &config.headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let req = match req.body(http_body_util::Full::new(body)) {
        Ok(r) => r,
        Err(e) => return Ok(Err(format!("request: {e}"))),
    };
    let resp = match conn.send_request(req).await {
        Ok(r) => r,
        Err(e) if e.is_canceled() || e.is_incomplete_message() => return Err(Stale),
        Err(e) => return Ok(Err(format!("send: {e}"))),
    };
    let status = resp.status();
    // Read (and bound) the answer so the connection can carry the next batch.
    let whole = http_body_util::Limited::new(resp.into_body(), 64 << 10)
        .collect()
        .await
        .is_ok();
    Ok(if status.is_success() {
        Ok(whole.then_some(conn))
    } else {
        Err(format!("the collector answered {status}"))
    })
}

// --- OTLP protobuf (opentelemetry/proto/collector/trace/v1 and trace/v1) ---
