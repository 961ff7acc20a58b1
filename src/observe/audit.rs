//! The audit trail's write side: rows are queued in memory on the request path (one short
//! lock, no I/O) and written in batches by one task, at most [`FLUSH_EVERY`] after they
//! were queued or as soon as [`BATCH`] are waiting. The queue is bounded: a full queue
//! drops rows and counts them, and a database outage keeps what fits until the database
//! is back. Old rows are deleted in small batches by one process at a time.
//!
//! A row holds names, sizes, times and outcomes, never an argument or a result value.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use deadpool_postgres::Pool;
use tokio::sync::Notify;

use crate::jsonrpc::frame::{self, Span};

use crate::store::db::DbError;
use crate::store::keys::KeyId;

/// The longest a queued row waits before a write is tried.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// Rows written in one statement (and the queue length that starts a write early).
pub const BATCH: usize = 1000;
/// Old rows deleted in one transaction.
const DELETE_BATCH: i64 = 5000;
/// Advisory lock key of the retention pass: "audit" in ASCII.
const RETENTION_LOCK: i64 = 0x0061_7564_6974;
/// How often a problem (dropped rows, an unreachable database) is logged at most.
const LOG_EVERY_SECS: u64 = 60;

/// What an audit row is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A call forwarded to a backend (or refused before it).
    Call,
    /// A change to the registry.
    Change,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Call => "call",
            Kind::Change => "change",
        }
    }
}

/// How a call ended, as the audit trail names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A result.
    Ok,
    /// A tool's result with `isError: true`.
    ToolError,
    /// A JSON-RPC error from the backend.
    RpcError,
    /// No answer within the server's `timeout_ms`.
    Timeout,
    /// The server could not be reached, or broke off.
    Unavailable,
    /// Not sent: the server's circuit was open or its calls in flight were full.
    Refused,
    /// The client went away before the answer.
    Cancelled,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::ToolError => "tool_error",
            Outcome::RpcError => "rpc_error",
            Outcome::Timeout => "timeout",
            Outcome::Unavailable => "unavailable",
            Outcome::Refused => "refused",
            Outcome::Cancelled => "cancelled",
        }
    }

    /// Every outcome's name (the store validates filters against the same list).
    pub const NAMES: [&'static str; 7] = crate::store::audit::OUTCOMES;
}

/// A name in a row, held the cheapest way it came: queuing a row copies no name.
#[derive(Debug, Clone)]
pub enum Text {
    /// A JSON string literal as the client sent it (quotes included), decoded when the
    /// row is written.
    Literal(Bytes),
    Shared(Arc<str>),
    Owned(Box<str>),
}

impl Text {
    /// The text (borrowed unless a literal has escapes).
    pub fn as_str(&self) -> Cow<'_, str> {
        match self {
            Text::Literal(b) => frame::string_value(
                b,
                Span {
                    start: 0,
                    end: b.len(),
                },
            )
            .unwrap_or(Cow::Borrowed("")),
            Text::Shared(s) => Cow::Borrowed(s),
            Text::Owned(s) => Cow::Borrowed(s),
        }
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text::Owned(s.into())
    }
}

/// One audit row.
#[derive(Debug, Clone)]
pub struct Entry {
    pub at: SystemTime,
    pub kind: Kind,
    pub key_id: Option<KeyId>,
    /// The token's subject, when the caller came with one that names somebody other than
    /// the key.
    pub subject: Option<Text>,
    pub namespace: Option<Text>,
    pub server: Option<Text>,
    /// `tools/call`, `prompts/get`, `resources/read`; for changes `server.create` and the
    /// like.
    pub method: &'static str,
    /// The tool, prompt or resource as the client named it (for changes: the object).
    pub tool: Option<Text>,
    /// The same as the backend knows it.
    pub upstream_tool: Option<Text>,
    /// An [`Outcome`] name (`ok` for changes).
    pub outcome: &'static str,
    pub duration: Duration,
    pub request_bytes: u64,
    pub response_bytes: u64,
    /// The trace the call was part of (when tracing is on).
    pub trace_id: Option<[u8; 16]>,
}

impl Entry {
    /// A registry change made by `key`.
    pub fn change(key: KeyId, method: &'static str, object: &str) -> Entry {
        Entry {
            at: SystemTime::now(),
            kind: Kind::Change,
            key_id: Some(key),
            subject: None,
            namespace: None,
            server: None,
            method,
            tool: Some(object.into()),
            upstream_tool: None,
            outcome: "ok",
            duration: Duration::ZERO,
            request_bytes: 0,
            response_bytes: 0,
            trace_id: None,
        }
    }
}

