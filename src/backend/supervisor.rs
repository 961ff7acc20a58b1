//! A backend's supervisor: connect (initialize, then every list), mark it running, watch
//! its own messages until they end or a ping fails, then reconnect with backoff. A
//! reconnection closes the backend's circuit: it answers again.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::mpsc;

use super::*;

/// Runs one backend until aborted.
pub(super) async fn supervise(b: Arc<Backend>, changed: mpsc::UnboundedSender<()>) {
    let mut backoff = Duration::from_millis(100);
    let mut first = true;
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
                    .store(crate::auth::token::unix_now(), Ordering::Relaxed);
                b.change_status(Status::Running, "connected");
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
