//! A look at a key's limits that changes nothing: would its next request (its rate, a
//! place in flight) or its next tool call (the tool's rate, the day's quota) be refused,
//! and with which refusal? `policies check` asks this ([`crate::mcp::admission::peek`]),
//! so that a dry run says what a call would meet without spending any of it.
//!
//! Each look reads the lease as the charge would ([`Peek`]: [`super::lease`]'s `peek`
//! beside each `take`), and where the lease holds nothing and the limit is shared, the
//! shared row as the renewal would find it ([`Shared::tokens_now`],
//! [`Shared::held_elsewhere`], [`Shared::calls_today`]): a read, never a lease. No lease
//! is made for a key that has none; a database that does not answer refuses nothing
//! here (the call itself would find out).

use std::sync::Arc;
use std::time::Instant;

use super::lease::{DailyLease, Peek, SlotKind, SlotLease, TokenLease};
use super::replicas::Shared;
use super::{
    Counters, Limiter, Refused, concurrency_refused, rate_refused, tool_rate_refused,
    until_midnight,
};
use crate::base::KeyId;
use crate::model::limits::{Effective, Rate};

/// What the shared row says where a token lease holds none: refused when the bucket
/// holds less than a token (come back when it does).
async fn tokens(shared: &Shared, lease: &TokenLease, per_sec: f64, capacity: f64) -> Option<u64> {
    let level = shared
        .tokens_now(lease.key.as_str(), &lease.scope, per_sec, capacity)
        .await
        .map_err(|e| tracing::debug!(error = %e, "a look at a key's rate found no answer"))
        .ok()?;
    (level < 1.0).then(|| (((1.0 - level) / per_sec) * 1000.0).ceil().max(1.0) as u64)
}

impl Limiter {
    /// The key's leases, when it has any (none is made).
    fn counters_of(&self, key: &KeyId) -> Option<Arc<Counters>> {
        self.keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned()
    }

    /// A token lease's look: its own state, then the shared bucket when it holds none.
    async fn peek_tokens(&self, lease: &TokenLease, per_sec: f64, capacity: f64) -> Option<u64> {
        let now = self.clock.now();
        let peek = lease.state().peek(per_sec, capacity, self.mode(), now);
        match (peek, self.shared.get()) {
            (Peek::Free, _) => None,
            (Peek::Refused(ms), _) => Some(ms),
            (Peek::Ask, Some(shared)) => tokens(shared, lease, per_sec, capacity).await,
            (Peek::Ask, None) => None,
        }
    }

    /// Whether the key's next request would be refused by its rate, and how.
    pub async fn peek_request(&self, key: &KeyId, limits: &Effective) -> Result<(), Refused> {
        let (Some(rate), Some(burst)) = (limits.rate, limits.burst) else {
            return Ok(());
        };
        let now = self.clock.now();
        let lease = match self.counters_of(key) {
            Some(c) => c.rate.clone(),
            None => Arc::new(TokenLease::new(*key, Arc::from(""), now)),
        };
        let capacity = f64::from(burst.max(1));
        match self.peek_tokens(&lease, rate.per_second(), capacity).await {
            Some(ms) => Err(rate_refused(rate, burst, ms)),
            None => Ok(()),
        }
    }

    /// Whether the key's next request would find no place in flight.
    pub async fn peek_enter(&self, key: &KeyId, limits: &Effective) -> Result<(), Refused> {
        let Some(max) = limits.max_concurrent else {
            return Ok(());
        };
        let now = self.clock.now();
        let lease = match self.counters_of(key) {
            Some(c) => c.calls.clone(),
            None => Arc::new(SlotLease::new(*key, SlotKind::Calls, now)),
        };
        let (peek, in_use) = {
            let s = lease.state();
            (s.peek(max, self.mode(), now), s.in_use)
        };
        let full = match (peek, self.shared.get()) {
            (Peek::Free, _) => false,
            (Peek::Refused(_), _) => true,
            (Peek::Ask, Some(shared)) => {
                match shared
                    .held_elsewhere(key.as_str(), SlotKind::Calls.as_str())
                    .await
                {
                    Ok(others) => in_use.saturating_add(others) >= max,
                    Err(e) => {
                        tracing::debug!(error = %e, "a look at a key's places found no answer");
                        false
                    }
                }
            }
            (Peek::Ask, None) => false,
        };
        match full {
            true => Err(concurrency_refused(max)),
            false => Ok(()),
        }
    }

    /// Whether the key's next call of a tool whose namespace rates it (`tool`: the
    /// namespace tool's id) would be refused by that rate.
    pub async fn peek_tool_rate(
        &self,
        key: &KeyId,
        tool: &Arc<str>,
        rate: Rate,
    ) -> Result<(), Refused> {
        let now = self.clock.now();
        let held = self
            .tools
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(*key, tool.clone()))
            .cloned();
        let lease = held.unwrap_or_else(|| Arc::new(TokenLease::new(*key, tool.clone(), now)));
        let capacity = f64::from(rate.count);
        match self.peek_tokens(&lease, rate.per_second(), capacity).await {
            Some(ms) => Err(tool_rate_refused(tool, rate, ms)),
            None => Ok(()),
        }
    }

    /// Whether the key's next tool call would be over its daily quota.
    pub async fn peek_tool_call(&self, key: &KeyId, limits: &Effective) -> Result<(), Refused> {
        let Some(quota) = limits.daily_calls else {
            return Ok(());
        };
        let now: Instant = self.clock.now();
        let left = until_midnight(self.clock.unix_now());
        let lease = match self.counters_of(key) {
            Some(c) => c.daily.clone(),
            None => {
                let fresh = Arc::new(DailyLease::new(*key, now));
                if self.shared.get().is_none() {
                    fresh.state().counted_alone();
                }
                fresh
            }
        };
        let peek = lease.state().peek(quota, self.mode(), now, left);
        let refused_in = match (peek, self.shared.get()) {
            (Peek::Free, _) => None,
            (Peek::Refused(ms), _) => Some(ms),
            (Peek::Ask, Some(shared)) => match shared.calls_today(key.as_str()).await {
                Ok((used, day_left)) => (used >= quota).then_some(day_left),
                Err(e) => {
                    tracing::debug!(error = %e, "a look at a key's day found no answer");
                    None
                }
            },
            (Peek::Ask, None) => None,
        };
        match refused_in {
            Some(ms) => Err(self.daily_refused(quota, ms)),
            None => Ok(()),
        }
    }
}
