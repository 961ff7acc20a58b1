//! `token_exchange` (RFC 8693): each caller's own inbound access token, exchanged at its
//! issuer for a token for one backend. Nothing is stored per caller: an exchanged token
//! is kept in this process's memory (keyed by the SHA-256 of the token it was exchanged
//! for) until shortly before it expires, bounded in number. The server's lists are read
//! with a client credentials grant of the same client.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sha2::Digest;
use uuid::Uuid;

use super::flow::{self, ClientId};
use super::net::{self, Net};
use super::{Vault, VaultError, now};
use crate::auth::oauth::Identity;
use crate::model::Server;
use crate::model::auth::{Exchange, ServerAuth};

const GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
/// Exchanged tokens held at once (all servers and callers).
const MAX_HELD: usize = 10_000;
/// An exchanged token this close to its expiry is exchanged again.
const AHEAD_SECS: u64 = 30;
/// How long a token whose answer gave no lifetime is used.
const DEFAULT_LIFETIME: u64 = 300;

/// A server and the SHA-256 of the token exchanged (zeros: the lists' own grant).
type Held = (Uuid, [u8; 32]);

/// Exchanged tokens and the token endpoints found.
#[derive(Default)]
pub struct Exchanges {
    /// Each token and until when it is used (unix seconds).
    held: Mutex<HashMap<Held, (Arc<str>, u64)>>,
    /// Token endpoints (and their client authentication methods) by issuer.
    endpoints: Mutex<HashMap<String, (String, Vec<String>)>>,
}

impl Exchanges {
    fn get(&self, key: &Held) -> Option<Arc<str>> {
        self.held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .filter(|(_, until)| *until > now() + AHEAD_SECS)
            .map(|(t, _)| t.clone())
    }

    fn put(&self, key: Held, token: Arc<str>, lifetime: Option<u64>) {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if held.len() >= MAX_HELD {
            held.retain(|_, (_, until)| *until > now() + AHEAD_SECS);
            if held.len() >= MAX_HELD {
                held.clear();
            }
        }
        let lifetime = lifetime.unwrap_or(DEFAULT_LIFETIME).min(86_400);
        held.insert(key, (token, now() + lifetime));
    }

    /// Forgets what is held for `server`.
    pub fn forget(&self, server: &Uuid) {
        self.held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(s, _), _| s != server);
    }
}

fn settings(server: &Server) -> Result<&Exchange, VaultError> {
    match &server.auth {
        ServerAuth::TokenExchange(x) => Ok(x),
        _ => Err(VaultError::NotOAuth(server.name.clone())),
    }
}

impl Vault {
    /// A token for `server` in exchange for the caller's own (`inbound`).
    pub async fn exchange(
        &self,
        server: &Server,
        inbound: &Identity,
    ) -> Result<Arc<str>, VaultError> {
        let x = settings(server)?;
        let refused = |why: String| VaultError::Unauthorized {
            server: server.name.clone(),
            why,
            reconnect: false,
        };
        if inbound.issuer.trim_end_matches('/') != x.issuer.trim_end_matches('/') {
            return Err(refused(format!(
                "its tokens are exchanged at {}, and yours is {}'s",
                x.issuer, inbound.issuer
            )));
        }
        let key = (
            server.id,
            sha2::Sha256::digest(inbound.token.0.as_bytes()).into(),
        );
        if let Some(t) = self.exchanges.get(&key) {
            return Ok(t);
        }
        let resource = server.url.clone().unwrap_or_default();
        let mut pairs = vec![
            ("grant_type", GRANT),
            ("subject_token", &*inbound.token.0),
            ("subject_token_type", ACCESS_TOKEN),
            ("requested_token_type", ACCESS_TOKEN),
            ("resource", resource.as_str()),
        ];
        let scope = x.scopes.as_ref().map(|s| s.join(" "));
        if let Some(a) = &x.audience {
            pairs.push(("audience", a));
        }
        if let Some(s) = &scope {
            pairs.push(("scope", s));
        }
        let issued = self.grant(x, &pairs).await.map_err(refused)?;
        let token: Arc<str> = issued.access_token.as_str().into();
        self.exchanges.put(key, token.clone(), issued.expires_in);
        Ok(token)
    }

    /// The token `server`'s lists are read with: a client credentials grant of the
    /// exchange client (no caller's).
    pub async fn exchange_lister(&self, server: &Server) -> Result<Arc<str>, VaultError> {
        let x = settings(server)?;
        let key = (server.id, [0u8; 32]);
        if let Some(t) = self.exchanges.get(&key) {
            return Ok(t);
        }
        let resource = server.url.clone().unwrap_or_default();
        let scope = x.scopes.as_ref().map(|s| s.join(" "));
        let mut pairs = vec![
            ("grant_type", "client_credentials"),
            ("resource", resource.as_str()),
        ];
        if let Some(s) = &scope {
            pairs.push(("scope", s));
        }
        let issued = self
            .grant(x, &pairs)
            .await
            .map_err(|why| VaultError::Unauthorized {
                server: server.name.clone(),
                why: format!("its lists are read with the exchange client's own grant: {why}"),
                reconnect: false,
            })?;
        let token: Arc<str> = issued.access_token.as_str().into();
        self.exchanges.put(key, token.clone(), issued.expires_in);
        Ok(token)
    }

    /// One grant at the exchange client's token endpoint.
    async fn grant(&self, x: &Exchange, pairs: &[(&str, &str)]) -> Result<flow::Issued, String> {
        let (endpoint, methods) = self.token_endpoint(x).await?;
        let client = ClientId {
            id: x.client_id.clone(),
            secret: x.client_secret.clone(),
            method: flow::method_for(x.client_secret.is_some(), &methods),
        };
        let net = Net {
            tls: self.tls.clone(),
            zone: net::zone_of_url(&endpoint).await?,
        };
        let issued = flow::token_request(&net, &endpoint, &client, pairs).await;
        use std::sync::atomic::Ordering::Relaxed;
        match issued {
            Ok(i) => {
                self.refreshed.fetch_add(1, Relaxed);
                Ok(i)
            }
            Err(e) => {
                self.refresh_failures.fetch_add(1, Relaxed);
                Err(e.message)
            }
        }
    }

    /// The exchange client's token endpoint: configured, else its issuer's metadata's.
    async fn token_endpoint(&self, x: &Exchange) -> Result<(String, Vec<String>), String> {
        if let Some(e) = &x.token_endpoint {
            return Ok((e.clone(), Vec::new()));
        }
        if let Some(found) = self
            .exchanges
            .endpoints
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&x.issuer)
        {
            return Ok(found.clone());
        }
        let net = Net {
            tls: self.tls.clone(),
            zone: net::zone_of_url(&x.issuer).await?,
        };
        let meta = super::discover::server_metadata(&net, &x.issuer)
            .await?
            .ok_or_else(|| format!("{} publishes no authorization server metadata", x.issuer))?;
        if meta["issuer"].as_str().map(|i| i.trim_end_matches('/'))
            != Some(x.issuer.trim_end_matches('/'))
        {
            return Err(format!("{}'s metadata names another issuer", x.issuer));
        }
        let endpoint = meta["token_endpoint"]
            .as_str()
            .ok_or_else(|| format!("{}'s metadata has no token_endpoint", x.issuer))?
            .to_string();
        let methods: Vec<String> = meta["token_endpoint_auth_methods_supported"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|m| m.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let found = (endpoint, methods);
        self.exchanges
            .endpoints
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(x.issuer.clone(), found.clone());
        Ok(found)
    }
}
