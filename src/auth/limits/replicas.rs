//! Limits shared by every replica on one PostgreSQL (`sql/0020_shared_limits.sql`), with
//! no statement per call. A replica leases tokens from a key's bucket in batches sized to
//! the demand it sees, reserves blocks of the day's calls, and holds places in flight in a
//! shared count; it spends all of them from memory ([`super::lease`]). A lease that runs
//! low is renewed by the background [`tick`] (one statement for every lease due), one
//! that runs out on the request path is renewed there (one request renews, the others of
//! that key wait for it), one left idle is given back, and all are given back when the
//! process stops. A replica that dies loses at most what it held; its places in flight
//! stop counting when it has not been seen for [`REPLICA_TIMEOUT`].
//!
//! While PostgreSQL does not answer, every limit is kept in this process at a share (the
//! limit divided by the replicas last seen; a daily quota only from the block already
//! reserved, see [`super::lease::Daily`]): [`Shared::mode`] says which. The first failed
//! statement switches, a heartbeat that answers switches back; each is logged once.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::Pool;

use super::lease::{DailyLease, DailyOrder, Mode, Reservation, SlotLease, TokenLease};
use crate::base::Clock;
use crate::store::db::DbError;

/// Milliseconds since the epoch (this process's clock: only for how long it was degraded).
fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A replica not seen for this long no longer counts (its places in flight come back).
pub const REPLICA_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a replica says it is alive (and counts the others).
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(2);
/// How often the background renewal runs when nothing wakes it earlier.
pub const TICK: Duration = Duration::from_millis(50);
/// How long a statement on the request path may take before the database counts as away.
const REQUEST_PATH_TIMEOUT: Duration = Duration::from_millis(500);
/// How long a background statement may take.
const BACKGROUND_TIMEOUT: Duration = Duration::from_secs(2);

/// Counters for `/metrics`.
#[derive(Default)]
pub struct Stats {
    /// Statements sent (every kind).
    pub statements: AtomicU64,
    /// Token leases renewed (each lease in a batch counts).
    pub token_renewals: AtomicU64,
    /// Of them, renewals made on the request path.
    pub renewals_inline: AtomicU64,
    /// Tokens given back unspent.
    pub tokens_returned: AtomicU64,
    /// Blocks of daily calls reserved.
    pub daily_reservations: AtomicU64,
    /// Daily calls given back unspent.
    pub calls_returned: AtomicU64,
    /// Slot counts set (asked for or given back).
    pub slot_leases: AtomicU64,
    /// Milliseconds spent degraded, up to the last return.
    pub degraded_ms: AtomicU64,
}

/// A lease due for renewal in the background.
pub enum Due {
    Tokens(Arc<TokenLease>),
    Daily(Arc<DailyLease>),
}

/// One replica's side of the shared limits.
pub struct Shared {
    pool: Pool,
    /// This replica's name in `limit_replicas` and `limit_slots`.
    pub replica: String,
    /// Since when (unix ms) the database has not answered; 0 while it does.
    degraded_since: AtomicU64,
    /// Replicas seen alive at the last heartbeat, this one included.
    replicas: AtomicU32,
    due: Mutex<Vec<Due>>,
    pub wake: tokio::sync::Notify,
    pub stats: Stats,
    /// Set at the return from degraded mode: places in flight are counted again.
    pub resync: AtomicBool,
    /// Held by the background task for each of its rounds, so that stopping it waits for
    /// the statement it has sent (a grant that lands after the leases were given back
    /// would be lost).
    round: tokio::sync::Mutex<()>,
    /// Set once the process stops: the background task ends at its next round.
    stopping: AtomicBool,
    /// The limiter's clock: its skew is passed to every statement that reads the time.
    clock: Clock,
}

/// A token lease asked for: `take` more, `give` back.
pub struct TokenAsk<'a> {
    pub lease: &'a TokenLease,
    pub per_sec: f64,
    pub capacity: f64,
    pub take: f64,
    pub give: f64,
}

/// What the bucket answered.
#[derive(Debug, Clone, Copy)]
pub struct TokenGrant {
    pub granted: f64,
    pub wait_ms: f64,
}

/// Daily calls asked for (and given back).
pub struct DailyAsk<'a> {
    pub lease: &'a DailyLease,
    pub quota: u64,
    pub order: DailyOrder,
}

