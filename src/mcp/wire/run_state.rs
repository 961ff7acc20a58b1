//! The `requestState` of a `run_code` call suspended for the user (2026-07-28): an inner
//! call of its script needs the user's confirmation, so the run answers
//! `input_required` and the client's retry resumes it. Nothing waits anywhere in
//! between: the state carries the run's journal (its completed inner calls, replayed
//! instead of called again), the inner call asked about (its tool, a digest of its
//! arguments, and that call's own confirmation state), and binds it all to the caller,
//! to the `run_code` request (a digest of its params: the same code) and to an expiry.
//! Sealed under the gateway's key like every state ([`crate::crypto::Sealed`]); any
//! replica opens it. The journal's results ride in it, so it is bounded
//! ([`MAX_RUN_STATE`]); a run whose journal would not fit is not suspended.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::request_state::StateError;
use crate::codemode::Journal;
use crate::crypto::{Cipher, Sealed};

/// What a run's state starts with.
pub const RUN_PREFIX: &str = "mcr1.";
/// Bound to the purpose: no other state opens as a run's, nor back.
const RUN_AAD: &[u8] = b"metamcp run-state v1";
/// Longest run state issued or accepted (the journal's results are in it).
pub const MAX_RUN_STATE: usize = 1 << 20;

/// The inner call the user is asked about.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct InnerAsk {
    /// The tool as the view exposes it.
    pub tool: String,
    /// The journal's digest of its arguments ([`crate::codemode::journal::digest`]).
    pub digest: String,
    /// The inner call's own confirmation state
    /// ([`super::request_state::seal_confirm`]), spent when the call goes on.
    pub state: String,
}

/// What a run's state says, sealed.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct RunClaims {
    /// The key id (empty for an open namespace's anonymous callers) and the namespace.
    pub principal: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// [`super::request_state::params_digest`] of the `run_code` call.
    pub digest: String,
    pub journal: Journal,
    pub inner: InnerAsk,
    /// Unix milliseconds after which the state is refused.
    pub expires_ms: u64,
    /// The run's audit identity: the resumed run's rows name the same parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<uuid::Uuid>,
}

/// A suspended run as its retry resumes it: the journal, the inner call asked about, and
/// the client's answer (its `inputResponses.confirm`, as it came).
#[derive(Debug, Clone, PartialEq)]
pub struct Resume {
    pub journal: Journal,
    pub inner: InnerAsk,
    pub answer: Value,
    /// The run's audit identity, as it started.
    pub run: Option<uuid::Uuid>,
}

const RUNS: Sealed<RunClaims> = Sealed::new(RUN_PREFIX, RUN_AAD, MAX_RUN_STATE);

/// The state for `claims`, or `None` when it would be longer than [`MAX_RUN_STATE`].
pub fn seal_run(cipher: &Cipher, claims: &RunClaims) -> Option<String> {
    let sealed = RUNS.seal(cipher, claims);
    (sealed.len() <= MAX_RUN_STATE).then_some(sealed)
}

/// Opens a run's state and checks it: unaltered, unexpired, presented by its caller, for
/// this `run_code` request (`digest`).
pub fn open_run(
    cipher: &Cipher,
    state: &str,
    principal: &str,
    namespace: Option<&str>,
    digest: &str,
    now_ms: u64,
) -> Result<RunClaims, StateError> {
    let claims = RUNS.open(cipher, state).ok_or(StateError::Invalid)?;
    if claims.expires_ms <= now_ms {
        return Err(StateError::Expired);
    }
    if !crate::crypto::constant_time_eq(claims.principal.as_bytes(), principal.as_bytes())
        || claims.namespace.as_deref() != namespace
    {
        return Err(StateError::Foreign);
    }
    if !crate::crypto::constant_time_eq(claims.digest.as_bytes(), digest.as_bytes()) {
        return Err(StateError::OtherRequest);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cipher() -> Cipher {
        Cipher::new(&crate::config::KeyBytes([9; 32]))
    }

    fn claims(results: usize) -> RunClaims {
        let mut journal = Journal::start("return 1");
        for i in 0..results {
            journal.entries.push(crate::codemode::journal::Entry {
                order: i as u32,
                kind: crate::codemode::journal::Kind::Call,
                tool: "files__read".into(),
                digest: "d".into(),
                outcome: Ok(
                    serde_json::json!({"content": [{"type": "text", "text": "x".repeat(1000)}]}),
                ),
                ms: 1,
            });
        }
        RunClaims {
            principal: "k1".into(),
            namespace: None,
            digest: "run".into(),
            journal,
            inner: InnerAsk {
                tool: "files__remove".into(),
                digest: "a".into(),
                state: "mcf1.x".into(),
            },
            expires_ms: 2_000,
            run: Some(uuid::Uuid::from_u128(7)),
        }
    }

    #[test]
    fn a_run_state_opens_only_unaltered_in_time_for_its_caller_and_request() {
        let c = cipher();
        let sealed = claims(2);
        let s = seal_run(&c, &sealed).unwrap();
        assert!(s.starts_with(RUN_PREFIX));
        assert_eq!(open_run(&c, &s, "k1", None, "run", 1_000), Ok(sealed));
        assert_eq!(
            open_run(&c, &s, "k1", None, "run", 2_000),
            Err(StateError::Expired)
        );
        assert_eq!(
            open_run(&c, &s, "k2", None, "run", 1_000),
            Err(StateError::Foreign)
        );
        assert_eq!(
            open_run(&c, &s, "k1", Some("ns"), "run", 1_000),
            Err(StateError::Foreign)
        );
        assert_eq!(
            open_run(&c, &s, "k1", None, "other code", 1_000),
            Err(StateError::OtherRequest)
        );
        // Another key, or another kind of state, does not open as a run's.
        let other = Cipher::new(&crate::config::KeyBytes([8; 32]));
        assert_eq!(
            open_run(&other, &s, "k1", None, "run", 1_000),
            Err(StateError::Invalid)
        );
        let confirm = super::super::request_state::seal_confirm(
            &c,
            &super::super::request_state::ConfirmClaims {
                principal: "k1".into(),
                namespace: None,
                tool: "t".into(),
                digest: "run".into(),
                expires_ms: 2_000,
            },
        );
        assert_eq!(
            open_run(&c, &confirm, "k1", None, "run", 1_000),
            Err(StateError::Invalid)
        );
    }

    #[test]
    fn a_journal_too_large_to_carry_is_not_sealed() {
        assert!(seal_run(&cipher(), &claims(2_000)).is_none());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// Whatever a client sends back (an altered state, bytes cut or appended,
        /// another string), it opens only as the state it was.
        #[test]
        fn an_altered_state_never_opens(at in 0usize..4096, byte in any::<u8>(), cut in any::<bool>(), junk in ".{0,64}") {
            let c = cipher();
            let s = seal_run(&c, &claims(1)).unwrap();
            let mut b = s.clone().into_bytes();
            let i = at % b.len();
            if cut {
                b.truncate(i);
            } else if b[i] != byte {
                b[i] = byte;
            }
            if let Ok(altered) = String::from_utf8(b)
                && altered != s
            {
                prop_assert!(open_run(&c, &altered, "k1", None, "run", 1_000).is_err());
            }
            prop_assert!(open_run(&c, &junk, "k1", None, "run", 1_000).is_err());
            let appended = format!("{s}{junk}");
            if appended != s {
                prop_assert!(open_run(&c, &appended, "k1", None, "run", 1_000).is_err());
            }
        }
    }
}
