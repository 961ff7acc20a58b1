//! Calls in flight: which client request is running at which backend under which
//! upstream id (for `notifications/cancelled`, and to tell the backend when a client
//! leaves), and the backends' own requests to clients awaiting their answers.

use foldhash::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};

use crate::backend::Backend;
use crate::jsonrpc::frame;

/// Requests a backend sent to a client (sampling, elicitation, roots) under unguessable
/// gateway ids, so the client's answers reach the right backend with the backend's own
/// id, and only the conversation that was asked can answer.
#[derive(Default)]
pub struct ServerRequests {
    map: Mutex<HashMap<Bytes, Asked>>,
}

/// A backend's request to a client: which conversation was asked, who asked, under
/// which id of its own, and when.
pub(crate) struct Asked {
    conversation: Arc<str>,
    /// The backend that asked (`None`: the gateway asked for itself, a policy's
    /// confirmation).
    backend: Option<Arc<Backend>>,
    original: Bytes,
    /// The backend's session that asked ([`crate::backend::transport::Answer::via`]).
    via: u8,
    at: std::time::Instant,
    /// The gateway asked, on a backend's behalf (a 2026-07-28 backend's question to a
    /// session client): the client's answer goes here, not to the backend.
    waiter: Option<tokio::sync::oneshot::Sender<Bytes>>,
}

/// Questions the gateway asked, forgotten when this is dropped. An answered one has
/// been taken already; the rest would otherwise wait out [`SERVER_REQUEST_TTL`] in a
/// map shared by every client.
pub(crate) struct Outstanding {
    asks: Arc<ServerRequests>,
    ids: Vec<Bytes>,
}

impl Outstanding {
    pub(crate) fn new(asks: Arc<ServerRequests>) -> Outstanding {
        Outstanding {
            asks,
            ids: Vec::new(),
        }
    }

    /// Takes over `other`'s questions.
    pub(crate) fn absorb(&mut self, mut other: Outstanding) {
        self.ids.append(&mut other.ids);
    }
}

impl Drop for Outstanding {
    fn drop(&mut self) {
        if !self.ids.is_empty() {
            self.asks.forget(&self.ids);
        }
    }
}

/// Who waits for a client's answer.
pub(crate) enum Taken {
    /// The backend, under its own id, on its session `via`.
    Backend(Arc<Backend>, Bytes, u8),
    /// The gateway (the whole answer message goes to it).
    Gateway(tokio::sync::oneshot::Sender<Bytes>),
}

/// Unanswered backend requests are forgotten after this long.
pub(crate) const SERVER_REQUEST_TTL: Duration = Duration::from_secs(600);
/// Unanswered backend requests held at most; the oldest gives way beyond it.
pub(crate) const MAX_SERVER_REQUESTS: usize = 16_384;

/// Anonymous clients of an open namespace: each stateless request is a conversation of
/// its own (`a:` and a random suffix).
pub const ANONYMOUS: &str = "a:";

/// The client as an isolated backend keys its children: the conversation, except that
/// anonymous clients (a conversation per request) share one.
pub fn owner_key(conversation: &str) -> &str {
    if conversation.starts_with(ANONYMOUS) {
        "anonymous"
    } else {
        conversation
    }
}

impl ServerRequests {
    /// A mapper for one forwarded call's SSE answer.
    pub(crate) fn mapper(
        self: &Arc<Self>,
        conversation: Arc<str>,
        backend: Arc<Backend>,
        via: u8,
    ) -> crate::mcp::hop::splicer::IdMapper {
        let reqs = self.clone();
        Box::new(move |original: &[u8]| {
            reqs.insert(Asked {
                conversation: conversation.clone(),
                backend: Some(backend.clone()),
                original: Bytes::copy_from_slice(original),
                via,
                at: std::time::Instant::now(),
                waiter: None,
            })
        })
    }