/// The queue of rows not yet written, and its counts.
pub struct Audit {
    enabled: bool,
    capacity: usize,
    queue: Mutex<Vec<Entry>>,
    wake: Notify,
    written: AtomicU64,
    dropped: AtomicU64,
    /// When a drop was last logged (seconds since the Unix epoch).
    drop_logged: AtomicU64,
}

impl Audit {
    pub fn new(enabled: bool, capacity: usize) -> Audit {
        Audit {
            enabled,
            capacity: capacity.max(1),
            queue: Mutex::new(Vec::new()),
            wake: Notify::new(),
            written: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            drop_logged: AtomicU64::new(0),
        }
    }

    /// Whether rows are recorded at all (`METAMCP_AUDIT`).
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Entry>> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a row; a full queue drops it (counted, and logged once a minute).
    pub fn record(&self, entry: Entry) {
        if !self.enabled {
            return;
        }
        let mut q = self.lock();
        if q.len() >= self.capacity {
            drop(q);
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if once_a_minute(&self.drop_logged) {
                tracing::warn!(
                    dropped,
                    capacity = self.capacity,
                    "audit queue full: rows dropped (the database is slow or unreachable)"
                );
            }
            return;
        }
        q.push(entry);
        let full_batch = q.len() == BATCH;
        drop(q);
        if full_batch {
            self.wake.notify_one();
        }
    }

    /// Rows waiting to be written.
    pub fn queued(&self) -> usize {
        self.lock().len()
    }

    /// Rows written so far.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// Rows dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Writes every queued row, a batch at a time; on failure the rows not written go back
    /// to the front of the queue (still within its bound) and the error is returned.
    pub async fn flush(&self, pool: &Pool) -> Result<usize, DbError> {
        let mut total = 0;
        loop {
            let batch: Vec<Entry> = {
                let mut q = self.lock();
                let n = q.len().min(BATCH);
                q.drain(..n).collect()
            };
            if batch.is_empty() {
                return Ok(total);
            }
            match write(pool, &batch).await {
                Ok(()) => {
                    total += batch.len();
                    self.written
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                }
                Err(e) => {
                    let mut q = self.lock();
                    let room = self.capacity.saturating_sub(q.len()).min(batch.len());
                    let lost = batch.len() - room;
                    // Rows queued meanwhile take the places of the oldest of this batch
                    // only when the queue cannot hold both.
                    q.splice(0..0, batch.into_iter().skip(lost));
                    drop(q);
                    if lost > 0 {
                        self.dropped.fetch_add(lost as u64, Ordering::Relaxed);
                    }
                    return Err(e);
                }
            }
        }
    }

    /// Writes rows while the state lives: every [`FLUSH_EVERY`], or at once when a batch is
    /// waiting. An unreachable database is logged once a minute and retried.
    pub async fn run(audit: std::sync::Weak<Audit>, pool: Pool) {
        let logged = AtomicU64::new(0);
        let Some(wake) = audit.upgrade() else { return };
        loop {
            // A notification sent while a write was under way is kept for this wait.
            tokio::select! {
                () = wake.wake.notified() => {}
                () = tokio::time::sleep(FLUSH_EVERY) => {}
            }
            let Some(a) = audit.upgrade() else { return };
            if let Err(e) = a.flush(&pool).await
                && once_a_minute(&logged)
            {
                tracing::warn!(
                    error = %e,
                    queued = a.queued(),
                    "could not write audit rows; keeping them and retrying"
                );
            }
        }
    }
}

