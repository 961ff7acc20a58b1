//! A session-era backend's own stream (GET) carries requests and log messages that name
//! no call: the Python SDK 1.x's `session.list_roots()`, or a log sent without a related
//! request. When every call in flight on that session whose answer is an SSE stream is
//! one client's, such a message joins that call's stream, as it does on a stdio child's
//! (see [`crate::backend::mux`]); otherwise it stays the supervisor's, which refuses a
//! request no client can take.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::sync::mpsc;

use super::HttpAnswer;
use super::resume::{Resume, Resuming};

/// Messages waiting to join one call; beyond, the message is left to the supervisor.
const QUEUED: usize = 16;

/// Per call: whose it is, where its extra messages go, and whether it is parked (its
/// client's answers are awaited on a retry, so nothing new is its).
type Entry = (u64, mpsc::Sender<Bytes>, bool);
type Book = Arc<Mutex<HashMap<u64, Entry>>>;

/// The calls of one session that other messages may join, by serial: whose call it is
/// ([`crate::backend::isolated::Owner::tag`]) and where its extra messages go.
#[derive(Default)]
pub struct Joins {
    serial: AtomicU64,
    calls: Book,
    /// Told when a call opens: a message that came before its answer's head waits.
    opened: tokio::sync::Notify,
}

/// How long a message waits for a call when none is in flight: the backend may send
/// it before the head of the call's answer reaches the gateway.
const WAIT_FOR_CALL: std::time::Duration = std::time::Duration::from_secs(1);

impl Joins {
    /// Makes `answer` (an SSE stream of `owner`'s call) one that messages may join, and
    /// that goes on where the backend ends it early ([`Resume`]).
    pub fn open(&self, owner: u64, answer: HttpAnswer, resume: Resume) -> HttpAnswer {
        let serial = self.serial.fetch_add(1, Ordering::Relaxed);
        let (tx, extra) = mpsc::channel(QUEUED);
        self.book().insert(serial, (owner, tx, false));
        self.opened.notify_waiters();
        HttpAnswer::Joined(Box::new(Joined {
            inner: answer,
            extra,
            boundary: true,
            resume,
            resuming: None,
            _left: Left {
                serial,
                calls: self.calls.clone(),
            },
        }))
    }

    /// Hands `msg` (a request or a log message of the backend's own) to the one client's
    /// call in flight; `false` when there is none, or several clients' calls. A request
    /// (`wait`) waits a moment for a call when none is in flight; a log message does
    /// not (a chatty backend would hold up its own stream).
    pub async fn offer(&self, msg: &[u8], wait: bool) -> bool {
        let opened = self.opened.notified();
        match self.try_offer(msg) {
            Some(taken) => taken,
            None if !wait => false,
            None => {
                let _ = tokio::time::timeout(WAIT_FOR_CALL, opened).await;
                self.try_offer(msg).unwrap_or(false)
            }
        }
    }

    /// `None` when no call is in flight.
    fn try_offer(&self, msg: &[u8]) -> Option<bool> {
        let book = self.book();
        // A parked call (waiting for a client that may never come back) takes nothing.
        let mut calls = book.values().filter(|(_, _, parked)| !parked);
        let (owner, tx, _) = calls.next()?;
        if *owner == 0 || !calls.all(|(o, _, _)| o == owner) {
            return Some(false);
        }
        Some(tx.try_send(Bytes::copy_from_slice(msg)).is_ok())
    }

    fn book(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Entry>> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Forgets a call when its answer is dropped (finished, or the client left).
struct Left {
    serial: u64,
    calls: Book,
}

impl Drop for Left {
    fn drop(&mut self) {
        self.calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.serial);
    }
}

/// A call's SSE answer with the messages that joined it, each put between two of the
/// answer's own events.
pub struct Joined {
    inner: HttpAnswer,
    extra: mpsc::Receiver<Bytes>,
    /// Whether what was passed on so far ends at the end of an event.
    boundary: bool,
    resume: Resume,
    resuming: Option<Resuming>,
    _left: Left,
}

impl Joined {
    /// Marks the call parked (waiting for its client's retry) or back in play.
    pub fn set_parked(&self, parked: bool) {
        let mut book = self._left.calls.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = book.get_mut(&self._left.serial) {
            entry.2 = parked;
        }
    }

    pub fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, String>>> {
        loop {
            if self.boundary
                && let Poll::Ready(Some(msg)) = self.extra.poll_recv(cx)
            {
                return Poll::Ready(Some(Ok(crate::backend::mux::sse_event(&msg))));
            }
            if self.boundary && self.resume.done() {
                // The resumed stream is a GET the backend may keep open: let go of it.
                self.inner = HttpAnswer::Done;
                return Poll::Ready(None);
            }
            if let Some(r) = &mut self.resuming {
                match r.as_mut().poll(cx) {
                    Poll::Ready(Ok(answer)) => {
                        self.resuming = None;
                        self.inner = answer;
                        if !self.boundary {
                            // The event the backend left unfinished ends here.
                            self.boundary = true;
                            return Poll::Ready(Some(Ok(Bytes::from_static(b"\n\n"))));
                        }
                    }
                    Poll::Ready(Err(e)) => {
                        self.resuming = None;
                        return Poll::Ready(Some(Err(e)));
                    }
                    Poll::Pending => return Poll::Pending,
                }
            }
            let piece = self.inner.poll_chunk(cx);
            match &piece {
                Poll::Ready(Some(Ok(d))) if !d.is_empty() => {
                    self.boundary = crate::jsonrpc::sse::ends_event(d);
                    self.resume.scan(d);
                }
                Poll::Ready(None) => {
                    if let Some(r) = self.resume.after_end() {
                        self.resuming = Some(r);
                        continue;
                    }
                }
                _ => {}
            }
            return piece;
        }
    }
}