    /// A request the gateway sends `conversation` (on `backend`'s behalf, or on its
    /// own): its id (a JSON string literal), and where the client's answer arrives.
    pub(crate) fn ask(
        &self,
        conversation: Arc<str>,
        backend: Option<Arc<Backend>>,
    ) -> (Bytes, tokio::sync::oneshot::Receiver<Bytes>) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let id = self.insert(Asked {
            conversation,
            backend,
            original: Bytes::new(),
            via: crate::base::ClientCaps::ALL,
            at: std::time::Instant::now(),
            waiter: Some(tx),
        });
        (id, rx)
    }

    /// A request the gateway sends `conversation`, forgotten when the returned
    /// [`Outstanding`] is dropped: its id, where the client's answer arrives, and the
    /// guard. A wait that ends any way (answered, refused, timed out, or its future
    /// dropped with its run or its client) leaves nothing behind.
    pub(crate) fn ask_guarded(
        self: &Arc<Self>,
        conversation: Arc<str>,
        backend: Option<Arc<Backend>>,
    ) -> (Bytes, tokio::sync::oneshot::Receiver<Bytes>, Outstanding) {
        let (id, answer) = self.ask(conversation, backend);
        let mut guard = Outstanding::new(self.clone());
        guard.ids.push(id.clone());
        (id, answer, guard)
    }

    /// Questions waiting for their answers.
    pub fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets questions the gateway asked that will not be answered (the call ended).
    pub(crate) fn forget(&self, ids: &[Bytes]) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        for id in ids {
            map.remove(id);
        }
    }

    /// Keeps `asked` under a fresh unguessable id (the oldest gives way when full).
    fn insert(&self, asked: Asked) -> Bytes {
        let id = Bytes::from(format!("\"m{}\"", crate::crypto::random_alphanumeric(22)));
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_SERVER_REQUESTS {
            map.retain(|_, a| a.at.elapsed() < SERVER_REQUEST_TTL);
        }
        if map.len() >= MAX_SERVER_REQUESTS
            && let Some(oldest) = map.iter().min_by_key(|(_, a)| a.at).map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
        map.insert(id.clone(), asked);
        id
    }

    /// The backend and its own id for an answer from `conversation` under `id`; an
    /// answer from another conversation is refused (anonymous stateless requests, each a
    /// conversation of its own, answer by knowing the unguessable id).
    pub(crate) fn take(&self, conversation: &str, id: &[u8]) -> Option<Taken> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let asked = map.get(id)?;
        let same = *asked.conversation == *conversation
            || (asked.conversation.starts_with(ANONYMOUS) && conversation.starts_with(ANONYMOUS));
        if !same {
            return None;
        }
        let a = map.remove(id)?;
        match (a.waiter, a.backend) {
            (Some(w), _) => Some(Taken::Gateway(w)),
            (None, Some(backend)) => Some(Taken::Backend(backend, a.original, a.via)),
            (None, None) => None,
        }
    }
}

/// A request of this client in flight at a backend.
pub(crate) struct Pending {
    pub(crate) backend: Arc<Backend>,
    /// Its upstream request number (see [`crate::backend::upstream_id`]).
    pub(crate) upstream: u64,
    /// The client capabilities the call was sent with (which of the backend's sessions
    /// has it: [`Backend::notify`]).
    pub(crate) via: u8,
}

/// Calls going on without their client (a session client that left mid-answer) that
/// one key may have at once; beyond, leaving cancels.
pub const MAX_DETACHED_PER_KEY: u32 = 16;
/// Such calls of every key at once.
pub const MAX_DETACHED: u32 = 1024;

/// In-flight requests by (conversation, client id), for `notifications/cancelled`.
#[derive(Default)]
pub struct InFlight {
    map: Mutex<HashMap<(Arc<str>, Bytes), Pending>>,
    /// Calls going on without their client, per key (`None`: no key), and in all.
    detached: Mutex<(HashMap<Option<crate::base::KeyId>, u32>, u32)>,
}

/// A detached call's place ([`InFlight::detach`]), given back when dropped.
pub(crate) struct DetachedPlace {
    inflight: Arc<InFlight>,
    key: Option<crate::base::KeyId>,
}

impl Drop for DetachedPlace {
    fn drop(&mut self) {
        let mut d = self
            .inflight
            .detached
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        d.1 = d.1.saturating_sub(1);
        if let Some(n) = d.0.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                d.0.remove(&self.key);
            }
        }
    }
}

impl InFlight {
    pub(crate) fn insert(&self, key: (Arc<str>, Bytes), p: Pending) {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, p);
    }

    pub(crate) fn remove(&self, key: &(Arc<str>, Bytes)) -> Option<Pending> {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key)
    }

    /// A place for a call of `key`'s to go on without its client, within
    /// [`MAX_DETACHED_PER_KEY`] and [`MAX_DETACHED`]; `None` when there is none.
    pub(crate) fn detach(
        self: &Arc<Self>,
        key: Option<crate::base::KeyId>,
    ) -> Option<DetachedPlace> {
        let mut d = self.detached.lock().unwrap_or_else(|e| e.into_inner());
        let mine = d.0.get(&key).copied().unwrap_or(0);
        if mine >= MAX_DETACHED_PER_KEY || d.1 >= MAX_DETACHED {
            return None;
        }
        d.0.insert(key, mine + 1);
        d.1 += 1;
        Some(DetachedPlace {
            inflight: self.clone(),
            key,
        })
    }

    /// Calls going on without their client now.
    pub fn detached(&self) -> u32 {
        self.detached.lock().unwrap_or_else(|e| e.into_inner()).1
    }

    pub(crate) fn contains(&self, key: &(Arc<str>, Bytes)) -> bool {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(key)
    }

    pub fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