/// True at most once a minute per `last` (seconds since the Unix epoch).
fn once_a_minute(last: &AtomicU64) -> bool {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let before = last.load(Ordering::Relaxed);
    now >= before + LOG_EVERY_SECS
        && last
            .compare_exchange(before, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
}

/// One statement for a batch of rows.
async fn write(pool: &Pool, rows: &[Entry]) -> Result<(), DbError> {
    fn texts(rows: &[Entry], f: impl Fn(&Entry) -> Option<&Text>) -> Vec<Option<Cow<'_, str>>> {
        rows.iter().map(|r| f(r).map(Text::as_str)).collect()
    }
    fn refs<'a>(v: &'a [Option<Cow<'a, str>>]) -> Vec<Option<&'a str>> {
        v.iter().map(|c| c.as_deref()).collect()
    }
    let at: Vec<SystemTime> = rows.iter().map(|r| r.at).collect();
    let kind: Vec<&str> = rows.iter().map(|r| r.kind.as_str()).collect();
    let key: Vec<Option<&str>> = rows
        .iter()
        .map(|r| r.key_id.as_ref().map(KeyId::as_str))
        .collect();
    let subject_text = texts(rows, |r| r.subject.as_ref());
    let subject = refs(&subject_text);
    let namespace_text = texts(rows, |r| r.namespace.as_ref());
    let namespace = refs(&namespace_text);
    let server_text = texts(rows, |r| r.server.as_ref());
    let server = refs(&server_text);
    let method: Vec<&str> = rows.iter().map(|r| r.method).collect();
    let tool_text = texts(rows, |r| r.tool.as_ref());
    let tool = refs(&tool_text);
    let upstream_text = texts(rows, |r| r.upstream_tool.as_ref());
    let upstream = refs(&upstream_text);
    let outcome: Vec<&str> = rows.iter().map(|r| r.outcome).collect();
    let clamp = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let duration: Vec<i64> = rows
        .iter()
        .map(|r| clamp(u64::try_from(r.duration.as_micros()).unwrap_or(u64::MAX)))
        .collect();
    let req: Vec<i64> = rows.iter().map(|r| clamp(r.request_bytes)).collect();
    let resp: Vec<i64> = rows.iter().map(|r| clamp(r.response_bytes)).collect();
    let trace: Vec<Option<String>> = rows
        .iter()
        .map(|r| r.trace_id.as_ref().map(|t| crate::crypto::to_hex(t)))
        .collect();
    let client = pool.get().await?;
    client
        .execute(
            "INSERT INTO audit_log (at, kind, key_id, subject, namespace, server, method, tool,
                 upstream_tool, outcome, duration_us, request_bytes, response_bytes, trace_id)
             SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[],
                 $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                 $11::int8[], $12::int8[], $13::int8[], $14::text[])",
            &[
                &at, &kind, &key, &subject, &namespace, &server, &method, &tool, &upstream,
                &outcome, &duration, &req, &resp, &trace,
            ],
        )
        .await?;
    Ok(())
}

/// Deletes rows older than `retention`, [`DELETE_BATCH`] per transaction, while this
/// process holds the retention lock (another process deleting meanwhile makes this one
/// stop). Returns how many rows were deleted.
pub async fn expire(pool: &Pool, retention: Duration) -> Result<u64, DbError> {
    let seconds = retention.as_secs_f64();
    let mut total = 0;
    loop {
        let mut client = pool.get().await?;
        let tx = client.transaction().await?;
        let locked: bool = tx
            .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&RETENTION_LOCK])
            .await?
            .get(0);
        if !locked {
            return Ok(total);
        }
        let n = tx
            .execute(
                "DELETE FROM audit_log WHERE id IN (
                     SELECT id FROM audit_log
                     WHERE at < now() - make_interval(secs => $1)
                     ORDER BY at LIMIT $2)",
                &[&seconds, &DELETE_BATCH],
            )
            .await?;
        tx.commit().await?;
        total += n;
        if n < DELETE_BATCH as u64 {
            return Ok(total);
        }
    }
}

/// How often the retention pass runs: every minute, or twice per retention period when
/// that is shorter (at least once a second).
pub fn expire_every(retention: Duration) -> Duration {
    (retention / 2).clamp(Duration::from_secs(1), Duration::from_secs(60))
}

/// Runs the retention pass at start and then every [`expire_every`].
pub async fn expire_loop(audit: std::sync::Weak<Audit>, pool: Pool, retention: Duration) {
    let mut tick = tokio::time::interval(expire_every(retention));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if audit.strong_count() == 0 {
            return;
        }
        match expire(&pool, retention).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "old audit rows deleted"),
            Err(e) => tracing::warn!(error = %e, "could not delete old audit rows"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> Entry {
        Entry::change(
            KeyId::parse("0123456789abcdef").unwrap(),
            "server.create",
            "x",
        )
    }

    #[test]
    fn a_full_queue_drops_and_counts() {
        let a = Audit::new(true, 3);
        for _ in 0..5 {
            a.record(row());
        }
        assert_eq!((a.queued(), a.dropped()), (3, 2));
    }

    #[test]
    fn every_outcome_is_named_once() {
        let all = [
            Outcome::Ok,
            Outcome::ToolError,
            Outcome::RpcError,
            Outcome::Timeout,
            Outcome::Unavailable,
            Outcome::Refused,
            Outcome::Cancelled,
        ];
        let names: Vec<&str> = all.iter().map(|o| o.as_str()).collect();
        assert_eq!(names, Outcome::NAMES);
    }

    #[test]
    fn a_disabled_trail_queues_nothing() {
        let a = Audit::new(false, 3);
        a.record(row());
        assert_eq!((a.queued(), a.dropped()), (0, 0));
    }

    #[test]
    fn the_retention_pass_runs_often_enough_for_short_periods() {
        assert_eq!(
            expire_every(Duration::from_secs(86_400)),
            Duration::from_secs(60)
        );
        assert_eq!(
            expire_every(Duration::from_secs(10)),
            Duration::from_secs(5)
        );
        assert_eq!(
            expire_every(Duration::from_millis(10)),
            Duration::from_secs(1)
        );
    }
}
