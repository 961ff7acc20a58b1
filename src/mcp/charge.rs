//! The admit phase's charges, written once for every way in: MCP requests of both eras,
//! REST tool execution, the management API and long-lived streams. A key's request rate,
//! its place among its requests in flight, and a tool call's own rate and the key's daily
//! quota. Each refusal is counted and logged (once a minute) by [`State::over_limit`] and
//! returned as [`Refused`] for the caller to answer in its own shape (a JSON-RPC error, a
//! 429 problem).

use std::time::Instant;

use crate::auth::Principal;
use crate::auth::limits::{InFlight, Refused};
use crate::base::unix_now;
use crate::routing::ToolRate;
use crate::state::State;

fn refused(state: &State, p: &Principal, r: Refused) -> Refused {
    state.over_limit(&p.key_id, &r);
    r
}

/// One request against the key's rate.
pub(crate) fn request(state: &State, p: &Principal) -> Result<(), Refused> {
    let limiter = &state.auth.limits;
    let limits = limiter.effective(&p.limits);
    if limits.rate.is_none() {
        return Ok(());
    }
    limiter
        .request(&p.key_id, &limits, Instant::now())
        .map_err(|r| refused(state, p, r))
}

/// One request against the key's rate, then a place among its requests in flight (held
/// until the returned guard drops).
pub(crate) fn request_in_flight(state: &State, p: &Principal) -> Result<Option<InFlight>, Refused> {
    let limiter = &state.auth.limits;
    let limits = limiter.effective(&p.limits);
    if !limits.any() {
        return Ok(None);
    }
    limiter
        .request(&p.key_id, &limits, Instant::now())
        .and_then(|()| limiter.enter(&p.key_id, &limits))
        .map_err(|r| refused(state, p, r))
}

/// A place among the key's requests in flight alone (its rate charged already).
pub(crate) fn in_flight(state: &State, p: &Principal) -> Result<Option<InFlight>, Refused> {
    let limiter = &state.auth.limits;
    limiter
        .enter(&p.key_id, &limiter.effective(&p.limits))
        .map_err(|r| refused(state, p, r))
}

/// A tool call: the tool's own rate (`rate`, a namespace's) first, so that a call it
/// refuses does not count against the day, then the key's daily quota.
pub(crate) fn tool_call(
    state: &State,
    p: &Principal,
    rate: Option<&ToolRate>,
) -> Result<(), Refused> {
    let limiter = &state.auth.limits;
    let limits = limiter.effective(&p.limits);
    match rate {
        Some(t) => limiter.tool_rate(&p.key_id, &t.id, t.rate, Instant::now()),
        None => Ok(()),
    }
    .and_then(|()| limiter.tool_call(&p.key_id, &limits, unix_now()))
    .map_err(|r| refused(state, p, r))
}
