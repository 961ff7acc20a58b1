//! The lifecycle event stream (`GET /api/v1/events`): NDJSON lines fanned out to every
//! subscriber through one bounded broadcast channel.
//!
//! Each subscriber has a small buffer of its own. A reader too slow to keep it drained is
//! dropped rather than allowed to grow memory: its stream simply ends. The first line of
//! every stream is `{"type":"ready",…}`, so a client knows from when on it sees changes.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Map, Value, json};
use tokio::sync::{broadcast, mpsc, watch};

use crate::auth::Principal;
use crate::http::Body;

/// Events kept for subscribers that are briefly behind.
const BUS_CAPACITY: usize = 1024;
/// Lines buffered per subscriber before it counts as too slow.
const CLIENT_BUFFER: usize = 64;
pub const HEARTBEAT: Duration = Duration::from_secs(15);

/// Who may see an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// Admin keys only (key lifecycle).
    Admin,
    /// Every key that may use one of these namespaces, unlimited keys, and admins.
    /// Empty: keys without namespace limits and admins only.
    Namespaces(Vec<String>),
}

#[derive(Debug)]
pub struct Event {
    pub audience: Audience,
    pub line: Bytes,
}

/// An event's fields from a JSON object literal.
pub fn fields(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Fan-out of events to subscribers.
pub struct EventBus {
    tx: broadcast::Sender<Arc<Event>>,
    /// Flipped at shutdown so open streams end and connections can drain.
    closing: watch::Sender<bool>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus {
            tx: broadcast::channel(BUS_CAPACITY).0,
            closing: watch::channel(false).0,
        }
    }
}

impl EventBus {
    /// Sends `{"type": kind, "at": now, …fields}` to every subscriber allowed to see it.
    pub fn publish(&self, kind: &str, fields: Map<String, Value>, audience: Audience) {
        let mut obj = Map::new();
        obj.insert("type".into(), Value::String(kind.into()));
        obj.insert("at".into(), Value::String(rfc3339_now()));
        obj.extend(fields);
        let mut line = Value::Object(obj).to_string();
        line.push('\n');
        tracing::debug!(event = kind, "event");
        let _ = self.tx.send(Arc::new(Event {
            audience,
            line: Bytes::from(line),
        }));
    }

    /// A receiver that changes when the gateway shuts down (for other streams).
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Ends every open stream (shutdown).
    pub fn close(&self) {
        let _ = self.closing.send(true);
    }

    /// A streaming body of the events `p` may see.
    /// The stream holds `place` (its place among the caller's streams) while it is open.
    pub fn subscribe(&self, p: Principal, place: crate::auth::limits::StreamPlace) -> Body {
        let mut rx = self.tx.subscribe();
        let mut closing = self.closing.subscribe();
        let (out, body) = mpsc::channel::<Bytes>(CLIENT_BUFFER);
        tokio::spawn(async move {
            let _place = place;
            let ready = line(json!({"type": "ready", "at": rfc3339_now()}));
            if out.try_send(ready).is_err() {
                return;
            }
            let mut heartbeat =
                tokio::time::interval_at(tokio::time::Instant::now() + HEARTBEAT, HEARTBEAT);
            loop {
                let next = tokio::select! {
                    r = rx.recv() => match r {
                        Ok(ev) if visible(&ev.audience, &p) => ev.line.clone(),
                        Ok(_) => continue,
                        Err(broadcast::error::RecvError::Lagged(n)) => {
                            tracing::warn!(key_id = %p.key_id, missed = n, "event stream reader fell behind; dropped");
                            return;
                        }
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                    _ = heartbeat.tick() => line(json!({"type": "heartbeat", "at": rfc3339_now()})),
                    _ = closing.changed() => return,
                    () = out.closed() => return,
                };
                match out.try_send(next) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        tracing::warn!(key_id = %p.key_id, "event stream reader too slow; dropped");
                        return;
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => return,
                }
            }
        });
        Body::Channel(body)
    }

    /// Number of open streams (for metrics).
    pub fn subscribers(&self) -> usize {
        self.tx.receiver_count()
    }
}

fn line(v: Value) -> Bytes {
    let mut s = v.to_string();
    s.push('\n');
    Bytes::from(s)
}

fn visible(audience: &Audience, p: &Principal) -> bool {
    if p.is_admin() {
        return true;
    }
    match audience {
        Audience::Admin => false,
        Audience::Namespaces(ns) => !p.is_limited() || ns.iter().any(|n| p.may_use(n)),
    }
}

/// The current time as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339_now() -> String {
    rfc3339(crate::base::unix_now())
}

/// Formats Unix seconds as RFC 3339 UTC (civil-from-days, proleptic Gregorian).
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_reader_that_does_not_keep_up_is_dropped_with_bounded_memory() {
        use http_body_util::BodyExt;
        let bus = EventBus::default();
        let p = Principal {
            key_id: crate::base::KeyId::parse("0123456789abcdef").unwrap(),
            scope: crate::store::keys::Scope::Admin,
            namespaces: Arc::from(Vec::<String>::new()),
            via: crate::auth::Via::ApiKey,
            limits: crate::model::limits::KeyLimits::default(),
            oauth: None,
        };
        let limiter = crate::auth::limits::Limiter::new(Default::default());
        let place = limiter.open_stream(Some(&p.key_id)).await.unwrap();
        let mut body = bus.subscribe(p, place);
        // Let the subscriber task start and queue its `ready` line.
        tokio::task::yield_now().await;
        for i in 0..(CLIENT_BUFFER * 3) {
            bus.publish("test", fields_of(i), Audience::Admin);
            tokio::task::yield_now().await;
        }
        let mut lines = 0;
        while let Some(frame) = body.frame().await {
            lines += frame.unwrap().into_data().map(|d| d.len()).map_or(0, |_| 1);
        }
        // The stream ended on its own, holding at most its buffer.
        assert!(lines <= CLIENT_BUFFER, "{lines} lines buffered");
        assert!(lines > 1);
    }

    fn fields_of(i: usize) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("n".into(), Value::from(i));
        m
    }

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_260_153), "2026-11-21T11:22:33Z");
    }
}
