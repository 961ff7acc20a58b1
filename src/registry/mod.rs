//! MCP registries: a client of a registry's own API (the official MCP Registry's
//! `/v0.1/servers`, `/v0/servers` where a registry offers only that), and installing,
//! upgrading and checking servers from its entries.
//!
//! - this file: the client. One page of a search (`search=`, `cursor`, `limit`,
//!   `version=latest`), and one entry by name and version
//!   (`/servers/{name}/versions/{version}`, `latest` by default). Every answer is
//!   bounded in size ([`MAX_ANSWER`]) and time ([`TIMEOUT`]); a search that follows
//!   cursors stops at a cursor seen twice or after [`MAX_PAGES`] pages; an answer that
//!   is not the API's shape is [`RegistryError::Garbage`] (a 502, the registry's fault).
//!   The registry's own address may be loopback or private: an admin named it (the
//!   setting or the call); where its entries point is [`install`]'s to check.
//! - [`entry`]: a `server.json` entry read into types;
//! - [`plan`]: an entry and an install request to the server to register;
//! - [`install`]: install, upgrade (under review) and `outdated`, through the store.

pub mod entry;
pub mod install;
pub mod plan;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::vault::form::escape;
use crate::vault::net::{Net, zone_of_url};

use self::entry::Entry;

/// Largest answer read from a registry (a page of 100 entries is well under).
pub const MAX_ANSWER: usize = 4 << 20;
/// Longest one request to a registry may take, connection included.
pub const TIMEOUT: Duration = Duration::from_secs(15);
/// Most pages one search follows to fill its page.
pub const MAX_PAGES: usize = 20;
/// Most entries one search answers (and asks the registry for per page).
pub const MAX_LIMIT: usize = 100;

