//! The `requestState` of a multi-round-trip request (MCP 2026-07-28), as the gateway
//! mints it: the one place it is sealed and opened.
//!
//! A client echoes the state back byte for byte on its retry, so it is attacker input.
//! The gateway's is an AEAD box (the gateway's key, ChaCha20-Poly1305) around claims that
//! bind it to the caller, to the request (method and a digest of its params without the
//! retry's own members), to an expiry, and to the replica holding the waiting call. A
//! state that was changed, that expired, that another caller presents, or that names
//! another request is refused; a waiting call is taken once, so a replay finds nothing.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::crypto::{Cipher, Sealed, to_hex};

/// What every sealed state starts with (so a backend's own state is told apart).
const PREFIX: &str = "mrs1.";
/// Bound to the purpose: a sealed session id or secret does not open as a state.
const AAD: &[u8] = b"metamcp request-state v1";
/// Longest state accepted; the gateway's own are a few hundred bytes.
pub const MAX_STATE: usize = 4096;

/// What a state says, sealed.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct StateClaims {
    /// The waiting call (random, hex).
    pub call: String,
    /// The replica holding it: its instance id, and the URL other replicas reach it at.
    pub replica: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_url: Option<String>,
    /// Who may retry: the key id (empty for an open namespace's anonymous callers) and
    /// the endpoint's namespace.
    pub principal: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub method: String,
    /// [`params_digest`] of the request, hex.
    pub digest: String,
    /// Unix milliseconds after which the state is refused.
    pub expires_ms: u64,
}

/// Why a presented state is refused (all answered with -32602, the reason in the message).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("requestState is not one this gateway issued, or it was altered")]
    Invalid,
    #[error("requestState has expired")]
    Expired,
    #[error("requestState belongs to another caller")]
    Foreign,
    #[error("requestState belongs to another request (method or params differ)")]
    OtherRequest,
}

/// Request states: the claims sealed.
const STATES: Sealed<StateClaims> = Sealed::new(PREFIX, AAD, MAX_STATE);

pub fn seal(cipher: &Cipher, claims: &StateClaims) -> String {
    STATES.seal(cipher, claims)
}

/// Opens a state and checks its expiry and who presents it; the request binding is
/// checked by the caller against the claims' `method` and `digest`.
pub fn open(
    cipher: &Cipher,
    state: &str,
    principal: &str,
    namespace: Option<&str>,
    now_ms: u64,
) -> Result<StateClaims, StateError> {
    let claims = STATES.open(cipher, state).ok_or(StateError::Invalid)?;
    if claims.expires_ms <= now_ms {
        return Err(StateError::Expired);
    }
    if !crate::crypto::constant_time_eq(claims.principal.as_bytes(), principal.as_bytes())
        || claims.namespace.as_deref() != namespace
    {
        return Err(StateError::Foreign);
    }
    Ok(claims)
}

impl StateClaims {
    /// Whether the retry is the request the state was issued for.
    pub fn binds(&self, method: &str, digest: &str) -> Result<(), StateError> {
        if self.method == method
            && crate::crypto::constant_time_eq(self.digest.as_bytes(), digest.as_bytes())
        {
            Ok(())
        } else {
            Err(StateError::OtherRequest)
        }
    }
}

/// What a confirmation's state starts with: the user's answer to a policy's `confirm`
/// ([`crate::mcp::confirm`]), told apart from a waiting call's state by it.
pub const CONFIRM_PREFIX: &str = "mcf1.";
/// Bound to the purpose: a request state does not open as a confirmation, nor back.
const CONFIRM_AAD: &[u8] = b"metamcp confirm-state v1";

/// What a confirmation's state says, sealed: who asked to call which tool with which
/// arguments, and until when the answer counts. Nothing waits for it anywhere: any
/// replica serves the retry.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ConfirmClaims {
    /// The key id (empty for an open namespace's anonymous callers) and the namespace.
    pub principal: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The tool as the view exposes it.
    pub tool: String,
    /// [`params_digest`] of the call (its name and arguments), hex.
    pub digest: String,
    /// Unix milliseconds after which the confirmation is refused.
    pub expires_ms: u64,
}

const CONFIRMS: Sealed<ConfirmClaims> = Sealed::new(CONFIRM_PREFIX, CONFIRM_AAD, MAX_STATE);

pub fn seal_confirm(cipher: &Cipher, claims: &ConfirmClaims) -> String {
    CONFIRMS.seal(cipher, claims)
}

/// Opens a confirmation's state and checks it: unaltered, unexpired, presented by its
/// caller, for this tool and these arguments (`digest`).
pub fn open_confirm(
    cipher: &Cipher,
    state: &str,
    expect: &ConfirmClaims,
    now_ms: u64,
) -> Result<ConfirmClaims, StateError> {
    let claims = CONFIRMS.open(cipher, state).ok_or(StateError::Invalid)?;
    if claims.expires_ms <= now_ms {
        return Err(StateError::Expired);
    }
    if !crate::crypto::constant_time_eq(claims.principal.as_bytes(), expect.principal.as_bytes())
        || claims.namespace != expect.namespace
    {
        return Err(StateError::Foreign);
    }
    if claims.tool != expect.tool
        || !crate::crypto::constant_time_eq(claims.digest.as_bytes(), expect.digest.as_bytes())
    {
        return Err(StateError::OtherRequest);
    }
    Ok(claims)
}