impl Shared {
    pub fn new(pool: Pool, replica: String, clock: Clock) -> Shared {
        Shared {
            clock,
            pool,
            replica,
            degraded_since: AtomicU64::new(0),
            replicas: AtomicU32::new(1),
            due: Mutex::default(),
            wake: tokio::sync::Notify::new(),
            stats: Stats::default(),
            resync: AtomicBool::new(false),
            round: tokio::sync::Mutex::new(()),
            stopping: AtomicBool::new(false),
        }
    }

    /// The time the limits read.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// How far the limits' clock is ahead of PostgreSQL's, as the statements take it.
    fn skew(&self) -> f64 {
        self.clock.skew_ms() as f64
    }

    /// Starts one round of the background task; `None`: the process stops, the task ends.
    pub async fn round(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        let round = self.round.lock().await;
        (!self.stopping.load(Ordering::Acquire)).then_some(round)
    }

    /// Stops the background task: returns once the round it is in (if any) is over, and
    /// no other begins.
    pub async fn stop_background(&self) {
        self.stopping.store(true, Ordering::Release);
        self.wake.notify_one();
        if self.round.try_lock().is_err() {
            tracing::info!(
                "stopping: waiting for the limits' statement in progress (up to {} s) before giving back the leases",
                BACKGROUND_TIMEOUT.as_secs()
            );
        }
        drop(self.round.lock().await);
    }

    /// Where limits are kept now.
    pub fn mode(&self) -> Mode {
        if self.degraded_since.load(Ordering::Relaxed) == 0 {
            Mode::Shared
        } else {
            Mode::Local(self.replicas())
        }
    }

    /// Replicas seen alive at the last heartbeat (at least this one).
    pub fn replicas(&self) -> u32 {
        self.replicas.load(Ordering::Relaxed).max(1)
    }

    /// Since when (unix ms) limits have been kept locally, if they are.
    pub fn degraded_since(&self) -> Option<u64> {
        Some(self.degraded_since.load(Ordering::Relaxed)).filter(|t| *t != 0)
    }

    /// Milliseconds spent degraded in all, the current stretch included.
    pub fn degraded_ms(&self) -> u64 {
        let now = unix_ms();
        self.stats.degraded_ms.load(Ordering::Relaxed)
            + self.degraded_since().map_or(0, |t| now.saturating_sub(t))
    }

    /// Queues a lease for the background renewal.
    pub fn due(&self, d: Due) {
        self.due.lock().unwrap_or_else(|p| p.into_inner()).push(d);
        self.wake.notify_one();
    }

