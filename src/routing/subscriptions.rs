//! Resource subscriptions (`resources/subscribe`): which conversations want
//! `notifications/resources/updated` for which URIs, bounded per conversation, per key
//! and in total, and forgotten when nobody can receive them any more:
//! - a session's, when the session is ended (`DELETE`) or expires;
//! - a stateless-era client's (one conversation per key), once it has had no
//!   `subscriptions/listen` stream open for [`STATELESS_IDLE`].

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Subscriptions one conversation (a session, or a key in the stateless era) may hold.
pub const MAX_PER_CONVERSATION: usize = 512;
/// Subscriptions all conversations of one key may hold together.
pub const MAX_PER_KEY: usize = 4_096;
/// Subscriptions the process holds at most.
pub const MAX_TOTAL: usize = 65_536;
/// How long a stateless client's subscriptions outlive its last listening stream.
pub const STATELESS_IDLE: Duration = Duration::from_secs(600);
/// Expired conversations are looked for at most this often.
const SWEEP_EVERY: Duration = Duration::from_secs(30);

/// Why a subscription was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("this client holds {MAX_PER_CONVERSATION} resource subscriptions already")]
    Conversation,
    #[error("this key holds {MAX_PER_KEY} resource subscriptions already")]
    Key,
    #[error("the gateway holds {MAX_TOTAL} resource subscriptions already")]
    Total,
}

/// Who holds a subscription and until when it matters.
pub struct Holder<'a> {
    pub conversation: &'a Arc<str>,
    /// The key it counts against (empty for open namespaces).
    pub key: &'a str,
    /// A session's expiry (unix seconds); `None` for the stateless era.
    pub session_expires: Option<u64>,
}

struct Conversation {
    uris: HashSet<String>,
    key: Arc<str>,
    session_expires: Option<u64>,
    /// Open listening streams (stateless era).
    listeners: usize,
    /// When the last listening stream closed (or the first subscription was made).
    quiet_since: Instant,
}

impl Conversation {
    fn new(who: &Holder<'_>) -> Conversation {
        Conversation {
            uris: HashSet::new(),
            key: Arc::from(who.key),
            session_expires: who.session_expires,
            listeners: 0,
            quiet_since: Instant::now(),
        }
    }
}

#[derive(Default)]
struct Table {
    by_uri: HashMap<String, HashSet<Arc<str>>>,
    by_conversation: HashMap<Arc<str>, Conversation>,
    by_key: HashMap<Arc<str>, usize>,
    total: usize,
    swept: Option<Instant>,
}

#[derive(Default)]
pub struct Subscriptions {
    table: Mutex<Table>,
}

impl Subscriptions {
    /// Records a subscription to `uri`.
    pub fn add(&self, uri: &str, who: &Holder<'_>, now_unix: u64) -> Result<(), Refused> {
        let mut t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        t.sweep(Instant::now(), now_unix);
        if t.by_conversation
            .get(who.conversation)
            .is_some_and(|c| c.uris.contains(uri))
        {
            return Ok(());
        }
        let held = t
            .by_conversation
            .get(who.conversation)
            .map_or(0, |c| c.uris.len());
        if held >= MAX_PER_CONVERSATION {
            return Err(Refused::Conversation);
        }
        if t.by_key.get(who.key).copied().unwrap_or(0) >= MAX_PER_KEY {
            return Err(Refused::Key);
        }
        if t.total >= MAX_TOTAL {
            return Err(Refused::Total);
        }
        let c = t
            .by_conversation
            .entry(who.conversation.clone())
            .or_insert_with(|| Conversation::new(who));
        c.uris.insert(uri.to_string());
        let key = c.key.clone();
        *t.by_key.entry(key).or_insert(0) += 1;
        t.total += 1;
        t.by_uri
            .entry(uri.to_string())
            .or_default()
            .insert(who.conversation.clone());
        Ok(())
    }

    pub fn remove(&self, uri: &str, conversation: &str) {
        let mut t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        let Some(c) = t.by_conversation.get_mut(conversation) else {
            return;
        };
        if !c.uris.remove(uri) {
            return;
        }
        let (key, empty) = (c.key.clone(), c.uris.is_empty() && c.listeners == 0);
        if empty {
            t.by_conversation.remove(conversation);
        }
        t.uncount(&key, 1);
        if let Some(set) = t.by_uri.get_mut(uri) {
            set.remove(conversation);
            if set.is_empty() {
                t.by_uri.remove(uri);
            }
        }
    }

    /// Drops every subscription of an ended conversation.
    pub fn forget(&self, conversation: &str) {
        let mut t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        t.drop_conversation(conversation);
    }

    /// Whether `conversation` subscribed to `uri`.
    pub fn has(&self, uri: &str, conversation: &str) -> bool {
        self.table
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .by_uri
            .get(uri)
            .is_some_and(|set| set.contains(conversation))
    }

    /// Whether any conversation holds a subscription to `uri`.
    pub fn is_held(&self, uri: &str) -> bool {
        self.table
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .by_uri
            .get(uri)
            .is_some_and(|set| !set.is_empty())
    }

    /// A listening stream of a conversation opened; its subscriptions stay while any is
    /// open. The guard marks it closed.
    pub fn listening(self: &Arc<Self>, who: &Holder<'_>) -> Listening {
        let mut t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        t.by_conversation
            .entry(who.conversation.clone())
            .or_insert_with(|| Conversation::new(who))
            .listeners += 1;
        Listening {
            subs: self.clone(),
            conversation: who.conversation.clone(),
        }
    }