/// Why a registry operation failed; whose fault each is decides its status.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The registry did not answer (or not in time, or too much).
    #[error("the registry {registry} did not answer usefully: {message}")]
    Unreachable { registry: String, message: String },
    /// The registry answered something that is not its API's.
    #[error("the registry {registry} answered something unusable: {message}")]
    Garbage { registry: String, message: String },
    #[error("{0}")]
    NotFound(String),
    /// The entry, or the request for it, is refused as it stands.
    #[error(transparent)]
    Plan(#[from] plan::PlanError),
    /// A bad request (field, reason).
    #[error("{1}")]
    Invalid(&'static str, String),
    #[error(transparent)]
    Store(#[from] crate::store::registry::StoreError),
}

/// One page of a search.
#[derive(Debug)]
pub struct Page {
    pub entries: Vec<Entry>,
    pub next_cursor: Option<String>,
    /// Items of the registry's answer that are not readable entries (left out).
    pub skipped: usize,
}

/// A registry client: the TLS roots outbound calls trust.
#[derive(Clone)]
pub struct Client {
    tls: Arc<rustls::ClientConfig>,
}

impl Client {
    pub fn new(tls: Arc<rustls::ClientConfig>) -> Client {
        Client { tls }
    }

    /// `GET base + path` on the v0.1 API, else (404) on v0: the JSON answer, `None`
    /// when both say 404.
    async fn get(&self, base: &str, path: &str) -> Result<Option<Value>, RegistryError> {
        let unreachable = |message: String| RegistryError::Unreachable {
            registry: base.to_string(),
            message,
        };
        let zone = zone_of_url(base).await.map_err(unreachable)?;
        let net = Net {
            tls: self.tls.clone(),
            zone,
        };
        for api in ["/v0.1", "/v0"] {
            let url = format!("{base}{api}{path}");
            let a = net
                .get_limited(&url, MAX_ANSWER, TIMEOUT)
                .await
                .map_err(unreachable)?;
            if a.status == hyper::StatusCode::NOT_FOUND {
                continue;
            }
            if !a.status.is_success() {
                return Err(unreachable(format!("{url}: HTTP {}", a.status.as_u16())));
            }
            return serde_json::from_slice::<Value>(&a.body)
                .map(Some)
                .map_err(|e| RegistryError::Garbage {
                    registry: base.to_string(),
                    message: format!("{url}: not JSON: {e}"),
                });
        }
        Ok(None)
    }

    /// Up to `limit` entries whose name matches `query` (latest versions), from
    /// `cursor` on; pages are followed until the page is full or the registry has no
    /// more.
    pub async fn search(
        &self,
        base: &str,
        query: Option<&str>,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page, RegistryError> {
        let garbage = |message: String| RegistryError::Garbage {
            registry: base.to_string(),
            message,
        };
        let limit = limit.clamp(1, MAX_LIMIT);
        let mut page = Page {
            entries: Vec::new(),
            next_cursor: None,
            skipped: 0,
        };
        let mut seen: HashSet<String> = cursor.map(str::to_string).into_iter().collect();
        let mut cursor = cursor.map(str::to_string);
        for _ in 0..MAX_PAGES {
            let mut q = format!("?version=latest&limit={limit}");
            if let Some(s) = query.filter(|s| !s.is_empty()) {
                q.push_str(&format!("&search={}", escape(s)));
            }
            if let Some(c) = &cursor {
                q.push_str(&format!("&cursor={}", escape(c)));
            }
            let answer = self
                .get(base, &format!("/servers{q}"))
                .await?
                .ok_or_else(|| garbage("it serves neither /v0.1/servers nor /v0/servers".into()))?;
            let items = answer
                .get("servers")
                .and_then(Value::as_array)
                .ok_or_else(|| garbage("the answer has no \"servers\" list".into()))?;
            for item in items {
                match entry::read(item) {
                    Ok(e) if page.entries.len() < MAX_LIMIT => page.entries.push(e),
                    Ok(_) => {}
                    Err(e) => {
                        tracing::debug!(registry = %base, error = %e, "unreadable entry left out");
                        page.skipped += 1;
                    }
                }
            }
            let next = match answer.get("metadata").and_then(|m| {
                m.get("nextCursor")
                    .or_else(|| m.get("next_cursor"))
                    .filter(|c| !c.is_null())
            }) {
                None => None,
                Some(Value::String(c)) if c.is_empty() => None,
                Some(Value::String(c)) if c.len() <= 1024 => Some(c.clone()),
                Some(_) => return Err(garbage("its nextCursor is not a cursor".into())),
            };
            page.next_cursor = next.clone();
            let Some(next) = next else {
                return Ok(page);
            };
            if page.entries.len() >= limit {
                return Ok(page);
            }
            if !seen.insert(next.clone()) {
                return Err(garbage(format!(
                    "it sent the cursor {next:?} twice: its pages go round in a loop"
                )));
            }
            cursor = Some(next);
        }
        Err(garbage(format!(
            "{MAX_PAGES} pages did not fill a page of {limit} entries; ask with a narrower \
             search"
        )))
    }

    /// The entry `name` at `version` (the latest when `None`).
    pub async fn entry(
        &self,
        base: &str,
        name: &str,
        version: Option<&str>,
    ) -> Result<Entry, RegistryError> {
        let garbage = |message: String| RegistryError::Garbage {
            registry: base.to_string(),
            message,
        };
        let wanted = version.unwrap_or("latest");
        let answer = self
            .get(
                base,
                &format!("/servers/{}/versions/{}", escape(name), escape(wanted)),
            )
            .await?
            .ok_or_else(|| {
                RegistryError::NotFound(format!("the registry {base} has no {name} {wanted}"))
            })?;
        let e = entry::read(&answer).map_err(|e| garbage(format!("its entry {name}: {e}")))?;
        if e.name != name || version.is_some_and(|v| v != e.version) {
            return Err(garbage(format!(
                "asked for {name} {wanted}, it answered {} {}",
                e.name, e.version
            )));
        }
        Ok(e)
    }
}

/// The registry a call names (checked), else the configured one.
pub fn registry_of(named: Option<&str>, default: &str) -> Result<String, RegistryError> {
    match named.filter(|r| !r.is_empty()) {
        Some(r) => {
            crate::config::registry_url_of(r).map_err(|e| RegistryError::Invalid("registry", e))
        }
        None => Ok(default.to_string()),
    }
}
