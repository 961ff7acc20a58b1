//! The credentials a backend gets with every request from the vault: an OAuth backend's
//! access token (refreshed there ahead of expiry), or the headers that carry a caller's
//! own secret (`{{caller.secret}}`); fetched before a call or a connection, and set on
//! each request as it is built. A token is bound to the origin it was issued for and set
//! only on a request to that origin. A token bound to a DPoP key (RFC 9449) goes with
//! the `DPoP` scheme and a proof made for each request, with the nonce the backend gave
//! last (a `use_dpop_nonce` challenge is answered once, in [`super::send`]).

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};

use super::UpstreamError;
use crate::base::Origin;
use crate::model::Server;
use crate::vault::Vault;

pub struct Bearer {
    vault: Arc<Vault>,
    server: Server,
    /// Whose account: a fixed principal (`shared`, or one caller's), or `None` for a
    /// per-caller server's lists (the account connected last, [`Vault::lister`]).
    principal: Option<Arc<str>>,
    /// The principal of the token held now.
    holder: std::sync::Mutex<Option<Arc<str>>>,
    /// The token held now and the origin it was issued for: the only one it is sent to.
    current: ArcSwapOption<Held>,
    /// The backend's last `DPoP-Nonce` (RFC 9449 §9), put in each proof.
    nonce: std::sync::Mutex<Option<Arc<str>>>,
    /// A server that takes its callers' own secrets: its header values that hold
    /// `{{caller.secret}}` (empty for OAuth).
    templates: Vec<(HeaderName, String)>,
    /// Those headers with the secret in, and the secret itself.
    filled: ArcSwapOption<Filled>,
}

/// Headers with a caller's secret in, and the secret.
type Filled = (Vec<(HeaderName, HeaderValue)>, Arc<str>);

/// A token held.
struct Held {
    /// `Bearer <token>` (or `DPoP <token>`), marked sensitive (never printed by hyper's
    /// debug output).
    header: HeaderValue,
    token: Arc<str>,
    bound: Option<Origin>,
    /// The key the token is bound to.
    dpop: Option<Arc<crate::vault::dpop::DpopKey>>,
}

impl std::fmt::Debug for Bearer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Bearer(***)")
    }
}

impl Bearer {
    /// `principal`: see [`Bearer::principal`].
    pub fn new(vault: Arc<Vault>, server: Server, principal: Option<Arc<str>>) -> Bearer {
        let templates = secret_templates(&server);
        Bearer {
            vault,
            server,
            principal,
            holder: std::sync::Mutex::new(None),
            current: ArcSwapOption::empty(),
            nonce: std::sync::Mutex::new(None),
            templates,
            filled: ArcSwapOption::empty(),
        }
    }

    /// Whether it holds one caller's credentials (a per-caller server's caller session).
    fn for_a_caller(&self) -> bool {
        self.server.per_caller() && self.principal.is_some()
    }

    /// Whether it exchanges callers' tokens (`token_exchange`).
    fn exchanges(&self) -> bool {
        matches!(
            self.server.auth,
            crate::model::auth::ServerAuth::TokenExchange(_)
        )
    }

