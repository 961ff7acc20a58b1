//! keyadm's changes on the audit trail: what it changes (servers, namespaces, keys, OAuth
//! blocks, upstream accounts) becomes rows of kind `change`, as REST's changes do, with
//! the same method names (`server.create`, `namespace.update`, …). keyadm holds no key:
//! a row's `key_id` is empty and its `subject` names the actor, `keyadm:` and the OS user.
//! The rows are written at once, through the gateway's own row encoding and `COPY`.

use deadpool_postgres::Pool;

use crate::observe::audit::{Audit, Entry};
use crate::store::keys::KeyStore;

/// Who makes keyadm's changes, and whether they are audited (`METAMCP_AUDIT`).
#[derive(Debug, Clone)]
pub(super) struct Trail {
    enabled: bool,
    actor: String,
}

impl Trail {
    pub(super) fn new(enabled: bool) -> Trail {
        Trail {
            enabled,
            actor: format!("keyadm:{}", os_user()),
        }
    }

    /// Writes one row per `(method, object)`. The change is made already: a row that
    /// cannot be written is a warning on stderr, not a failed command.
    pub(super) async fn record(&self, pool: &Pool, changes: &[(&'static str, &str)]) {
        if !self.enabled || changes.is_empty() {
            return;
        }
        let rows = Audit::new(true, changes.len());
        for (method, object) in changes {
            rows.record(Entry {
                subject: Some(self.actor.as_str().into()),
                ..Entry::change_by(None, method, object)
            });
        }
        if let Err(e) = rows.flush(pool).await {
            eprintln!(
                "keyadm: warning: the change was made, but its audit row could not be \
                 written: {e}"
            );
        }
    }

    /// The row of a change to the key `id`.
    pub(super) async fn key(&self, keys: &KeyStore, what: &'static str, id: &str) {
        self.record(keys.pool(), &[(what, id)]).await;
    }
}

/// The user keyadm runs as: `$USER`, else `$LOGNAME`, else the numeric uid.
fn os_user() -> String {
    use std::os::unix::fs::MetadataExt;
    ["USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()))
        .or_else(|| {
            std::fs::metadata("/proc/self")
                .ok()
                .map(|m| format!("uid {}", m.uid()))
        })
        .unwrap_or_else(|| "unknown".into())
}