    pub fn take_due(&self) -> Vec<Due> {
        std::mem::take(&mut *self.due.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn failed(&self, e: &DbError) {
        let now = unix_ms().max(1);
        if self
            .degraded_since
            .compare_exchange(0, now, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            tracing::warn!(
                error = %e,
                replicas = self.replicas(),
                "PostgreSQL does not answer: key limits are kept by this process alone, at 1/{} of each (the replicas it last saw), and daily quotas only from the calls it had reserved, until it answers again",
                self.replicas()
            );
        }
    }

    fn answered(&self) {
        let since = self.degraded_since.swap(0, Ordering::AcqRel);
        if since != 0 {
            let ms = unix_ms().saturating_sub(since);
            self.stats.degraded_ms.fetch_add(ms, Ordering::Relaxed);
            self.resync.store(true, Ordering::Release);
            tracing::warn!(
                degraded_ms = ms,
                "PostgreSQL answers again: key limits are shared by the replicas again"
            );
        }
    }

    /// Runs one statement within `limit`; a failure or a timeout makes the database away.
    async fn run<T, F>(&self, limit: Duration, f: F) -> Result<T, DbError>
    where
        F: std::future::Future<Output = Result<T, DbError>>,
    {
        self.stats.statements.fetch_add(1, Ordering::Relaxed);
        let r = match tokio::time::timeout(limit, f).await {
            Ok(r) => r,
            Err(_) => Err(DbError::Task(format!(
                "no answer within {} ms",
                limit.as_millis()
            ))),
        };
        match &r {
            Ok(_) => {}
            Err(e) => self.failed(e),
        }
        r
    }

    /// Runs one query of the leases (`inline`: on the request path, with its shorter time).
    async fn query(
        &self,
        inline: bool,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>, DbError> {
        let limit = if inline {
            REQUEST_PATH_TIMEOUT
        } else {
            BACKGROUND_TIMEOUT
        };
        self.run(limit, async {
            let client = self.pool.get().await?;
            Ok(client.query(sql, params).await?)
        })
        .await
    }

    /// Leases tokens: one statement for every ask.
    pub async fn lease_tokens(
        &self,
        asks: &[TokenAsk<'_>],
        inline: bool,
    ) -> Result<Vec<TokenGrant>, DbError> {
        if asks.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<&str> = asks.iter().map(|a| a.lease.key.as_str()).collect();
        let scopes: Vec<&str> = asks.iter().map(|a| &*a.lease.scope).collect();
        let rates: Vec<f64> = asks.iter().map(|a| a.per_sec).collect();
        let caps: Vec<f64> = asks.iter().map(|a| a.capacity.max(1.0)).collect();
        let takes: Vec<f64> = asks.iter().map(|a| a.take).collect();
        let gives: Vec<f64> = asks.iter().map(|a| a.give).collect();
        let rows = self
            .query(
                inline,
                "SELECT granted, wait_ms FROM metamcp_lease_tokens($1, $2, $3, $4, $5, $6, $7)",
                &[&keys, &scopes, &rates, &caps, &takes, &gives, &self.skew()],
            )
            .await?;
        let grants: Vec<TokenGrant> = rows
            .iter()
            .map(|r| TokenGrant {
                granted: r.try_get(0).unwrap_or(0.0),
                wait_ms: r.try_get(1).unwrap_or(1000.0),
            })
            .collect();
        let s = &self.stats;
        let renewed = asks.iter().filter(|a| a.take > 0.0).count() as u64;
        s.token_renewals.fetch_add(renewed, Ordering::Relaxed);
        if inline {
            s.renewals_inline.fetch_add(renewed, Ordering::Relaxed);
        }
        let given: f64 = asks.iter().map(|a| a.give).sum();
        s.tokens_returned.fetch_add(given as u64, Ordering::Relaxed);
        self.answered();
        Ok(grants)
    }

    /// Sets the places this replica holds: `(lease, max, want)` each.
    pub async fn lease_slots(
        &self,
        asks: &[(&SlotLease, u32, u32)],
        inline: bool,
    ) -> Result<Vec<u32>, DbError> {
        if asks.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<&str> = asks.iter().map(|a| a.0.key.as_str()).collect();
        let kinds: Vec<&str> = asks.iter().map(|a| a.0.kind.as_str()).collect();
        let maxes: Vec<i32> = asks.iter().map(|a| clamp_i32(a.1)).collect();
        let wants: Vec<i32> = asks.iter().map(|a| clamp_i32(a.2)).collect();
        let rows = self
            .query(
                inline,
                "SELECT held FROM metamcp_lease_slots($1, $2, $3, $4, $5, $6)",
                &[&self.replica, &keys, &kinds, &maxes, &wants, &self.skew()],
            )
            .await?;
        self.stats
            .slot_leases
            .fetch_add(asks.len() as u64, Ordering::Relaxed);
        self.answered();
        Ok(rows
            .iter()
            .map(|r| r.try_get::<_, i32>(0).unwrap_or(0).max(0) as u32)
            .collect())
    }

    /// Reserves blocks of the day's calls (and gives back, and charges).
    pub async fn reserve_calls(
        &self,
        asks: &[DailyAsk<'_>],
        inline: bool,
    ) -> Result<Vec<Reservation>, DbError> {
        if asks.is_empty() {
            return Ok(Vec::new());
        }
        let i64_of = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let keys: Vec<&str> = asks.iter().map(|a| a.lease.key.as_str()).collect();
        let quotas: Vec<i64> = asks.iter().map(|a| i64_of(a.quota)).collect();
        let wants: Vec<i64> = asks.iter().map(|a| i64_of(a.order.want)).collect();
        let gives: Vec<i64> = asks.iter().map(|a| i64_of(a.order.give)).collect();
        let days: Vec<i32> = asks.iter().map(|a| a.order.day).collect();
        // Nothing is ever charged after the fact: every call served was reserved first
        // (the statement's `charges` stay for replicas of an older build while one rolls).
        let charges: Vec<i64> = vec![0; asks.len()];
        let rows = self
            .query(
                inline,
                "SELECT granted, used, today, until_midnight_ms
                 FROM metamcp_reserve_calls($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &keys,
                    &quotas,
                    &wants,
                    &gives,
                    &days,
                    &charges,
                    &self.skew(),
                ],
            )
            .await?;
        let s = &self.stats;
        s.daily_reservations.fetch_add(
            asks.iter().filter(|a| a.order.want > 0).count() as u64,
            Ordering::Relaxed,
        );
        s.calls_returned.fetch_add(
            asks.iter().map(|a| a.order.give).sum::<u64>(),
            Ordering::Relaxed,
        );
        self.answered();
        Ok(rows
            .iter()
            .map(|r| Reservation {
                granted: r.try_get::<_, i64>(0).unwrap_or(0).max(0) as u64,
                used: r.try_get::<_, i64>(1).unwrap_or(0).max(0) as u64,
                day: r.try_get(2).unwrap_or(0),
                until_midnight_ms: r.try_get(3).unwrap_or(86_400_000),
            })
            .collect())
    }

    /// Says this replica is alive and counts the live ones.
    pub async fn heartbeat(&self) -> Result<u32, DbError> {
        let n = self
            .run(BACKGROUND_TIMEOUT, async {
                let client = self.pool.get().await?;
                let row = client
                    .query_one(
                        "WITH me AS (
                             INSERT INTO limit_replicas (replica) VALUES ($1)
                             ON CONFLICT (replica)
                             DO UPDATE SET seen_at = clock_timestamp() + $3 * interval '1 ms'
                         )
                         SELECT count(*) FROM limit_replicas
                         WHERE replica <> $1
                           AND seen_at > clock_timestamp() + $3 * interval '1 ms' - $2 * interval '1 ms'",
                        &[&self.replica, &(REPLICA_TIMEOUT.as_millis() as f64), &self.skew()],
                    )
                    .await?;
                Ok(row.try_get::<_, i64>(0).unwrap_or(0))
            })
            .await?;
        let n = u32::try_from(n).unwrap_or(u32::MAX).saturating_add(1);
        self.replicas.store(n, Ordering::Relaxed);
        self.answered();
        Ok(n)
    }

    /// Removes what nobody holds: replicas gone (and their places in flight), buckets
    /// that have refilled, days before yesterday.
    pub async fn prune(&self) -> Result<u64, DbError> {
        self.run(BACKGROUND_TIMEOUT, async {
            let client = self.pool.get().await?;
            let gone = format!("{} milliseconds", REPLICA_TIMEOUT.as_millis());
            // The limits' time: PostgreSQL's, moved as far as their clock was advanced.
            let now = format!(
                "(clock_timestamp() + interval '{} milliseconds')",
                self.clock.skew_ms()
            );
            let statements = [
                format!("DELETE FROM limit_replicas WHERE seen_at < {now} - interval '{gone}'"),
                "DELETE FROM limit_slots s WHERE NOT EXISTS
                 (SELECT 1 FROM limit_replicas r WHERE r.replica = s.replica)"
                    .into(),
                format!(
                    "DELETE FROM limit_buckets WHERE tokens + per_second *
                     extract(epoch FROM {now} - updated_at) >= capacity"
                ),
                format!("DELETE FROM limit_daily WHERE day < ({now} AT TIME ZONE 'UTC')::date - 1"),
            ];
            let mut n = 0;
            for sql in &statements {
                n += client.execute(sql.as_str(), &[]).await?;
            }
            Ok(n)
        })
        .await
    }

    /// This replica stops: its places in flight and its name go.
    pub async fn leave(&self) -> Result<(), DbError> {
        self.run(BACKGROUND_TIMEOUT, async {
            let client = self.pool.get().await?;
            client
                .execute(
                    "DELETE FROM limit_slots WHERE replica = $1",
                    &[&self.replica],
                )
                .await?;
            client
                .execute(
                    "DELETE FROM limit_replicas WHERE replica = $1",
                    &[&self.replica],
                )
                .await?;
            Ok(())
        })
        .await
    }
}

/// A read of the shared rows that changes nothing, for a look at a key's limits
/// ([`super::peek`]): one statement within the request path's time; a failure says
/// nothing of the database's state (the next real statement finds it).
impl Shared {
    async fn read_one(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<tokio_postgres::Row, DbError> {
        let read = async {
            let client = self.pool.get().await?;
            Ok(client.query_one(sql, params).await?)
        };
        match tokio::time::timeout(REQUEST_PATH_TIMEOUT, read).await {
            Ok(r) => r,
            Err(_) => Err(DbError::Task(format!(
                "no answer within {} ms",
                REQUEST_PATH_TIMEOUT.as_millis()
            ))),
        }
    }

    /// The tokens a bucket holds now, refilled at `per_sec` up to `capacity` as a lease
    /// would find it (a bucket without a row is full).
    pub(super) async fn tokens_now(
        &self,
        key: &str,
        scope: &str,
        per_sec: f64,
        capacity: f64,
    ) -> Result<f64, DbError> {
        let row = self
            .read_one(
                "SELECT (SELECT least($3::float8, tokens + $4::float8 * greatest(extract(epoch
                         FROM clock_timestamp() + $5::float8 * interval '1 ms' - updated_at),
                         0)::float8)
                    FROM limit_buckets WHERE key_id = $1 AND scope = $2)",
                &[&key, &scope, &capacity.max(1.0), &per_sec, &self.skew()],
            )
            .await?;
        Ok(row.try_get::<_, Option<f64>>(0)?.unwrap_or(capacity))
    }

    /// The places of `kind` the other live replicas hold for `key`.
    pub(super) async fn held_elsewhere(&self, key: &str, kind: &str) -> Result<u32, DbError> {
        let row = self
            .read_one(
                "SELECT coalesce(sum(s.held), 0)::int8 FROM limit_slots s
                   JOIN limit_replicas r ON r.replica = s.replica
                  WHERE s.key_id = $1 AND s.kind = $2 AND s.replica <> $3
                    AND r.seen_at > clock_timestamp() + $5::float8 * interval '1 ms'
                                    - $4::float8 * interval '1 ms'",
                &[
                    &key,
                    &kind,
                    &self.replica,
                    &(REPLICA_TIMEOUT.as_millis() as f64),
                    &self.skew(),
                ],
            )
            .await?;
        Ok(u32::try_from(row.try_get::<_, i64>(0)?.max(0)).unwrap_or(u32::MAX))
    }

    /// Today's count of `key`'s tool calls (UTC, PostgreSQL's clock) and the
    /// milliseconds left of the day.
    pub(super) async fn calls_today(&self, key: &str) -> Result<(u64, u64), DbError> {
        let row = self
            .read_one(
                "WITH t AS (SELECT (clock_timestamp() + $2::float8 * interval '1 ms')
                                   AT TIME ZONE 'UTC' AS now)
                 SELECT (SELECT used FROM limit_daily, t
                          WHERE key_id = $1 AND day = t.now::date),
                        ceil(extract(epoch FROM (t.now::date + 1)::timestamp - t.now)
                             * 1000)::int8
                   FROM t",
                &[&key, &self.skew()],
            )
            .await?;
        let used = row.try_get::<_, Option<i64>>(0)?.unwrap_or(0).max(0) as u64;
        Ok((used, row.try_get::<_, i64>(1)?.max(1) as u64))
    }
}