    /// The principal of the credentials held now.
    fn holder(&self) -> Option<Arc<str>> {
        self.holder
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Sets the credentials on the headers of a request to `target`. The token goes only
    /// to the origin it was issued for: whatever a request, a reconnect or a cache holds
    /// while an admin moves the server's url, the new host never receives it.
    pub fn apply(&self, headers: &mut HeaderMap, method: &hyper::Method, target: &hyper::Uri) {
        if let Some(held) = self.current.load().as_deref() {
            if held.bound.is_some() && held.bound == Origin::of_uri(target) {
                headers.insert(hyper::header::AUTHORIZATION, held.header.clone());
                if let Some(key) = &held.dpop {
                    let nonce = self.nonce.lock().unwrap_or_else(|p| p.into_inner()).clone();
                    let proof = key.proof(
                        method.as_str(),
                        &target.to_string(),
                        Some(&held.token),
                        nonce.as_deref(),
                    );
                    if let Ok(v) = HeaderValue::from_str(&proof) {
                        headers.insert(HeaderName::from_static("dpop"), v);
                    }
                }
            } else {
                tracing::debug!(
                    backend = %self.server.name,
                    "a token was not sent: it was issued for another origin than the request's"
                );
            }
        }
        if let Some(f) = self.filled.load().as_deref() {
            for (name, value) in &f.0 {
                headers.insert(name.clone(), value.clone());
            }
        }
    }

    /// The headers with `secret` in.
    fn fill(&self, secret: Arc<str>) -> Result<(), UpstreamError> {
        if self.filled.load().as_deref().is_some_and(|f| f.1 == secret) {
            return Ok(());
        }
        let mut out = Vec::with_capacity(self.templates.len());
        for (name, template) in &self.templates {
            let mut v = HeaderValue::from_str(
                &template.replace(crate::model::auth::CALLER_SECRET, &secret),
            )
            .map_err(|_| UpstreamError::Unauthorized("the secret cannot be sent".into()))?;
            v.set_sensitive(true);
            out.push((name.clone(), v));
        }
        self.filled.store(Some(Arc::new((out, secret))));
        Ok(())
    }

    /// Makes sure a current token is at hand (the vault's cache, else its row, else a
    /// refresh); fails when the server's account is not connected.
    pub async fn ensure(&self) -> Result<(), UpstreamError> {
        self.ensure_for(None).await
    }

    /// [`Bearer::ensure`] for a call by `inbound` (the OAuth identity it came with,
    /// whose token a `token_exchange` server's caller session exchanges).
    pub async fn ensure_for(
        &self,
        inbound: Option<&crate::auth::oauth::Identity>,
    ) -> Result<(), UpstreamError> {
        let fail = |e: crate::vault::VaultError| match e {
            crate::vault::VaultError::Unauthorized {
                reconnect: true, ..
            } if self.for_a_caller() => UpstreamError::NeedsAccount(e.to_string()),
            e => UpstreamError::Unauthorized(e.to_string()),
        };
        if self.exchanges() {
            let token = match (&self.principal, inbound) {
                (None, _) => self.vault.exchange_lister(&self.server).await,
                (Some(_), Some(identity)) => self.vault.exchange(&self.server, identity).await,
                (Some(_), None) => {
                    return Err(UpstreamError::Unauthorized(format!(
                        "server {} takes each caller's own OAuth access token, exchanged for \
                         its own: call with one (an API key has none)",
                        self.server.name
                    )));
                }
            };
            // Exchanged for this server as it was when the exchange was asked for.
            let audience = self.server.url.as_deref().unwrap_or_default();
            return self.hold(&token.map_err(fail)?, audience, None);
        }
        let principal = match &self.principal {
            Some(p) => p.clone(),
            None => Arc::from(self.vault.lister(&self.server).await.map_err(fail)?),
        };
        if !self.templates.is_empty() {
            let secret = self
                .vault
                .secret(&self.server, &principal)
                .await
                .map_err(fail)?;
            *self.holder.lock().unwrap_or_else(|p| p.into_inner()) = Some(principal);
            return self.fill(secret);
        }
        let token = self
            .vault
            .bearer(&self.server, &principal)
            .await
            .map_err(fail)?;
        // A token issued for the server's old url is not this server's: the url moved
        // to another origin and the vault's memory has not heard yet (its change comes
        // by NOTIFY). It is forgotten, and the account must be connected again, as once
        // the change is heard.
        if let (Some(issued), Some(here)) = (
            Origin::of(&token.resource),
            self.server.url.as_deref().and_then(Origin::of),
        ) && issued != here
        {
            self.vault.invalidate_one(&self.server.id, &principal);
            return Err(fail(crate::vault::VaultError::Unauthorized {
                server: self.server.name.clone(),
                why: "the account's token was issued for the server's previous url, on \
                      another origin: connect the account again"
                    .into(),
                reconnect: true,
            }));
        }
        *self.holder.lock().unwrap_or_else(|p| p.into_inner()) = Some(principal);
        self.hold(&token.access, &token.resource, token.dpop.clone())
    }

    /// Sends `token` from now on, to `resource`'s origin only (with the `DPoP` scheme
    /// and proofs of `dpop` when it is bound to that key).
    fn hold(
        &self,
        token: &str,
        resource: &str,
        dpop: Option<Arc<crate::vault::dpop::DpopKey>>,
    ) -> Result<(), UpstreamError> {
        let bound = Origin::of(resource);
        let loaded = self.current.load();
        let same = loaded.as_deref().is_some_and(|h| {
            *h.token == *token && h.bound == bound && h.dpop.is_some() == dpop.is_some()
        });
        if !same {
            let scheme = if dpop.is_some() { "DPoP" } else { "Bearer" };
            let mut v = HeaderValue::from_str(&format!("{scheme} {token}"))
                .map_err(|_| UpstreamError::Unauthorized("the token cannot be sent".into()))?;
            v.set_sensitive(true);
            self.current.store(Some(Arc::new(Held {
                header: v,
                token: token.into(),
                bound,
                dpop,
            })));
        }
        Ok(())
    }

    /// Whether requests carry a DPoP proof (and a nonce challenge is worth answering).
    pub fn proves(&self) -> bool {
        self.current
            .load()
            .as_deref()
            .is_some_and(|h| h.dpop.is_some())
    }

    /// The backend gave a `DPoP-Nonce`: later proofs carry it.
    pub fn nonce_given(&self, value: &str) {
        if let Some(n) = crate::vault::dpop::usable_nonce(value) {
            *self.nonce.lock().unwrap_or_else(|p| p.into_inner()) = Some(n.into());
        }
    }

    /// The token is read again before its next use (another replica may have
    /// replaced it).
    pub fn refused(&self) {
        match &self.principal {
            Some(p) => self.vault.invalidate_one(&self.server.id, p),
            None => self.vault.invalidate(&self.server.id),
        }
    }

    /// The backend answered `status` (401 or 403) with the challenge `www`: a 401
    /// retires the token sent (its next use refreshes it, or asks for a new
    /// authorization); a 403 for want of a scope has the next authorization ask for it.
    /// Returns the error the call fails with.
    pub fn challenged(&self, status: u16, www: Option<&str>) -> UpstreamError {
        let c = www
            .and_then(crate::vault::discover::challenge)
            .unwrap_or_default();
        let name = &self.server.name;
        let why = if status == 403 && c.error.as_deref() == Some("insufficient_scope") {
            if let Some(scope) = &c.scope {
                self.vault.want(self.server.id, scope);
            }
            format!(
                "the account connected for server {name} lacks the scope the call needs ({})",
                c.scope.as_deref().unwrap_or("unnamed")
            )
        } else if status == 401 && self.exchanges() {
            // Exchanged afresh at the next call.
            self.vault.invalidate(&self.server.id);
            return UpstreamError::Unauthorized(format!(
                "server {name} refused the token exchanged for yours"
            ));
        } else if status == 401 && !self.templates.is_empty() {
            let sent = self.filled.load().as_deref().map(|f| f.1.clone());
            let vault = self.vault.clone();
            let server = self.server.clone();
            let holder = self.holder();
            tokio::spawn(async move {
                if let (Some(sent), Some(p)) = (sent, holder)
                    && let Err(e) = vault.secret_refused(&server, &p, &sent).await
                {
                    tracing::warn!(backend = %server.name, error = %e, "could not retire a refused secret");
                }
            });
            format!("server {name} refused the secret it was sent")
        } else if status == 401 {
            let sent = self.current.load().as_deref().map(|h| h.token.clone());
            let vault = self.vault.clone();
            let server = self.server.clone();
            let holder = self.holder();
            tokio::spawn(async move {
                if let Some(t) = sent.as_deref()
                    && let Some(p) = holder
                    && let Err(e) = vault.rejected(&server, &p, t).await
                {
                    tracing::warn!(backend = %server.name, error = %e, "could not retire a refused upstream token");
                }
            });
            format!("server {name} refused the gateway's token")
        } else {
            return UpstreamError::Status(status);
        };
        if self.for_a_caller() {
            return UpstreamError::NeedsAccount(format!("{why}; connect your account again"));
        }
        UpstreamError::Unauthorized(format!(
            "{why}; an admin connects it again (POST /api/v1/mcp/servers/{name}/authorize)"
        ))
    }

    pub fn header(&self) -> Option<HeaderValue> {
        self.current.load().as_deref().map(|h| h.header.clone())
    }
}

/// A server's header values that take its callers' own secret (`${VAR}` references in
/// them already expanded from the gateway's environment).
fn secret_templates(server: &Server) -> Vec<(HeaderName, String)> {
    let Ok(expanded) = crate::model::refs::expand_map("header", &server.headers) else {
        return Vec::new();
    };
    expanded
        .into_iter()
        .filter(|(_, v)| v.contains(crate::model::auth::CALLER_SECRET))
        .filter_map(|(k, v)| Some((HeaderName::from_bytes(k.as_bytes()).ok()?, v)))
        .collect()
}
