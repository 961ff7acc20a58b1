//! The audit trail's write side: rows are queued in memory on the request path (one short
//! lock, no I/O) and written in batches by one task, at most [`FLUSH_EVERY`] after they
//! were queued or as soon as [`BATCH`] are waiting. The queue is bounded: a full queue
//! drops rows and counts them, and a database outage keeps what fits until the database
//! is back. Old rows are deleted in small batches by one process at a time.
//!
//! A row holds names, sizes, times and outcomes, never an argument or a result value.
//! Each row has an identity ([`mint`]), and a call made within another (a code-mode
//! script's inner call, within its run) names that call's row as its `parent`.

use std::borrow::Cow;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use deadpool_postgres::Pool;
use tokio::sync::Notify;
use uuid::Uuid;

use super::batches::{Batches, Pushed};
use crate::jsonrpc::frame::{self, Span};

use crate::base::KeyId;
use crate::store::db::DbError;

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
    /// Refused by the gateway before any backend saw it (the row's `reason` says why).
    Denied,
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
            Outcome::Denied => "denied",
        }
    }

    /// Every outcome's name (the store validates filters against the same list).
    pub const NAMES: [&'static str; 8] = crate::store::audit::OUTCOMES;
}

/// A name in a row, borrowed for as long as the row is being recorded (it is encoded
/// at once): queuing a row copies no name and holds nothing of the request.
#[derive(Debug, Clone, Copy)]
pub enum Text<'a> {
    /// A JSON string literal as the client sent it (quotes included), decoded when the
    /// row is encoded.
    Literal(&'a [u8]),
    Str(&'a str),
}

impl Text<'_> {
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
            Text::Str(s) => Cow::Borrowed(s),
        }
    }
}

impl<'a> From<&'a str> for Text<'a> {
    fn from(s: &'a str) -> Text<'a> {
        Text::Str(s)
    }
}

/// One audit row, borrowing its names.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub at: SystemTime,
    pub kind: Kind,
    pub key_id: Option<KeyId>,
    /// The token's subject, when the caller came with one that names somebody other than
    /// the key.
    pub subject: Option<Text<'a>>,
    pub namespace: Option<Text<'a>>,
    pub server: Option<Text<'a>>,
    /// `tools/call`, `prompts/get`, `resources/read`; for changes `server.create` and the
    /// like.
    pub method: &'static str,
    /// The tool, prompt or resource as the client named it (for changes: the object).
    pub tool: Option<Text<'a>>,
    /// The same as the backend knows it.
    pub upstream_tool: Option<Text<'a>>,
    /// An [`Outcome`] name (`ok` for changes).
    pub outcome: &'static str,
    pub duration: Duration,
    pub request_bytes: u64,
    pub response_bytes: u64,
    /// The trace the call was part of (when tracing is on).
    pub trace_id: Option<[u8; 16]>,
    /// Why a call was [`Outcome::Denied`] (`policy NAME`, `disabled`, …); `None` for
    /// every other row.
    pub reason: Option<Text<'a>>,
    /// What the policies in audit mode would have decided on the call (`deny by
    /// trial-guard`), beside its real outcome; `None` when none applies.
    pub policy_audit: Option<Text<'a>>,
    /// The row's identity (`call_id`), when it was needed before the row is recorded (a
    /// code-mode run's, named by its inner calls while it runs); `None`: minted as the
    /// row is queued.
    pub id: Option<Uuid>,
    /// The identity of the call this one was made within: a code-mode run, for each of
    /// its script's inner calls (refused ones too); `None` for a call of its own.
    pub parent: Option<Uuid>,
}

impl<'a> Entry<'a> {
    /// A registry change made by `key`.
    pub fn change(key: KeyId, method: &'static str, object: &'a str) -> Entry<'a> {
        Entry::change_by(Some(key), method, object)
    }

    /// A change made by `key`, or by the gateway itself (`None`: a token it refreshed).
    pub fn change_by(key: Option<KeyId>, method: &'static str, object: &'a str) -> Entry<'a> {
        Entry {
            at: SystemTime::now(),
            kind: Kind::Change,
            key_id: key,
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
            reason: None,
            id: None,
            parent: None,
            policy_audit: None,
        }
    }
}