/// Members of `params` a retry adds or may change: left out of the digest.
/// `task` too: a 2026-07-28 client sends none (a 2025-11-25 one it may send is dropped),
/// and the gateway adds it to a call it makes a task.
const RETRY_MEMBERS: [&str; 4] = ["inputResponses", "requestState", "_meta", "task"];

/// A digest of a request's `params` without the retry's own members, over their
/// canonical form (keys sorted, no whitespace), so the same request spelt another way
/// still matches. Read by the one reader the policies and the question read
/// ([`crate::jsonrpc::read`]): `None` when the body is not a JSON object request, or
/// cannot be read one way.
pub fn params_digest(body: &[u8]) -> Option<String> {
    let v = crate::jsonrpc::read::value(body).ok()?;
    let mut params = v.get("params").cloned().unwrap_or(serde_json::Value::Null);
    if let Some(o) = params.as_object_mut() {
        for m in RETRY_MEMBERS {
            o.remove(m);
        }
    }
    let canonical = serde_json::to_vec(&params).ok()?;
    Some(to_hex(&Sha256::digest(&canonical)[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher() -> Cipher {
        Cipher::new(&crate::config::KeyBytes([7; 32]))
    }

    fn claims() -> StateClaims {
        StateClaims {
            call: "c1".into(),
            replica: "r1".into(),
            replica_url: Some("http://10.0.0.1:12009".into()),
            principal: "k1".into(),
            namespace: Some("ns".into()),
            method: "tools/call".into(),
            digest: "d".into(),
            expires_ms: 2_000,
        }
    }

    #[test]
    fn a_state_opens_only_unaltered_in_time_for_its_caller() {
        let c = cipher();
        let s = seal(&c, &claims());
        assert_eq!(open(&c, &s, "k1", Some("ns"), 1_000), Ok(claims()));
        assert_eq!(
            open(&c, &s, "k1", Some("ns"), 2_000),
            Err(StateError::Expired)
        );
        assert_eq!(
            open(&c, &s, "k2", Some("ns"), 1_000),
            Err(StateError::Foreign)
        );
        assert_eq!(open(&c, &s, "k1", None, 1_000), Err(StateError::Foreign));
        let mut flipped = s.clone().into_bytes();
        let last = flipped.len() - 3;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        for bad in [
            format!("{s}-TAMPERED"),
            flipped,
            s[PREFIX.len()..].to_string(),
            String::new(),
            "mrs1.".repeat(1000),
        ] {
            assert_eq!(
                open(&c, &bad, "k1", Some("ns"), 1_000),
                Err(StateError::Invalid),
                "{bad}"
            );
        }
        let other = Cipher::new(&crate::config::KeyBytes([8; 32]));
        assert_eq!(
            open(&other, &s, "k1", Some("ns"), 1_000),
            Err(StateError::Invalid)
        );
    }

    #[test]
    fn a_confirmation_opens_only_unaltered_in_time_for_its_caller_tool_and_arguments() {
        let c = cipher();
        let mine = ConfirmClaims {
            principal: "k1".into(),
            namespace: None,
            tool: "files__remove".into(),
            digest: "d1".into(),
            expires_ms: 2_000,
        };
        let s = seal_confirm(&c, &mine);
        assert!(s.starts_with(CONFIRM_PREFIX));
        assert_eq!(open_confirm(&c, &s, &mine, 1_000), Ok(mine.clone()));
        assert_eq!(open_confirm(&c, &s, &mine, 2_000), Err(StateError::Expired));
        let swap = |f: &dyn Fn(&mut ConfirmClaims)| {
            let mut other = mine.clone();
            f(&mut other);
            open_confirm(&c, &s, &other, 1_000)
        };
        assert_eq!(
            swap(&|o| o.principal = "k2".into()),
            Err(StateError::Foreign)
        );
        assert_eq!(
            swap(&|o| o.namespace = Some("ns".into())),
            Err(StateError::Foreign)
        );
        assert_eq!(
            swap(&|o| o.tool = "files__add".into()),
            Err(StateError::OtherRequest)
        );
        assert_eq!(
            swap(&|o| o.digest = "d2".into()),
            Err(StateError::OtherRequest)
        );
        let mut flipped = s.clone().into_bytes();
        let last = flipped.len() - 3;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert_eq!(
            open_confirm(&c, &flipped, &mine, 1_000),
            Err(StateError::Invalid)
        );
        // A waiting call's state is not a confirmation, nor the other way round.
        let state = seal(&c, &claims());
        assert_eq!(
            open_confirm(&c, &state, &mine, 1_000),
            Err(StateError::Invalid)
        );
        assert_eq!(open(&c, &s, "k1", None, 1_000), Err(StateError::Invalid));
    }

    #[test]
    fn the_digest_ignores_the_retrys_members_and_spelling() {
        let first = params_digest(
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"a":1,"b":[2]},"_meta":{"x":1}}}"#,
        )
        .unwrap();
        let retry = params_digest(
            br#"{"id":2,"jsonrpc":"2.0","method":"tools/call","params":{"arguments":{"b":[2],"a":1},"name":"t","inputResponses":{"k":{}},"requestState":"s","_meta":{"y":2}}}"#,
        )
        .unwrap();
        assert_eq!(first, retry);
        let other = params_digest(
            br#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"t","arguments":{"a":2,"b":[2]}}}"#,
        )
        .unwrap();
        assert_ne!(first, other);
        let c = claims();
        assert_eq!(c.binds("tools/call", "d"), Ok(()));
        assert_eq!(c.binds("prompts/get", "d"), Err(StateError::OtherRequest));
        assert_eq!(c.binds("tools/call", "e"), Err(StateError::OtherRequest));
    }
}
