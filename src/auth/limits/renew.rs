//! The background half of the shared limits: every [`super::replicas::TICK`] (or sooner,
//! when a lease runs low), one statement renews every token lease that runs low and gives
//! back every one left idle, one reserves or gives back blocks of the day's calls, and one
//! gives back spare places in flight. [`release_all`] gives everything back when the
//! process stops (after the background task has stopped: a grant it waits for lands in
//! a lease before the lease is given back). A statement that fails gives nothing back
//! twice: it may have been counted before its answer was lost.

use std::sync::Arc;
use std::time::Instant;

use super::Limiter;
use super::lease::{DailyLease, IDLE_RETURN, Mode, SlotLease, TokenLease};
use super::replicas::{DailyAsk, Due, Shared, TokenAsk};

/// Leases in one statement at most.
const BATCH: usize = 1000;

/// One round of the background renewal; `scan`: also look at every lease (idle ones
/// given back, spare places released, leases of idle keys forgotten).
pub async fn tick(limiter: &Limiter, shared: &Shared, scan: bool) {
    if shared.mode() != Mode::Shared {
        return;
    }
    let now = limiter.clock().now();
    let mut tokens = Vec::new();
    let mut daily = Vec::new();
    for d in shared.take_due() {
        match d {
            Due::Tokens(l) => tokens.push(l),
            Due::Daily(l) => daily.push(l),
        }
    }
    let resync = shared
        .resync
        .swap(false, std::sync::atomic::Ordering::AcqRel);
    let mut slots = Vec::new();
    if scan || resync {
        let all = limiter.leases();
        tokens.extend(all.tokens.into_iter().filter(|l| {
            let s = l.state();
            s.tokens >= 1.0 && now.saturating_duration_since(s.last) >= IDLE_RETURN
        }));
        daily.extend(all.daily.into_iter().filter(|l| {
            let s = l.state();
            s.give > 0 || (s.block > 0 && s.quiet(now))
        }));
        slots.extend(all.slots.into_iter().filter(|l| {
            let s = l.state();
            (resync && (s.in_use > 0 || s.held > 0)) || s.to_release(now).is_some()
        }));
    }
    dedupe(&mut tokens);
    dedupe(&mut daily);
    for chunk in tokens.chunks(BATCH) {
        renew_tokens(shared, chunk, now, false).await;
    }
    for chunk in daily.chunks(BATCH) {
        renew_daily(shared, chunk, now, false).await;
    }
    for chunk in slots.chunks(BATCH) {
        release_slots(shared, chunk, now, resync).await;
    }
    if scan {
        limiter.forget_idle(now);
    }
}

fn dedupe<T>(v: &mut Vec<Arc<T>>) {
    v.sort_by_key(|a| Arc::as_ptr(a) as usize);
    v.dedup_by(|a, b| Arc::ptr_eq(a, b));
}

/// Renews (or, `all_back` or idle, gives back) token leases in one statement.
async fn renew_tokens(shared: &Shared, leases: &[Arc<TokenLease>], now: Instant, all_back: bool) {
    let mut asks = Vec::with_capacity(leases.len());
    for l in leases {
        let mut s = l.state();
        let (per_sec, capacity) = s.under();
        if per_sec <= 0.0 {
            s.queued = false;
            continue;
        }
        let idle = all_back || now.saturating_duration_since(s.last) >= IDLE_RETURN;
        let (take, give) = if idle {
            (0.0, s.give_back())
        } else {
            ((s.want(now) - s.tokens).max(0.0).ceil(), 0.0)
        };
        if take == 0.0 && give == 0.0 {
            s.queued = false;
            continue;
        }
        asks.push(TokenAsk {
            lease: l,
            per_sec,
            capacity,
            take,
            give,
        });
    }
    match shared.lease_tokens(&asks, false).await {
        Ok(grants) => {
            for (a, g) in asks.iter().zip(grants) {
                let mut s = a.lease.state();
                if a.take > 0.0 {
                    s.granted(a.take, g.granted, g.wait_ms, shared.clock().now());
                } else {
                    s.queued = false;
                }
            }
        }
        Err(_) => {
            // What was given back may have reached the bucket before the answer was lost:
            // not spent here too (the key gets fewer tokens, never more).
            for a in &asks {
                a.lease.state().queued = false;
            }
        }
    }
}

