//! The task ids the gateway gives clients (MCP 2025-11-25 tasks, and the 2026-07-28
//! tasks extension): the one place they are sealed and opened.
//!
//! A backend's task id is unique only on that backend, and anyone may send any id, so
//! a client never sees one. It gets an AEAD box (the gateway's key, ChaCha20-Poly1305)
//! around claims naming the owner (the backend, the session of it that holds the task,
//! the replica talking to that session) and the caller it belongs to. An id that was
//! changed or guessed does not open; one another caller presents is refused the same
//! way (the answer tells nobody whether the task exists). Any replica opens an id; the
//! replica it names serves it.

use serde::{Deserialize, Serialize};

use crate::crypto::{Cipher, Sealed};

/// What every gateway task id starts with.
const PREFIX: &str = "mtk1.";
/// Bound to the purpose: a sealed session id or request state does not open as a task id.
const AAD: &[u8] = b"metamcp task-id v1";
/// Longest id accepted; the gateway's own are a few hundred bytes.
pub const MAX_TASK_ID: usize = 2048;
/// Longest backend task id the gateway wraps (longer ones are refused at creation).
pub use crate::backend::MAX_UPSTREAM_TASK_ID as MAX_UPSTREAM_ID;

/// What a task id says, sealed.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct TaskClaims {
    /// The backend (server id).
    pub b: uuid::Uuid,
    /// The backend's own task id.
    pub t: String,
    /// The capability set ([`crate::base::ClientCaps`] bits) whose session of the
    /// backend holds the task.
    pub c: u8,
    /// Who may see it: the key id (empty for an open namespace's anonymous callers) and
    /// the endpoint's namespace.
    pub p: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// The replica talking to the backend's session, and the URL other replicas reach
    /// it at.
    pub r: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub u: Option<String>,
    /// Unix milliseconds after which the id is unknown (the task's TTL, bounded).
    pub e: u64,
}

/// Why a presented id is unusable: every case is "unknown task" to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown task")]
pub struct UnknownTask;

/// Task ids: the claims sealed.
const IDS: Sealed<TaskClaims> = Sealed::new(PREFIX, AAD, MAX_TASK_ID);

pub fn seal(cipher: &Cipher, claims: &TaskClaims) -> String {
    IDS.seal(cipher, claims)
}

/// Opens an id for the caller (`principal`, `namespace`) at `now_ms`.
pub fn open(
    cipher: &Cipher,
    id: &str,
    principal: &str,
    namespace: Option<&str>,
    now_ms: u64,
) -> Result<TaskClaims, UnknownTask> {
    let claims = IDS.open(cipher, id).ok_or(UnknownTask)?;
    let mine = crate::crypto::constant_time_eq(claims.p.as_bytes(), principal.as_bytes())
        && claims.n.as_deref() == namespace;
    if claims.e <= now_ms || !mine {
        return Err(UnknownTask);
    }
    Ok(claims)
}

/// Whether a 2026-07-28 client's `tools/call` `f` of a tool with `support` has nothing of
/// tasks: no `task` member, a tool that does not require one, and no mention of the tasks
/// extension (where a client declares it). Such a call is planned as a plain one without
/// reading its `_meta`.
pub fn untouched(
    body: &[u8],
    f: &crate::jsonrpc::frame::Frame,
    support: crate::routing::TaskSupport,
) -> bool {
    static EXTENSION: crate::jsonrpc::needle::Needle =
        crate::needle!(crate::routing::TASKS_EXTENSION.as_bytes());
    f.task.is_none() && support != crate::routing::TaskSupport::Required && !EXTENSION.in_(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> TaskClaims {
        TaskClaims {
            b: uuid::Uuid::nil(),
            t: "786512e2-9e0d-44bd-8f29-789f320fe840".into(),
            c: 31,
            p: "k1".into(),
            n: Some("team".into()),
            r: "r1".into(),
            u: Some("http://10.0.0.1:12009".into()),
            e: 2_000,
        }
    }

    #[test]
    fn an_id_opens_for_its_caller_until_it_expires() {
        let cipher = Cipher::new(&crate::config::KeyBytes([7; 32]));
        let id = seal(&cipher, &claims());
        assert!(id.starts_with(PREFIX) && id.len() < 512, "{id}");
        assert_eq!(open(&cipher, &id, "k1", Some("team"), 1_000), Ok(claims()));
        assert_eq!(
            open(&cipher, &id, "k1", Some("team"), 2_000),
            Err(UnknownTask)
        );
        assert_eq!(
            open(&cipher, &id, "k2", Some("team"), 1_000),
            Err(UnknownTask)
        );
        assert_eq!(open(&cipher, &id, "k1", None, 1_000), Err(UnknownTask));
        assert_eq!(
            open(&cipher, &id, "", Some("team"), 1_000),
            Err(UnknownTask)
        );
    }

    #[test]
    fn altered_guessed_and_foreign_ids_do_not_open() {
        let cipher = Cipher::new(&crate::config::KeyBytes([7; 32]));
        let id = seal(&cipher, &claims());
        let mut bytes = id.clone().into_bytes();
        let last = bytes.len() - 3;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(bytes).unwrap();
        for bad in [
            altered.as_str(),
            "786512e2-9e0d-44bd-8f29-789f320fe840",
            "mtk1.",
            "mtk1.!!!",
            &"x".repeat(MAX_TASK_ID + 1),
        ] {
            assert_eq!(
                open(&cipher, bad, "k1", Some("team"), 1_000),
                Err(UnknownTask)
            );
        }
        // Another gateway's key, or another purpose's box, does not open either.
        let other = seal(&Cipher::new(&crate::config::KeyBytes([8; 32])), &claims());
        assert_eq!(
            open(&cipher, &other, "k1", Some("team"), 1_000),
            Err(UnknownTask)
        );
        let state = crate::mcp::wire::request_state::seal(
            &cipher,
            &crate::mcp::wire::request_state::StateClaims {
                call: "c".into(),
                replica: "r1".into(),
                replica_url: None,
                principal: "k1".into(),
                namespace: Some("team".into()),
                method: "tools/call".into(),
                digest: String::new(),
                expires_ms: 5_000,
            },
        );
        let as_task = format!("{PREFIX}{}", state.trim_start_matches("mrs1."));
        assert_eq!(
            open(&cipher, &as_task, "k1", Some("team"), 1_000),
            Err(UnknownTask)
        );
    }
}