/// A new row identity: a random prefix drawn once per process (60 bits: two replicas'
/// meet with odds of one in 2^60) and a counter, as a version-8 (custom) UUID. Minting
/// one takes no system call and no lock, so every row of the request path can have one.
pub fn mint() -> Uuid {
    static PREFIX: std::sync::LazyLock<u64> =
        std::sync::LazyLock::new(|| Uuid::new_v4().as_u64_pair().0);
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&PREFIX.to_be_bytes());
    bytes[8..].copy_from_slice(&n.to_be_bytes());
    // The version takes 4 bits of the prefix, the variant the counter's top 2 (a process
    // would need 2^62 rows to wrap).
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// The queue of rows not yet written, and its counts. Rows wait in the form they are
/// written in, binary COPY tuples: one is encoded when it is recorded, while its names are
/// at hand, so queuing it copies no name and holds nothing of the request.
pub struct Audit {
    enabled: bool,
    capacity: usize,
    queue: Mutex<Batches>,
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
            queue: Mutex::new(Batches::default()),
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

    fn lock(&self) -> std::sync::MutexGuard<'_, Batches> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn count_dropped(&self, n: u64, why: &str) {
        let dropped = self.dropped.fetch_add(n, Ordering::Relaxed) + n;
        if once_a_minute(&self.drop_logged) {
            tracing::warn!(
                dropped,
                capacity = self.capacity,
                "audit rows dropped: {why}"
            );
        }
    }

    /// Queues a row; a full queue drops it (counted, and logged once a minute).
    pub fn record(&self, entry: Entry<'_>) {
        if !self.enabled {
            return;
        }
        let pushed = self.lock().push(self.capacity, BATCH, |out| {
            encode_row(out, &entry);
            true
        });
        match pushed {
            Pushed::Queued(full_batch) => {
                if full_batch {
                    self.wake.notify_one();
                }
            }
            Pushed::Full | Pushed::Refused => {
                self.count_dropped(1, "the queue is full (the database is slow or unreachable)");
            }
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

    /// Rows dropped because the queue was full (or the database refused their batch).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Writes every queued row, a batch at a time; a batch that fails goes back to the
    /// front of the queue and the error is returned. A batch the database refuses for
    /// its data (which encoding rules out; it would otherwise block the queue for good)
    /// is dropped and counted.
    pub async fn flush(&self, pool: &Pool) -> Result<usize, DbError> {
        self.write(pool, true).await
    }

    /// Writes the queued batches: all of them when `all`, else only the full ones (a
    /// writer kept busy by a steady stream then writes batches of [`BATCH`] rows, not the
    /// few that arrived during its last write: each batch costs a round trip and a commit).
    async fn write(&self, pool: &Pool, all: bool) -> Result<usize, DbError> {
        let mut total = 0;
        loop {
            let next = {
                let mut queue = self.lock();
                if all {
                    queue.take()
                } else {
                    queue.take_full(BATCH)
                }
            };
            let Some(mut batch) = next else {
                return Ok(total);
            };
            let result;
            (batch.bytes, result) = copy(pool, std::mem::take(&mut batch.bytes)).await;
            let rows = batch.records;
            match result {
                Err(e) if !refused_data(&e) => {
                    self.lock().put_back(batch);
                    return Err(e);
                }
                Ok(()) => {
                    self.lock().done(batch);
                    total += rows;
                    self.written.fetch_add(rows as u64, Ordering::Relaxed);
                }
                Err(e) => {
                    self.lock().done(batch);
                    tracing::error!(error = %e, rows, "the database refused a batch of audit rows");
                    self.count_dropped(rows as u64, "the database refused them");
                }
            }
        }
    }

    /// Writes rows while the state lives: a batch as soon as it is full, and everything
    /// queued every [`FLUSH_EVERY`]. An unreachable database is logged once a minute and
    /// retried.
    pub async fn run(audit: std::sync::Weak<Audit>, pool: Pool) {
        let logged = AtomicU64::new(0);
        let Some(wake) = audit.upgrade() else { return };
        let mut due = tokio::time::Instant::now() + FLUSH_EVERY;
        loop {
            // A notification sent while a write was under way is kept for this wait.
            tokio::select! {
                () = wake.wake.notified() => {}
                () = tokio::time::sleep_until(due) => {}
            }
            let Some(a) = audit.upgrade() else { return };
            let all = tokio::time::Instant::now() >= due;
            if all {
                due = tokio::time::Instant::now() + FLUSH_EVERY;
            }
            if let Err(e) = a.write(&pool, all).await
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

/// The columns a row gives, in the order [`encode_row`] writes them.
const COPY: &str = "COPY audit_log (at, kind, key_id, subject, namespace, server, method, tool, \
     upstream_tool, outcome, duration_us, request_bytes, response_bytes, trace_id, reason, \
     policy_audit, call_id, parent) FROM STDIN (FORMAT binary)";
/// The binary COPY signature, no flags and no header extension; and the end marker.
const COPY_HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
const COPY_TRAILER: &[u8] = &[0xff, 0xff];
/// Longest name kept in a row, in bytes (cut at a character boundary): what a client
/// names is bounded by its request, not by what a queue of rows may hold.
const TEXT_LIMIT: usize = 1024;
/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// One statement for a batch of encoded rows (written whole or not at all). The buffer
/// comes back for reuse, or to be written again.
async fn copy(pool: &Pool, rows: Vec<u8>) -> (Vec<u8>, Result<(), DbError>) {
    let rows = Bytes::from(rows);
    let result = copy_bytes(pool, rows.clone()).await;
    let back = match rows.try_into_mut() {
        Ok(b) => Vec::from(b),
        Err(shared) => shared.to_vec(),
    };
    (back, result)
}

async fn copy_bytes(pool: &Pool, rows: Bytes) -> Result<(), DbError> {
    use futures_util::SinkExt;
    let client = pool.get().await?;
    let statement = client.prepare_cached(COPY).await?;
    let sink = client.copy_in::<_, Bytes>(&statement).await?;
    let mut sink = std::pin::pin!(sink);
    sink.feed(Bytes::from_static(COPY_HEADER)).await?;
    sink.feed(rows).await?;
    sink.feed(Bytes::from_static(COPY_TRAILER)).await?;
    sink.as_mut().finish().await?;
    Ok(())
}

/// Whether the database refused the rows themselves (a data or constraint error), which
/// writing them again cannot mend.
fn refused_data(e: &DbError) -> bool {
    match e {
        DbError::Query(e) => e
            .code()
            .is_some_and(|c| matches!(&c.code()[..2], "22" | "23")),
        _ => false,
    }
}

/// A row as a binary COPY tuple: the field count, then each field's length (-1: NULL)
/// and bytes, in [`COPY`]'s column order.
fn encode_row(out: &mut Vec<u8>, e: &Entry<'_>) {
    out.reserve(256);
    let micros =
        e.at.duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
    let mut head = [0u8; 14];
    head[..2].copy_from_slice(&18i16.to_be_bytes());
    head[2..6].copy_from_slice(&8i32.to_be_bytes());
    head[6..].copy_from_slice(&micros.saturating_sub(PG_EPOCH_MICROS).to_be_bytes());
    out.extend_from_slice(&head);
    // The gateway's own words (kind, key id, method, outcome) hold no NUL and are short.
    known(out, e.kind.as_str().as_bytes());
    match &e.key_id {
        Some(k) => known(out, k.as_bytes()),
        None => null(out),
    }
    for t in [&e.subject, &e.namespace, &e.server] {
        text(out, t.as_ref().map(Text::as_str).as_deref());
    }
    known(out, e.method.as_bytes());
    for t in [&e.tool, &e.upstream_tool] {
        text(out, t.as_ref().map(Text::as_str).as_deref());
    }
    known(out, e.outcome.as_bytes());
    let clamp = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let mut ints = [0u8; 36];
    for (slot, v) in ints.chunks_exact_mut(12).zip([
        clamp(u64::try_from(e.duration.as_micros()).unwrap_or(u64::MAX)),
        clamp(e.request_bytes),
        clamp(e.response_bytes),
    ]) {
        slot[..4].copy_from_slice(&8i32.to_be_bytes());
        slot[4..].copy_from_slice(&v.to_be_bytes());
    }
    out.extend_from_slice(&ints);
    match &e.trace_id {
        Some(id) => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            let mut hex = [0u8; 36];
            hex[..4].copy_from_slice(&32i32.to_be_bytes());
            for (pair, b) in hex[4..].chunks_exact_mut(2).zip(id) {
                pair[0] = HEX[usize::from(b >> 4)];
                pair[1] = HEX[usize::from(b & 15)];
            }
            out.extend_from_slice(&hex);
        }
        None => null(out),
    }
    text(out, e.reason.as_ref().map(Text::as_str).as_deref());
    text(out, e.policy_audit.as_ref().map(Text::as_str).as_deref());
    uuid_field(out, Some(e.id.unwrap_or_else(mint)));
    uuid_field(out, e.parent);
}

/// A `uuid` field: its 16 bytes.
fn uuid_field(out: &mut Vec<u8>, id: Option<Uuid>) {
    match id {
        Some(id) => {
            out.extend_from_slice(&16i32.to_be_bytes());
            out.extend_from_slice(id.as_bytes());
        }
        None => null(out),
    }
}

fn null(out: &mut Vec<u8>) {
    out.extend_from_slice(&(-1i32).to_be_bytes());
}

/// A text field the gateway wrote itself: no NUL, under [`TEXT_LIMIT`].
fn known(out: &mut Vec<u8>, b: &[u8]) {
    debug_assert!(b.len() <= TEXT_LIMIT && !b.contains(&0));
    out.extend_from_slice(&(b.len() as i32).to_be_bytes());
    out.extend_from_slice(b);
}

/// A text field: cut at [`TEXT_LIMIT`], and without NUL characters (which PostgreSQL's
/// text cannot hold; a JSON `\u0000` decodes to one), replaced by U+FFFD.
fn text(out: &mut Vec<u8>, s: Option<&str>) {
    let Some(s) = s else {
        null(out);
        return;
    };
    let s = super::cut(s, TEXT_LIMIT);
    if !s.as_bytes().contains(&0) {
        known(out, s.as_bytes());
        return;
    }
    let clean = s.replace('\0', "\u{fffd}");
    out.extend_from_slice(&(clean.len() as i32).to_be_bytes());
    out.extend_from_slice(clean.as_bytes());
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

    fn row() -> Entry<'static> {
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
            Outcome::Denied,
        ];
        let names: Vec<&str> = all.iter().map(|o| o.as_str()).collect();
        assert_eq!(names, Outcome::NAMES);
    }

    #[test]
    fn minted_identities_differ_and_say_they_are_custom() {
        let ids: std::collections::HashSet<Uuid> = (0..10_000).map(|_| mint()).collect();
        assert_eq!(ids.len(), 10_000);
        assert!(
            ids.iter()
                .all(|id| id.get_version_num() == 8 && id.get_variant() == uuid::Variant::RFC4122)
        );
    }

    #[test]
    fn a_row_is_encoded_with_its_identity_and_parent_last() {
        let (id, parent) = (Uuid::new_v4(), Uuid::new_v4());
        let mut out = Vec::new();
        encode_row(
            &mut out,
            &Entry {
                id: Some(id),
                parent: Some(parent),
                ..row()
            },
        );
        assert_eq!(&out[..2], &18i16.to_be_bytes());
        let tail = &out[out.len() - 40..];
        assert_eq!(&tail[..4], &16i32.to_be_bytes());
        assert_eq!(&tail[4..20], id.as_bytes());
        assert_eq!(&tail[20..24], &16i32.to_be_bytes());
        assert_eq!(&tail[24..], parent.as_bytes());
        // No parent: NULL; no identity given: one minted.
        let mut out = Vec::new();
        encode_row(&mut out, &row());
        let tail = &out[out.len() - 24..];
        assert_eq!(&tail[..4], &16i32.to_be_bytes());
        assert_eq!(&tail[20..], &(-1i32).to_be_bytes());
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