fn clamp_i32(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

impl Shared {
    /// The shared limits' lines for `/metrics`; `leases`: keys and tools with a lease here.
    pub fn render_metrics(&self, text: &mut String, leases: usize) {
        let s = &self.stats;
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let degraded = u8::from(self.degraded_since().is_some());
        let lines: [(&str, &str, &str, String); 11] = [
            (
                "metamcp_limits_degraded",
                "gauge",
                "1 while PostgreSQL does not answer and key limits are kept by this process at a share.",
                (u64::from(degraded)).to_string(),
            ),
            (
                "metamcp_limits_degraded_seconds_total",
                "counter",
                "Seconds this process has kept key limits alone.",
                format!("{:.3}", self.degraded_ms() as f64 / 1000.0),
            ),
            (
                "metamcp_limits_replicas",
                "gauge",
                "Replicas sharing the limits, as last counted (a degraded replica's share is 1/this).",
                (u64::from(self.replicas())).to_string(),
            ),
            (
                "metamcp_limits_statements_total",
                "counter",
                "Statements the shared limits sent to PostgreSQL (leases, not calls).",
                (n(&s.statements)).to_string(),
            ),
            (
                "metamcp_limits_lease_renewals_total",
                "counter",
                "Token leases renewed.",
                (n(&s.token_renewals)).to_string(),
            ),
            (
                "metamcp_limits_lease_renewals_inline_total",
                "counter",
                "Token leases renewed on the request path (the lease ran out before the background renewal).",
                (n(&s.renewals_inline)).to_string(),
            ),
            (
                "metamcp_limits_tokens_returned_total",
                "counter",
                "Leased tokens given back unspent.",
                (n(&s.tokens_returned)).to_string(),
            ),
            (
                "metamcp_limits_daily_reservations_total",
                "counter",
                "Blocks of daily calls reserved.",
                (n(&s.daily_reservations)).to_string(),
            ),
            (
                "metamcp_limits_daily_calls_returned_total",
                "counter",
                "Reserved daily calls given back unspent.",
                (n(&s.calls_returned)).to_string(),
            ),
            (
                "metamcp_limits_slot_leases_total",
                "counter",
                "Changes of the places in flight this process holds in the shared count.",
                (n(&s.slot_leases)).to_string(),
            ),
            (
                "metamcp_limits_leases",
                "gauge",
                "Keys and per-tool rates with a lease in this process.",
                (leases as u64).to_string(),
            ),
        ];
        for (name, kind, help, value) in lines {
            text.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
            ));
        }
    }
}

