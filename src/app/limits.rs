//! The background task of the shared limits: renews leases every
//! [`TICK`](crate::auth::limits::replicas::TICK) (sooner when a lease runs low), says the replica is
//! alive every [`HEARTBEAT_EVERY`] (every half second while the database is away, to
//! notice its return), and prunes rows nobody holds every `METAMCP_LIMITS_PRUNE_EVERY`
//! (30 s by default). It ends when
//! the process stops ([`Shared::stop_background`](crate::auth::limits::replicas::Shared::stop_background)),
//! after the round it is in.

use std::sync::Weak;
use std::time::{Duration, Instant};

use crate::auth::limits::lease::Mode;
use crate::auth::limits::renew;
use crate::auth::limits::replicas::{HEARTBEAT_EVERY, TICK};
use crate::state::State;

/// How often every lease is looked at (idle ones given back).
const SCAN_EVERY: Duration = Duration::from_millis(250);
/// How often a degraded replica asks whether the database is back.
const PROBE_EVERY: Duration = Duration::from_millis(500);

pub async fn run(state: Weak<State>) {
    let Some((shared, prune_every)) = state.upgrade().and_then(|s| {
        let shared = s.auth.limits.shared().cloned()?;
        Some((shared, s.config.limits_prune_every))
    }) else {
        return;
    };
    let start = Instant::now();
    let (mut beat, mut scan, mut prune) = (None::<Instant>, start, start);
    loop {
        tokio::select! {
            _ = shared.wake.notified() => {}
            _ = tokio::time::sleep(TICK) => {}
        }
        let Some(state) = state.upgrade() else { return };
        let Some(_round) = shared.round().await else {
            return;
        };
        let now = Instant::now();
        let every = match shared.mode() {
            Mode::Shared => HEARTBEAT_EVERY,
            Mode::Local(_) => PROBE_EVERY,
        };
        if beat.is_none_or(|b| now.duration_since(b) >= every) {
            beat = Some(now);
            if let Err(e) = shared.heartbeat().await {
                tracing::debug!(error = %e, "limits heartbeat failed");
            }
        }
        let scanning = now.duration_since(scan) >= SCAN_EVERY;
        if scanning {
            scan = now;
        }
        renew::tick(&state.auth.limits, &shared, scanning).await;
        if now.duration_since(prune) >= prune_every && shared.mode() == Mode::Shared {
            prune = now;
            if let Err(e) = shared.prune().await {
                tracing::debug!(error = %e, "could not prune the limits' rows");
            }
        }
    }
}