pub(crate) fn cancellation(upstream_id: &[u8], reason: &str) -> Bytes {
    let mut out = BytesMut::new();
    out.extend_from_slice(
        b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":",
    );
    out.extend_from_slice(upstream_id);
    out.extend_from_slice(b",\"reason\":");
    out.extend_from_slice(&frame::json_string(reason));
    out.extend_from_slice(b"}}");
    out.freeze()
}

/// Removes the in-flight entry when the response ends; cancels upstream if it never did,
/// unless the call is a session client's (`leave_running`): a session client that goes
/// away has not cancelled (MCP: a disconnect is not a cancellation).
pub(crate) struct InFlightGuard {
    pub(crate) inflight: Arc<InFlight>,
    pub(crate) key: (Arc<str>, Bytes),
    pub(crate) done: bool,
    pub(crate) leave_running: bool,
    /// The key's place in flight: the call keeps it while it goes on past its answer (a
    /// session client's call without its client, a 2026-07-28 client's call parked for
    /// its answers). A session client's call left before its answer began is no longer
    /// heard from, so its place is kept until the call would have timed out (one left
    /// midway keeps it to its end, read by the gateway,
    /// [`crate::mcp::hop::upstream::Detachable`]).
    pub(crate) kept: Option<Arc<crate::auth::limits::Kept>>,
}

impl InFlightGuard {
    /// Keeps the key's place for as long as the call goes on, and `until` at the latest
    /// once nobody hears from it.
    pub(crate) fn keep(
        &mut self,
        kept: &Arc<crate::auth::limits::Kept>,
        until: tokio::time::Instant,
    ) {
        kept.until(until);
        self.kept = Some(kept.clone());
    }

    /// Makes dropping the guard cancel the call upstream (the gateway gave up on it).
    pub(crate) fn cancel_on_drop(&mut self) {
        self.leave_running = false;
    }

    pub(crate) fn complete(&mut self) {
        if !self.done {
            self.done = true;
            self.inflight.remove(&self.key);
        }
        // Ended: the call keeps its key's place no longer (its answer may, until sent).
        self.kept = None;
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let kept = self.kept.take();
        let Some(p) = self.inflight.remove(&self.key) else {
            return;
        };
        if self.leave_running {
            if let (Some(kept), Ok(runtime)) = (kept, tokio::runtime::Handle::try_current())
                && let Some(until) = kept.deadline()
            {
                runtime.spawn(async move {
                    tokio::time::sleep_until(until).await;
                    drop(kept);
                });
            }
        } else {
            let conversation = self.key.0.clone();
            tokio::spawn(async move {
                p.backend
                    .notify(
                        owner_key(&conversation),
                        p.via,
                        cancellation(
                            &crate::backend::upstream_id(p.upstream),
                            "the client went away",
                        ),
                    )
                    .await;
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guarded_question_is_forgotten_however_its_wait_ends() {
        let asks = Arc::new(ServerRequests::default());
        let c: Arc<str> = Arc::from("s:one");
        // Dropped unanswered (the waiting future dropped with its run).
        let (_, _answer, guard) = asks.ask_guarded(c.clone(), None);
        assert_eq!(asks.len(), 1);
        drop(guard);
        assert!(asks.is_empty(), "an abandoned question is forgotten");
        // A round's questions, gathered under one guard.
        let mut round = Outstanding::new(asks.clone());
        for _ in 0..3 {
            round.absorb(asks.ask_guarded(c.clone(), None).2);
        }
        assert_eq!(asks.len(), 3, "absorbed guards forget nothing yet");
        // One answered: taken, then the guard's forget of it is harmless.
        let (id, mut answer, guard) = asks.ask_guarded(c.clone(), None);
        let Some(Taken::Gateway(waiter)) = asks.take(&c, &id) else {
            panic!("the gateway waits for its own question");
        };
        waiter.send(Bytes::from_static(b"{}")).unwrap();
        assert_eq!(answer.try_recv().unwrap(), Bytes::from_static(b"{}"));
        drop(guard);
        assert_eq!(asks.len(), 3);
        drop(round);
        assert!(asks.is_empty());
    }
}