/// A key's use of each of its limits, across the replicas, from PostgreSQL:
/// `{"rate": {"limit", "burst", "available"}, "max_concurrent": {"limit", "held"},
/// "streams": {"limit", "held"}, "daily_calls": {"limit", "used", "resets_at"}}`.
/// `available`: tokens in the shared bucket now (replicas may hold a few more, leased);
/// `held`: places in flight the live replicas hold (in use, and a few spare for a moment).
pub async fn key_use(
    pool: &Pool,
    key_id: &str,
    eff: &crate::model::limits::Effective,
    streams_per_key: u32,
) -> Result<serde_json::Value, DbError> {
    let client = pool.get().await?;
    let row = client
        .query_one(
            "SELECT
               (SELECT least(capacity, tokens + per_second *
                       greatest(extract(epoch FROM clock_timestamp() - updated_at), 0))
                  FROM limit_buckets WHERE key_id = $1 AND scope = ''),
               (SELECT coalesce(sum(s.held), 0)::int8 FROM limit_slots s
                  JOIN limit_replicas r ON r.replica = s.replica
                 WHERE s.key_id = $1 AND s.kind = 'calls'
                   AND r.seen_at > clock_timestamp() - $2 * interval '1 ms'),
               (SELECT coalesce(sum(s.held), 0)::int8 FROM limit_slots s
                  JOIN limit_replicas r ON r.replica = s.replica
                 WHERE s.key_id = $1 AND s.kind = 'streams'
                   AND r.seen_at > clock_timestamp() - $2 * interval '1 ms'),
               (SELECT used FROM limit_daily
                 WHERE key_id = $1 AND day = (clock_timestamp() AT TIME ZONE 'UTC')::date),
               to_char((clock_timestamp() AT TIME ZONE 'UTC')::date + 1, 'YYYY-MM-DD\"T00:00:00Z\"')",
            &[&key_id, &(REPLICA_TIMEOUT.as_millis() as f64)],
        )
        .await?;
    let available: Option<f64> = row.try_get(0)?;
    let calls: i64 = row.try_get(1)?;
    let streams: i64 = row.try_get(2)?;
    let used: Option<i64> = row.try_get(3)?;
    let resets_at: String = row.try_get(4)?;
    let burst = eff.burst.map(f64::from);
    Ok(serde_json::json!({
        "rate": eff.rate.map(|r| serde_json::json!({
            "limit": r.to_string(),
            "burst": eff.burst,
            "available": available.or(burst).map(|a| (a * 10.0).floor() / 10.0),
        })),
        "max_concurrent": {"limit": eff.max_concurrent, "held": calls},
        "streams": {"limit": streams_per_key, "held": streams},
        "daily_calls": {"limit": eff.daily_calls, "used": used.unwrap_or(0), "resets_at": resets_at},
    }))
}