/// Reserves and gives back blocks of the day's calls in one statement.
async fn renew_daily(shared: &Shared, leases: &[Arc<DailyLease>], now: Instant, all_back: bool) {
    let replicas = shared.replicas();
    let mut asks = Vec::with_capacity(leases.len());
    for l in leases {
        let mut s = l.state();
        let quota = s.quota();
        let idle = all_back || s.quiet(now);
        let want = if s.queued && !idle && quota > 0 {
            s.want_among(now, replicas).saturating_sub(s.block)
        } else {
            0
        };
        let order = s.order(want, idle, now);
        if order.give == 0 && order.want == 0 {
            s.queued = false;
            continue;
        }
        asks.push(DailyAsk {
            lease: l,
            quota,
            order,
        });
    }
    let answers = shared.reserve_calls(&asks, false).await.ok();
    let now = shared.clock().now();
    for (i, a) in asks.iter().enumerate() {
        let r = answers.as_ref().and_then(|rs| rs.get(i).copied());
        a.lease.state().answered(&a.order, r, now);
    }
}

/// Gives back spare places in flight (`resync`: sets every held count to what is in use,
/// after the database was away).
async fn release_slots(shared: &Shared, leases: &[Arc<SlotLease>], now: Instant, resync: bool) {
    let asks: Vec<(&SlotLease, u32, u32)> = leases
        .iter()
        .filter_map(|l| {
            let s = l.state();
            let keep = match s.to_release(now) {
                Some(k) => k,
                None if resync => s.in_use.min(s.max),
                None => return None,
            };
            Some((&**l, s.max, keep))
        })
        .collect();
    if let Ok(held) = shared.lease_slots(&asks, false).await {
        for (a, h) in asks.iter().zip(held) {
            a.0.state().released(h);
        }
    }
}

/// Gives back everything this process holds (it stops): unspent tokens and calls, places
/// in flight, its name among the replicas. While the database is away nothing can be
/// given back and nothing is owed (every call served was reserved first): the process
/// stops at once, and the keys get fewer calls that day by what it held unspent.
pub async fn release_all(limiter: &Limiter, shared: &Shared) {
    if shared.mode() != Mode::Shared && shared.heartbeat().await.is_err() {
        tracing::warn!(
            "stopping while PostgreSQL does not answer: the leases this replica holds are not given back (the keys get fewer calls, never more)"
        );
        return;
    }
    let now = shared.clock().now();
    let all = limiter.leases();
    for chunk in all.tokens.chunks(BATCH) {
        renew_tokens(shared, chunk, now, true).await;
    }
    for chunk in all.daily.chunks(BATCH) {
        renew_daily(shared, chunk, now, true).await;
    }
    if let Err(e) = shared.leave().await {
        tracing::debug!(error = %e, "could not remove this replica's places in flight");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::limits::lease::Reservation;
    use crate::base::{Clock, KeyId};
    use std::time::Duration;

    /// Shared limits on a database nobody listens for (a closed port): every statement fails.
    fn unreachable() -> Shared {
        let mut pg = tokio_postgres::Config::new();
        pg.host("127.0.0.1")
            .port(1)
            .user("nobody")
            .dbname("nothing")
            .connect_timeout(Duration::from_millis(200));
        Shared::new(
            crate::store::db::make_pool(pg, 1),
            "replica".into(),
            Clock::default(),
        )
    }

    fn key() -> KeyId {
        KeyId::parse("0123456789abcdef").unwrap()
    }

    #[tokio::test]
    async fn what_a_failed_statement_gave_back_is_neither_given_again_nor_spent() {
        let shared = unreachable();
        let t0 = Instant::now();
        let tokens = Arc::new(TokenLease::new(key(), Arc::from(""), t0));
        {
            let mut s = tokens.state();
            let _ = s.take(10.0, 10.0, Mode::Shared, t0);
            s.granted(5.0, 5.0, 0.0, t0);
        }
        let daily = Arc::new(DailyLease::new(key(), t0));
        {
            let mut s = daily.state();
            let _ = s.take(10, Mode::Shared, t0, Duration::from_secs(3600));
            let r = Reservation {
                granted: 4,
                used: 4,
                day: 20_000,
                until_midnight_ms: 3_600_000,
            };
            s.reserved(4, r, t0, t0);
        }
        // A stop gives everything back; the database does not answer.
        renew_tokens(&shared, std::slice::from_ref(&tokens), t0, true).await;
        renew_daily(&shared, std::slice::from_ref(&daily), t0, true).await;
        assert_ne!(shared.mode(), Mode::Shared, "the failure was noticed");
        // The statement may have been counted before its answer was lost: what it gave
        // back is gone from the leases (before, it came back into them to be spent or
        // given again).
        assert!(tokens.state().tokens < 1.0, "{}", tokens.state().tokens);
        let s = daily.state();
        assert_eq!((s.block, s.give), (0, 0));
    }
}
