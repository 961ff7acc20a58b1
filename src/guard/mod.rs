//! External guardrails (docs/guides/guardrails.md): a namespace's HTTP hooks, in the shape of
//! SEP-2624's interceptors, that see a `tools/call` before it is forwarded and its result
//! before the client does, and allow it, deny it or mutate it (the arguments, the
//! result). Their configuration is [`crate::model::guardrail`]; a view carries its
//! namespace's as [`Guardrails`] (none, the default, costs a call one `None` check).
//!
//! Each guardrail is asked with a bound on everything it can make the gateway hold: its
//! time (`timeout_ms`), its answer ([`MAX_ANSWER`]), the calls waiting on it at once
//! ([`PER_GUARDRAIL`], and [`TOTAL`] over every guardrail; beyond them a call is not
//! queued, it meets the guardrail's failure mode) and, for results, the result held
//! ([`MAX_RESULT`] each, [`MAX_HELD`] together, in [`result`]).
//!
//! - [`ask`]: the hook's HTTP exchange and its answer, read as a [`Verdict`].
//! - [`result`]: a result held for the hooks that see it, and given back changed or not.

pub mod ask;
pub mod result;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;

use crate::backend::http::HttpClient;
use crate::model::guardrail::Guardrail;

/// The most of a guardrail's answer read (a longer one is a failure).
pub const MAX_ANSWER: usize = 1 << 20;
/// The most of a tool result held for result hooks; beyond it the failure mode decides.
pub const MAX_RESULT: usize = 4 << 20;
/// The most of every result held for result hooks at once, over every namespace.
pub const MAX_HELD: usize = 256 << 20;
/// Calls one guardrail (one URL) is asked about at once, over every namespace.
pub const PER_GUARDRAIL: usize = 64;
/// Calls every guardrail together is asked about at once.
pub const TOTAL: usize = 512;

/// What every view's guardrails share: the HTTP client and the bounds on calls at once.
pub struct Hooks {
    client: HttpClient,
    total: Arc<Semaphore>,
    /// Room for results held, in KiB ([`MAX_HELD`]).
    held: Arc<Semaphore>,
    /// Each URL's own bound, kept across routing builds (a rebuild must not reset it).
    per_url: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// One guardrail of a view, ready to be asked.
pub struct Hook {
    pub config: Guardrail,
    /// Its redacted URL: what names it to clients, in events and in logs.
    pub name: String,
    slots: Arc<Semaphore>,
}

/// A view's guardrails, in their order, split by phase.
pub struct Guardrails {
    pub namespace: String,
    pub request: Vec<Arc<Hook>>,
    pub result: Vec<Arc<Hook>>,
    hooks: Arc<Hooks>,
}

impl Hooks {
    pub fn new(tls: &rustls::ClientConfig) -> Hooks {
        Hooks {
            client: crate::backend::http::client(tls),
            total: Arc::new(Semaphore::new(TOTAL)),
            held: Arc::new(Semaphore::new(MAX_HELD >> 10)),
            per_url: Mutex::new(HashMap::new()),
        }
    }

    /// The guardrails of `namespace` (`None` when it has none).
    pub fn of(self: &Arc<Self>, namespace: &str, list: &[Guardrail]) -> Option<Arc<Guardrails>> {
        if list.is_empty() {
            return None;
        }
        let mut slots = self.per_url.lock().unwrap_or_else(|p| p.into_inner());
        let mut request = Vec::new();
        let mut result = Vec::new();
        for g in list {
            let hook = Arc::new(Hook {
                name: g.name(),
                slots: slots
                    .entry(g.url.clone())
                    .or_insert_with(|| Arc::new(Semaphore::new(PER_GUARDRAIL)))
                    .clone(),
                config: g.clone(),
            });
            if g.on_request {
                request.push(hook.clone());
            }
            if g.on_result {
                result.push(hook);
            }
        }
        // URLs no namespace names any longer are forgotten (bounded by the namespaces').
        slots.retain(|_, s| Arc::strong_count(s) > 1);
        Some(Arc::new(Guardrails {
            namespace: namespace.to_string(),
            request,
            result,
            hooks: self.clone(),
        }))
    }
}

impl Guardrails {
    /// The union of several views' guardrails (a key limited to namespaces, on `/mcp`):
    /// each namespace's in turn, a URL asked once per phase.
    pub fn union(parts: &[&Arc<Guardrails>]) -> Option<Arc<Guardrails>> {
        let first = parts.first()?;
        let mut out = Guardrails {
            namespace: first.namespace.clone(),
            request: Vec::new(),
            result: Vec::new(),
            hooks: first.hooks.clone(),
        };
        for p in parts {
            for h in &p.request {
                if !out.request.iter().any(|o| o.config.url == h.config.url) {
                    out.request.push(h.clone());
                }
            }
            for h in &p.result {
                if !out.result.iter().any(|o| o.config.url == h.config.url) {
                    out.result.push(h.clone());
                }
            }
        }
        Some(Arc::new(out))
    }

    /// Room for the results these guardrails hold (shared by every view).
    pub fn room(&self) -> &Arc<Semaphore> {
        &self.hooks.held
    }

    /// Asks `hook` about `payload` (see [`ask::ask`]).
    pub async fn ask(
        &self,
        hook: &Hook,
        phase: ask::Phase,
        payload: Vec<u8>,
    ) -> Result<ask::Verdict, String> {
        ask::ask(&self.hooks.client, &self.hooks.total, hook, phase, payload).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guard::ask::Phase;

    fn hooks() -> Arc<Hooks> {
        let tls = crate::crypto::tls_client(None).expect("a TLS configuration");
        Arc::new(Hooks::new(&tls))
    }

    fn guardrail(url: &str) -> Guardrail {
        crate::model::guardrail::parse_list(&serde_json::json!([{"url": url}]), &[])
            .expect("valid")
            .remove(0)
    }

    #[tokio::test]
    async fn a_full_guardrail_is_a_failure_not_a_queue() {
        let hooks = hooks();
        assert!(hooks.of("none", &[]).is_none());
        // Port 9 (discard) on loopback: nothing is asked, every place is taken.
        let g = hooks.of("a", &[guardrail("http://127.0.0.1:9/")]).unwrap();
        let again = hooks.of("b", &[guardrail("http://127.0.0.1:9/")]).unwrap();
        // One bound per URL, shared by the namespaces that name it.
        assert!(Arc::ptr_eq(&g.request[0].slots, &again.request[0].slots));
        let held = g.request[0]
            .slots
            .clone()
            .try_acquire_many_owned(PER_GUARDRAIL as u32)
            .unwrap();
        let e = g
            .ask(&g.request[0], Phase::Request, b"{}".to_vec())
            .await
            .unwrap_err();
        assert!(e.contains("already waiting on this guardrail"), "{e}");
        drop(held);
        let all = hooks
            .total
            .clone()
            .try_acquire_many_owned(TOTAL as u32)
            .unwrap();
        let e = g
            .ask(&g.request[0], Phase::Request, b"{}".to_vec())
            .await
            .unwrap_err();
        assert!(e.contains("already waiting on guardrails"), "{e}");
        drop(all);
        // Nothing listens: a failure with its reason, not a hang.
        let e = g
            .ask(&g.request[0], Phase::Request, b"{}".to_vec())
            .await
            .unwrap_err();
        assert!(e.contains("unreachable") || e.contains("no answer"), "{e}");
        let u = Guardrails::union(&[&g, &again]).unwrap();
        assert_eq!(u.request.len(), 1, "a URL is asked once");
        assert!(Guardrails::union(&[]).is_none());
    }
}
