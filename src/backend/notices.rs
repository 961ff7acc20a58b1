//! A backend's messages for one client that name no call of it: a task's new status
//! (`notifications/tasks/status`) and the end of a URL elicitation
//! (`notifications/elicitation/complete`). They come on the backend's own stream, shared
//! by every client of that session, so the ids in them say whose they are: the gateway
//! notes whose each task and each URL elicitation is as it passes them on
//! ([`Correlations`]), and a message whose id it never passed on goes nowhere.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::jsonrpc::methods::Method;
use bytes::Bytes;
use uuid::Uuid;

/// Most ids one backend's table holds (the oldest give way).
pub const MAX_CORRELATED: usize = 10_000;
/// How long a URL elicitation's end is awaited.
const ELICITATION_TTL: Duration = Duration::from_secs(3600);

/// A backend's message for one client, ready for it.
#[derive(Debug, Clone)]
pub struct Notice {
    pub backend: Uuid,
    /// The client's conversation.
    pub conversation: Arc<str>,
    /// The message as the client gets it (a task's id is the one the client knows).
    pub message: Bytes,
}

struct Whose {
    conversation: Arc<str>,
    /// For a task: the id the client knows it by.
    client_id: Option<Arc<str>>,
    until: Instant,
}

/// Whose each of a backend's tasks and URL elicitations is.
#[derive(Default)]
pub struct Correlations {
    map: Mutex<HashMap<(u8, Box<str>), Whose>>,
}

const TASK: u8 = b't';
const ELICITATION: u8 = b'e';

impl Correlations {
    /// Notes that the backend's task `upstream` is `conversation`'s, known to it as
    /// `client_id`, for `ttl`.
    pub fn task(&self, upstream: &str, conversation: Arc<str>, client_id: Arc<str>, ttl: Duration) {
        self.put(
            (TASK, upstream.into()),
            Whose {
                conversation,
                client_id: Some(client_id),
                until: Instant::now() + ttl,
            },
        );
    }

    /// Notes that the backend's URL elicitation `id` was passed to `conversation`.
    /// `false`, noting nothing, when the id is another client's still: a backend may not
    /// point one client's URL elicitation at another.
    pub fn elicitation(&self, id: &str, conversation: Arc<str>) -> bool {
        let key = (ELICITATION, Box::<str>::from(id));
        let taken = self
            .map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .is_some_and(|w| w.until > Instant::now() && w.conversation != conversation);
        if taken {
            return false;
        }
        self.put(
            (ELICITATION, id.into()),
            Whose {
                conversation,
                client_id: None,
                until: Instant::now() + ELICITATION_TTL,
            },
        );
        true
    }

    fn put(&self, key: (u8, Box<str>), whose: Whose) {
        if key.1.len() > crate::backend::MAX_UPSTREAM_TASK_ID {
            return;
        }
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_CORRELATED {
            let now = Instant::now();
            map.retain(|_, w| w.until > now);
        }
        if map.len() >= MAX_CORRELATED
            && let Some(oldest) = map
                .iter()
                .min_by_key(|(_, w)| w.until)
                .map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
        map.insert(key, whose);
    }

    pub fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The client's notice for the backend's message `data` (one of [`Method::is_notice`]), if the
    /// id in it is one the gateway passed on; an elicitation's end is delivered once.
    pub fn notice(&self, backend: Uuid, data: &[u8]) -> Option<Notice> {
        let mut v = crate::jsonrpc::read::value(data).ok()?;
        let (kind, member) = match Method::parse(v["method"].as_str()?)? {
            Method::TasksStatus => (TASK, "taskId"),
            Method::ElicitationComplete => (ELICITATION, "elicitationId"),
            _ => return None,
        };
        let id = v["params"][member].as_str()?.to_string();
        let key = (kind, Box::<str>::from(id.as_str()));
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let whose = map.get(&key).filter(|w| w.until > Instant::now())?;
        let conversation = whose.conversation.clone();
        let message = match &whose.client_id {
            Some(client_id) => {
                v["params"][member] = serde_json::Value::from(client_id.as_ref());
                Bytes::from(serde_json::to_vec(&v).ok()?)
            }
            None => {
                map.remove(&key);
                Bytes::copy_from_slice(data)
            }
        };
        Some(Notice {
            backend,
            conversation,
            message,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_go_to_whoever_the_id_was_passed_to_and_nobody_else() {
        let c = Correlations::default();
        let b = Uuid::nil();
        c.task(
            "up-1",
            Arc::from("s:a"),
            Arc::from("mtk1.A"),
            Duration::from_secs(60),
        );
        c.elicitation("el-1", Arc::from("s:b"));
        let n = c
            .notice(
                b,
                br#"{"jsonrpc":"2.0","method":"notifications/tasks/status","params":{"taskId":"up-1","status":"completed"}}"#,
            )
            .unwrap();
        assert_eq!(&*n.conversation, "s:a");
        let v: serde_json::Value = serde_json::from_slice(&n.message).unwrap();
        assert_eq!(v["params"]["taskId"], "mtk1.A");
        assert_eq!(v["params"]["status"], "completed");
        // A task's status may change again; an elicitation ends once.
        let status = br#"{"method":"notifications/tasks/status","params":{"taskId":"up-1"}}"#;
        assert!(c.notice(b, status).is_some());
        let done =
            br#"{"method":"notifications/elicitation/complete","params":{"elicitationId":"el-1"}}"#;
        assert_eq!(&*c.notice(b, done).unwrap().conversation, "s:b");
        assert!(c.notice(b, done).is_none());
        // Ids never passed on, of the other kind, or unreadable: nowhere.
        for stray in [
            &br#"{"method":"notifications/elicitation/complete","params":{"elicitationId":"up-1"}}"#[..],
            br#"{"method":"notifications/tasks/status","params":{"taskId":"el-1"}}"#,
            br#"{"method":"notifications/tasks/status","params":{"taskId":7}}"#,
            br#"{"method":"notifications/tasks/status"}"#,
            b"not json",
        ] {
            assert!(c.notice(b, stray).is_none());
        }
    }

    #[test]
    fn the_table_is_bounded() {
        let c = Correlations::default();
        for i in 0..MAX_CORRELATED + 50 {
            c.elicitation(&format!("e{i}"), Arc::from("s:a"));
        }
        assert_eq!(c.len(), MAX_CORRELATED);
        c.elicitation(&"x".repeat(300), Arc::from("s:a"));
        assert_eq!(c.len(), MAX_CORRELATED);
    }
}