    /// Whether a listening stream of `conversation` is open in this process.
    pub fn is_listening(&self, conversation: &str) -> bool {
        self.table
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .by_conversation
            .get(conversation)
            .is_some_and(|c| c.listeners > 0)
    }

    /// Subscriptions held now.
    pub fn len(&self) -> usize {
        self.table.lock().unwrap_or_else(|p| p.into_inner()).total
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets what nobody can receive any more, now (normally done in passing).
    pub fn sweep_now(&self, at: Instant, now_unix: u64) {
        let mut t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        t.swept = None;
        t.sweep(at, now_unix);
    }
}

impl Table {
    fn uncount(&mut self, key: &Arc<str>, n: usize) {
        self.total -= n;
        if let Some(k) = self.by_key.get_mut(key) {
            *k -= n;
            if *k == 0 {
                self.by_key.remove(key);
            }
        }
    }

    fn drop_conversation(&mut self, conversation: &str) {
        let Some(c) = self.by_conversation.remove(conversation) else {
            return;
        };
        for uri in &c.uris {
            if let Some(set) = self.by_uri.get_mut(uri) {
                set.remove(conversation);
                if set.is_empty() {
                    self.by_uri.remove(uri);
                }
            }
        }
        self.uncount(&c.key, c.uris.len());
    }

    fn sweep(&mut self, at: Instant, now_unix: u64) {
        if self
            .swept
            .is_some_and(|s| at.saturating_duration_since(s) < SWEEP_EVERY)
        {
            return;
        }
        self.swept = Some(at);
        let gone: Vec<Arc<str>> = self
            .by_conversation
            .iter()
            .filter(|(_, c)| match c.session_expires {
                Some(exp) => exp <= now_unix,
                None => {
                    c.listeners == 0
                        && at.saturating_duration_since(c.quiet_since) >= STATELESS_IDLE
                }
            })
            .map(|(k, _)| k.clone())
            .collect();
        for k in gone {
            self.drop_conversation(&k);
        }
    }
}

/// An open listening stream; dropping it starts its conversation's quiet period.
pub struct Listening {
    subs: Arc<Subscriptions>,
    conversation: Arc<str>,
}

impl Drop for Listening {
    fn drop(&mut self) {
        let mut t = self.subs.table.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = t.by_conversation.get_mut(&self.conversation) {
            c.listeners = c.listeners.saturating_sub(1);
            c.quiet_since = Instant::now();
            if c.listeners == 0 && c.uris.is_empty() {
                t.by_conversation.remove(&self.conversation);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder<'a>(conv: &'a Arc<str>, key: &'a str, exp: Option<u64>) -> Holder<'a> {
        Holder {
            conversation: conv,
            key,
            session_expires: exp,
        }
    }

    #[test]
    fn bounded_per_conversation_and_per_key() {
        let s = Subscriptions::default();
        let a: Arc<str> = Arc::from("s:a");
        for i in 0..MAX_PER_CONVERSATION {
            s.add(&format!("u://{i}"), &holder(&a, "k1", Some(100)), 0)
                .unwrap();
        }
        assert_eq!(
            s.add("u://more", &holder(&a, "k1", Some(100)), 0),
            Err(Refused::Conversation)
        );
        // The same URI again costs nothing.
        assert!(s.add("u://0", &holder(&a, "k1", Some(100)), 0).is_ok());
        // More sessions of the same key reach the key's bound.
        let mut n = MAX_PER_CONVERSATION;
        let mut i = 0;
        let refused = loop {
            let conv: Arc<str> = Arc::from(format!("s:{i}"));
            let r = s.add(&format!("v://{n}"), &holder(&conv, "k1", Some(100)), 0);
            if r.is_err() {
                break r;
            }
            n += 1;
            i += 1;
        };
        assert_eq!(refused, Err(Refused::Key));
        assert_eq!(n, MAX_PER_KEY);
        // Another key is unaffected.
        let b: Arc<str> = Arc::from("s:b");
        assert!(s.add("u://0", &holder(&b, "k2", Some(100)), 0).is_ok());
        s.forget("s:a");
        assert_eq!(s.len(), MAX_PER_KEY - MAX_PER_CONVERSATION + 1);
        assert!(!s.has("u://1", "s:a"));
        assert!(s.has("u://0", "s:b"));
    }

    #[test]
    fn expired_sessions_and_quiet_stateless_clients_are_forgotten() {
        let s = Arc::new(Subscriptions::default());
        let session: Arc<str> = Arc::from("s:x");
        let stateless: Arc<str> = Arc::from("k:key");
        let listened: Arc<str> = Arc::from("k:other");
        s.add("u://1", &holder(&session, "key", Some(1000)), 0)
            .unwrap();
        s.add("u://1", &holder(&stateless, "key", None), 0).unwrap();
        s.add("u://1", &holder(&listened, "other", None), 0)
            .unwrap();
        let _stream = s.listening(&holder(&listened, "other", None));
        let later = Instant::now() + STATELESS_IDLE + Duration::from_secs(1);
        s.sweep_now(Instant::now(), 999);
        assert_eq!(s.len(), 3, "nothing expired yet");
        s.sweep_now(later, 1000);
        assert!(!s.has("u://1", "s:x"), "the session expired");
        assert!(!s.has("u://1", "k:key"), "no stream for too long");
        assert!(s.has("u://1", "k:other"), "a listening client keeps them");
        assert_eq!(s.len(), 1);
    }
}
