//! A backend's supervisor: announce its start, connect (initialize, then every list),
//! mark it running, watch
//! its own messages until they end or a ping fails, then reconnect with backoff. A
//! reconnection closes the backend's circuit: it answers again.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::mpsc;

use super::*;
use crate::jsonrpc::methods::Method;

/// Runs one backend until aborted.
pub(super) async fn supervise(b: Arc<Backend>, changed: mpsc::UnboundedSender<()>) {
    let mut backoff = Duration::from_millis(100);
    let mut first = true;
    // Its first start is announced as well, so what replicas write for `keyadm servers
    // list` says `starting` (as REST does) from the start, not `unknown`.
    let _ = b.statuses.send(StatusChange {
        id: b.id,
        name: b.name.clone(),
        status: Status::Starting,
        reason: "starting".into(),
    });
    loop {
        // Every start after the first one follows a failure: a restart (waiting for an
        // account to be connected is not one).
        if !std::mem::take(&mut first) && !b.needs_account.load(Ordering::Relaxed) {
            b.restarts.fetch_add(1, Ordering::Relaxed);
        }
        match b.connect().await {
            Ok(()) => {
                backoff = Duration::from_millis(100);
                *b.last_error.lock().unwrap_or_else(|p| p.into_inner()) = None;
                b.needs_account.store(false, Ordering::Relaxed);
                b.last_connected
                    .store(crate::base::unix_now(), Ordering::Relaxed);
                b.number_connection();
                b.change_status(Status::Running, "connected");
                // A stdio (or legacy SSE) server is asked once, off every client's path,
                // whether it offers a client that declared nothing every tool: then no
                // capability set needs a child of its own (a new set's first call started
                // one: about 1 s for mcp-server-time).
                if b.varies() && !matches!(b.transport, Transport::Http(_)) {
                    let probe = b.clone();
                    tokio::spawn(async move {
                        let _ = probe.variant(0).await;
                    });
                }
                // Initialized and listed: the backend answers, so calls may go to it.
                b.announce(b.breaker.reconnected());
                let _ = changed.send(());
                let e = b.watch(&changed).await;
                b.record_error(&e);
                b.change_status(Status::Failed, &e.to_string());
                let _ = changed.send(());
            }
            Err(e) => {
                b.record_error(&e);
                if b.change_status(Status::Failed, &e.to_string()) {
                    let _ = changed.send(());
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            () = b.wake.notified() => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Watching a running backend: pings, its own messages, list changes.
impl Backend {
    async fn ping(&self) -> Result<(), UpstreamError> {
        let id = format!(
            "metamcp-ping-{}",
            self.next_id.fetch_add(1, Ordering::Relaxed)
        );
        self.transport
            .call(&id, Method::Ping.as_str(), json!({}))
            .await
            .map(|_| ())
    }

    /// Watches a running backend until it looks dead. Its own messages are handled as
    /// they come (list changes refresh the lists); without a message stream, or when it
    /// ends, the backend is pinged.
    async fn watch(&self, changed: &mpsc::UnboundedSender<()>) -> UpstreamError {
        let every = variants::IDLE / 10;
        let mut sweep = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            if self.transport.is_asleep() {
                self.transport.wait_awake().await;
                continue;
            }
            let messages = match self.transport.messages().await {
                Ok(m) => m,
                Err(e) => return e,
            };
            match messages {
                Some(mut messages) => {
                    loop {
                        tokio::select! {
                            m = messages.next() => match m {
                                Some(m) => self.handle_message(m, changed).await,
                                None => break,
                            },
                            () = self.wake.notified() => {
                                if let Err(e) = self.ping().await {
                                    return e;
                                }
                            }
                            _ = sweep.tick() => {
                                self.variants.sweep().await;
                                if let Some(c) = &self.callers {
                                    c.sweep().await;
                                }
                            }
                            // A 2026-07-28 backend's stream follows other resources now.
                            () = self.transport.rewatched() => break,
                            () = idle(self.transport.idle_remaining()) => {
                                if self.transport.try_sleep().await {
                                    break;
                                }
                            }
                        }
                    }
                    if self.transport.is_asleep() {
                        continue;
                    }
                    // The stream ended: gone, or just closed by the backend?
                    if let Err(e) = self.ping().await {
                        return e;
                    }
                }
                None => {
                    tokio::select! {
                        _ = tokio::time::sleep(PING_EVERY) => {}
                        () = self.wake.notified() => {}
                    }
                    self.variants.sweep().await;
                    if let Some(c) = &self.callers {
                        c.sweep().await;
                    }
                    if let Err(e) = self.ping().await {
                        return e;
                    }
                }
            }
        }
    }

    /// One of the backend's own messages: list changes refresh the lists, resource
    /// updates go to subscribers.
    async fn handle_message(&self, data: Vec<u8>, changed: &mpsc::UnboundedSender<()>) {
        let Ok(msg) = serde_json::from_slice::<Value>(&data) else {
            return;
        };
        match msg["method"].as_str().and_then(Method::parse) {
            Some(m) if m.is_list_changed() => {
                let caps = self.lists().capabilities.clone();
                match self.refresh_lists(caps).await {
                    Ok(()) => {
                        tracing::info!(backend = %self.name, "backend lists changed");
                        let _ = changed.send(());
                    }
                    Err(e) => {
                        tracing::warn!(backend = %self.name, error = %e, "list refresh failed")
                    }
                }
            }
            Some(Method::ResourcesUpdated) => {
                if let Some(uri) = msg["params"]["uri"].as_str() {
                    let _ = self.updates.send(ResourceUpdated {
                        uri: uri.to_string(),
                        message: Bytes::from(data),
                    });
                }
            }
            Some(m) if m.is_notice() => {
                if let Some(n) = self.correlations.notice(self.id, &data) {
                    let _ = self.notices.send(n);
                }
            }
            _ if self.transport.join(&data).await => {}
            _ => {
                // A request no client can take: answered, never left waiting.
                if let Some(answer) = mux::unroutable_answer(&data) {
                    tracing::info!(backend = %self.name, method = ?msg["method"].as_str(),
                        "a request of the backend's own not tied to one client's call was refused");
                    self.notify("", crate::base::ClientCaps::ALL, answer).await;
                }
            }
        }
    }
}

/// Completes after `d`; never without one.
async fn idle(d: Option<Duration>) {
    match d {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}
