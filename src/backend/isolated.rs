//! `session_mode: "isolated"`: a stdio server with a child of its own per client — per
//! session in the session era, per API key in the stateless era (anonymous clients of an
//! open namespace share one) — for servers that keep state between calls.
//!
//! - **Listing**: the server's lists come from a *catalog* child started for the purpose
//!   and stopped as soon as they are read (again when an instance says its lists
//!   changed), so between refreshes only the clients' own children run.
//! - **Instances**: started on a client's first call (never two for one client, however
//!   many calls race), at most `max_instances` at once — a client beyond that is refused
//!   at once with a clear error, never queued. Each is a [`StdioTransport`] of its own
//!   (multiplexed, bounded by `max_concurrency`, its crashes failing its calls at once
//!   and restarted on the next call), and its own messages join the supervisor's stream.
//! - **Each caller's own secret** (`{{caller.secret}}` in the server's env): the child
//!   is the caller's (API key or OAuth subject), not the session's, and starts with the
//!   caller's secret in its env; a caller without one is asked to set it
//!   ([`UpstreamError::NeedsAccount`]); a caller whose secret changed gets a new child.
//!   The catalog child runs with the secret set last.
//! - **Reaped**: when the client's session ends (DELETE, in this process or announced by
//!   another), when the session expires, and after `idle_stop_ms` without a call
//!   ([`DEFAULT_IDLE`] without one); always with the stop sequence of every stdio child.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::backend::groups::Groups;
use crate::backend::mux::{MuxAnswer, OwnMessages, unroutable_answer};
use crate::backend::stdio::{Launch, StdioTransport};
use crate::base::UpstreamError;
use crate::jsonrpc::methods::Method;

/// How long an instance may go without a call when the server sets no `idle_stop_ms`.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(600);
/// How often idle and expired instances are looked for.
pub const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Which client a call is for, as far as isolation cares.
#[derive(Clone, Copy)]
pub struct Owner<'a> {
    /// The instance key: the client's conversation (session or key).
    pub key: &'a str,
    /// When the client's session expires (unix seconds); `None` for keys.
    pub expires: Option<u64>,
    /// The API key behind the client (`None`: an open namespace's anonymous clients),
    /// whose sessions together may hold only [`per_key_share`] of the instances.
    pub api_key: Option<crate::base::KeyId>,
    /// The client capabilities it declared ([`ClientCaps`] bits): which of the backend's
    /// sessions serves it ([`ClientCaps::ALL`]: the main one).
    ///
    /// [`ClientCaps`]: crate::base::ClientCaps
    /// [`ClientCaps::ALL`]: crate::base::ClientCaps::ALL
    pub caps: u8,
    /// The OAuth identity the client came with, if any (its token is exchanged for a
    /// `token_exchange` server's own).
    pub inbound: Option<&'a crate::auth::oauth::Identity>,
}

/// How many of a server's `max_instances` one API key's sessions may hold: all but
/// one, so a key opening session after session cannot lock every other key out.
pub fn per_key_share(max_instances: usize) -> usize {
    max_instances.saturating_sub(1).max(1)
}

impl Owner<'_> {
    /// The key id whose upstream accounts the client uses: its OAuth subject's, else
    /// its API key's.
    pub fn account_key(&self) -> Option<crate::base::KeyId> {
        self.inbound.map(|i| i.account_key()).or(self.api_key)
    }

    /// A number that tells clients apart on a shared stream (never 0, the gateway's).
    pub fn tag(&self) -> u64 {
        use std::hash::{BuildHasher, Hasher};
        static SEED: std::sync::OnceLock<std::collections::hash_map::RandomState> =
            std::sync::OnceLock::new();
        let mut h = SEED.get_or_init(Default::default).build_hasher();
        h.write(self.key.as_bytes());
        h.finish() | 1
    }
}

/// One client's child.
struct Instance {
    transport: StdioTransport,
    /// The caller's secret it started with (a server that takes them).
    secret: Option<Arc<str>>,
    expires: Option<u64>,
    api_key: Option<crate::base::KeyId>,
    last_used: Mutex<tokio::time::Instant>,
    /// Held while the child starts, so racing first calls start one.
    starting: tokio::sync::Mutex<()>,
}

impl Instance {
    fn touch(&self) {
        *self.last_used.lock().unwrap_or_else(|p| p.into_inner()) = tokio::time::Instant::now();
    }

    fn idle_for(&self) -> Duration {
        self.last_used
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .elapsed()
    }
}

/// The supervisor's end of the instances' own messages (replaced at each connect).
type OwnSlot = Arc<Mutex<Option<mpsc::Sender<Vec<u8>>>>>;

/// An isolated stdio server: its catalog child and its clients' children.
pub struct IsolatedTransport {
    launch: Launch,
    timeout: Duration,
    groups: Arc<Groups>,
    max_instances: usize,
    idle: Duration,
    catalog: arc_swap::ArcSwap<StdioTransport>,
    /// A server whose env takes each caller's own secret: where the secrets are.
    secrets: Option<(Arc<crate::vault::Vault>, crate::model::Server)>,
    /// With secrets: which caller each conversation that called is (its answers and
    /// cancellations go to the caller's child).
    callers_of: Mutex<HashMap<Arc<str>, Arc<str>>>,
    instances: Mutex<HashMap<Arc<str>, Arc<Instance>>>,
    own: OwnSlot,
    own_rx: Mutex<Option<mpsc::Receiver<Vec<u8>>>>,
}

impl IsolatedTransport {
    pub fn new(
        launch: Launch,
        timeout: Duration,
        groups: Arc<Groups>,
        max_instances: usize,
    ) -> IsolatedTransport {
        let idle = launch.idle_stop.unwrap_or(DEFAULT_IDLE);
        // Children come and go by this transport's rules, not their own idle timers.
        let launch = Launch {
            idle_stop: None,
            ..launch
        };
        IsolatedTransport {
            catalog: arc_swap::ArcSwap::from_pointee(StdioTransport::new(
                launch.clone(),
                timeout,
                groups.clone(),
            )),
            secrets: None,
            callers_of: Mutex::default(),
            launch,
            timeout,
            groups,
            max_instances: max_instances.max(1),
            idle,
            instances: Mutex::default(),
            own: Arc::default(),
            own_rx: Mutex::default(),
        }
    }

    /// Each caller's child starts with their own secret (`{{caller.secret}}` in the env),
    /// read from `vault`.
    pub fn with_secrets(
        mut self,
        vault: Arc<crate::vault::Vault>,
        server: crate::model::Server,
    ) -> Self {
        self.secrets = Some((vault, server));
        self
    }

    /// The launch with `secret` in the env.
    fn launch_with(&self, secret: &str) -> Launch {
        let mut launch = self.launch.clone();
        with_secret(&mut launch.env, secret);
        launch
    }

    /// The caller's principal and their secret (a server that takes them).
    async fn caller_secret(
        &self,
        owner: &Owner<'_>,
    ) -> Result<Option<(String, Arc<str>)>, UpstreamError> {
        let Some((vault, server)) = &self.secrets else {
            return Ok(None);
        };
        let principal = crate::vault::principal_of(server, owner.account_key().as_ref())
            .map_err(|e| UpstreamError::Unauthorized(e.to_string()))?;
        let secret = vault
            .secret(server, &principal)
            .await
            .map_err(|e| match e {
                crate::vault::VaultError::Unauthorized {
                    reconnect: true, ..
                } => UpstreamError::NeedsAccount(e.to_string()),
                e => UpstreamError::Unauthorized(e.to_string()),
            })?;
        Ok(Some((principal, secret)))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Arc<str>, Arc<Instance>>> {
        self.instances.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts the catalog child; the server's capabilities. A fresh stream of the
    /// instances' own messages begins for the supervisor.
    pub async fn connect(&self) -> Result<crate::backend::hello::Hello, UpstreamError> {
        if let Some((vault, server)) = &self.secrets {
            // The lists come from a child with the secret set last.
            let unauthorized =
                |e: crate::vault::VaultError| UpstreamError::Unauthorized(e.to_string());
            let principal = vault.lister(server).await.map_err(unauthorized)?;
            let secret = vault
                .secret(server, &principal)
                .await
                .map_err(unauthorized)?;
            let old = self.catalog.swap(Arc::new(StdioTransport::new(
                self.launch_with(&secret),
                self.timeout,
                self.groups.clone(),
            )));
            old.close().await;
        }
        let caps = self.catalog.load_full().connect().await?;
        let (tx, rx) = mpsc::channel(256);
        *self.own.lock().unwrap_or_else(|p| p.into_inner()) = Some(tx);
        *self.own_rx.lock().unwrap_or_else(|p| p.into_inner()) = Some(rx);
        Ok(caps)
    }

    /// The lists are read: the catalog child is not needed until they change.
    pub async fn settle(&self) {
        self.catalog.load_full().close().await;
    }

    /// A control-path request (lists) to the catalog child, started again if it was
    /// stopped. A ping checks nothing: each instance is supervised on its own.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, UpstreamError> {
        if Method::parse(method) == Some(Method::Ping) {
            return Ok(json!({}));
        }
        let catalog = self.catalog.load_full();
        if catalog.pid().is_none() {
            catalog.connect().await?;
        }
        catalog.call(method, params).await
    }

    /// The instances' own messages (notifications, list changes), for the supervisor.
    pub fn messages(&self) -> Option<OwnMessages> {
        self.own_rx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .map(|rx| OwnMessages { rx })
    }

    /// The client's child, started if it has none (refused beyond `max_instances`).
    async fn instance(&self, owner: Owner<'_>) -> Result<Arc<Instance>, UpstreamError> {
        let secret = self.caller_secret(&owner).await?;
        // A caller's own secret makes the child the caller's, whatever the session.
        let key: &str = secret.as_ref().map_or(owner.key, |(p, _)| p.as_str());
        if secret.is_some() {
            let mut of = self.callers_of.lock().unwrap_or_else(|p| p.into_inner());
            if of.len() >= self.max_instances.saturating_mul(64) {
                of.clear();
            }
            of.insert(Arc::from(owner.key), Arc::from(key));
        }
        let stale = {
            let map = self.lock();
            map.get(key)
                .filter(|i| i.secret.as_ref() != secret.as_ref().map(|(_, s)| s))
                .cloned()
        };
        if let Some(old) = stale {
            // Their secret changed: the child that has the old one goes.
            self.remove_if(key, &old);
            old.transport.close().await;
        }
        let inst = {
            let mut map = self.lock();
            match map.get(key) {
                Some(i) => i.clone(),
                None => {
                    if map.len() >= self.max_instances {
                        return Err(UpstreamError::Connect(format!(
                            "server {} already runs its max_instances ({}) isolated processes; \
                             retry once a session ends",
                            self.launch.name, self.max_instances
                        )));
                    }
                    let share = per_key_share(self.max_instances);
                    if owner.api_key.is_some()
                        && map.values().filter(|i| i.api_key == owner.api_key).count() >= share
                    {
                        return Err(UpstreamError::Connect(format!(
                            "this API key's sessions already hold {share} of server {}'s \
                             max_instances ({}) isolated processes; end one of its sessions",
                            self.launch.name, self.max_instances
                        )));
                    }
                    let launch = match &secret {
                        Some((_, s)) => self.launch_with(s),
                        None => self.launch.clone(),
                    };
                    let i = Arc::new(Instance {
                        transport: StdioTransport::new(launch, self.timeout, self.groups.clone()),
                        secret: secret.as_ref().map(|(_, s)| s.clone()),
                        // A caller's child outlives their sessions (idle stop only).
                        expires: owner.expires.filter(|_| secret.is_none()),
                        api_key: owner.api_key,
                        last_used: Mutex::new(tokio::time::Instant::now()),
                        starting: tokio::sync::Mutex::new(()),
                    });
                    map.insert(Arc::from(key), i.clone());
                    i
                }
            }
        };
        inst.touch();
        self.start(key, &inst).await?;
        Ok(inst)
    }

    /// Starts `inst`'s child unless it runs (again after a crash).
    async fn start(&self, key: &str, inst: &Arc<Instance>) -> Result<(), UpstreamError> {
        let _starting = inst.starting.lock().await;
        if inst.transport.pid().is_some() {
            return Ok(());
        }
        match inst.transport.connect().await {
            Ok(_) => {
                // Ended (or the gateway stopping) while it started: it must not outlive that.
                let kept = self.lock().get(key).is_some_and(|i| Arc::ptr_eq(i, inst));
                if !kept {
                    inst.transport.close().await;
                    return Err(UpstreamError::Connect(
                        "the client's session ended while its process started".into(),
                    ));
                }
                if let Ok(Some(messages)) = inst.transport.messages() {
                    tokio::spawn(pump(messages, self.own.clone(), inst.clone()));
                }
                tracing::info!(backend = %self.launch.name, pid = ?inst.transport.pid(),
                    "isolated server process started for a client");
                Ok(())
            }
            Err(e) => {
                self.remove_if(key, inst);
                inst.transport.close().await;
                Err(e)
            }
        }
    }

    /// Removes `key`'s instance if it is still `inst`.
    fn remove_if(&self, key: &str, inst: &Arc<Instance>) {
        let mut map = self.lock();
        if map.get(key).is_some_and(|i| Arc::ptr_eq(i, inst)) {
            map.remove(key);
        }
    }

    /// The hot path: the call goes to its client's own child.
    pub async fn request(
        &self,
        owner: Owner<'_>,
        id: &Bytes,
        body: Bytes,
        token: Option<Bytes>,
    ) -> Result<(bool, MuxAnswer), UpstreamError> {
        let inst = self.instance(owner).await?;
        let answer = inst.transport.request(owner.tag(), id, body, token).await;
        inst.touch();
        answer
    }

    /// A notification or a client's answer, to that client's child if it has one.
    pub async fn notify(&self, owner: &str, body: Bytes) -> Result<(), UpstreamError> {
        let caller = self
            .callers_of
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(owner)
            .cloned();
        let key = caller.as_deref().unwrap_or(owner);
        let inst = self.lock().get(key).cloned();
        match inst {
            Some(i) => i.transport.notify(body).await,
            None => Ok(()),
        }
    }

    /// The client's session ended: its child is stopped. `true` if it had one.
    pub async fn end(&self, owner: &str) -> bool {
        let inst = self.lock().remove(owner);
        match inst {
            Some(i) => {
                tracing::info!(backend = %self.launch.name, "isolated server process stopped: its session ended");
                i.transport.close().await;
                true
            }
            None => false,
        }
    }

    /// Stops the children of expired sessions and those idle for longer than allowed.
    pub async fn sweep(&self) {
        let now = crate::base::unix_now();
        let done: Vec<Arc<Instance>> = {
            let mut map = self.lock();
            let keys: Vec<Arc<str>> = map
                .iter()
                .filter(|(_, i)| {
                    i.expires.is_some_and(|e| e <= now)
                        || (i.idle_for() >= self.idle && i.transport.in_flight() == 0)
                })
                .map(|(k, _)| k.clone())
                .collect();
            keys.iter().filter_map(|k| map.remove(k)).collect()
        };
        for i in done {
            tracing::info!(backend = %self.launch.name, "isolated server process stopped: idle or its session expired");
            i.transport.close().await;
        }
    }

    /// The clients' children's process ids.
    pub fn pids(&self) -> Vec<i32> {
        self.lock()
            .values()
            .filter_map(|i| i.transport.pid())
            .collect()
    }

    /// How many clients have a child (started or starting).
    pub fn instances(&self) -> usize {
        self.lock().len()
    }

    /// Stops every child: the catalog's and every client's.
    pub async fn close(&self) {
        let all: Vec<Arc<Instance>> = self.lock().drain().map(|(_, i)| i).collect();
        let stopping: Vec<_> = all
            .into_iter()
            .map(|i| tokio::spawn(async move { i.transport.close().await }))
            .collect();
        self.catalog.load_full().close().await;
        for s in stopping {
            let _ = s.await;
        }
    }
}

/// Passes one instance's own messages on to the supervisor's current stream; its
/// requests that no call can take are answered here (only this child can be told).
async fn pump(mut messages: OwnMessages, own: OwnSlot, inst: Arc<Instance>) {
    while let Some(m) = messages.next().await {
        if let Some(answer) = unroutable_answer(&m) {
            let _ = inst.transport.notify(answer).await;
            continue;
        }
        let tx = own.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(tx) = tx {
            let _ = tx.send(m).await;
        }
    }
}

/// `env`'s templates with the caller's `secret` in place of `{{caller.secret}}`. The
/// template's own references (`${VAR}`, the admin's) are expanded when the child starts;
/// the caller's value is data and never is: its `$` are written `$$`, which expansion
/// turns back into `$` (a secret of `${HOME}` reaches the child as `${HOME}`).
fn with_secret(env: &mut BTreeMap<String, String>, secret: &str) {
    let literal = secret.replace('$', "$$");
    for v in env.values_mut() {
        *v = v.replace(crate::model::auth::CALLER_SECRET, &literal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_callers_secret_is_never_expanded_from_the_gateways_environment() {
        let mut env = BTreeMap::from([
            ("TOKEN".to_string(), "{{caller.secret}}".to_string()),
            ("BOTH".to_string(), "${PATH}:{{caller.secret}}".to_string()),
        ]);
        with_secret(&mut env, "${PATH}$$x$");
        let expanded = crate::model::refs::expand_map("env", &env).unwrap();
        let path = std::env::var("PATH").unwrap();
        assert_eq!(expanded["TOKEN"], "${PATH}$$x$");
        // The admin's own reference is still expanded; the caller's part is not.
        assert_eq!(expanded["BOTH"], format!("{path}:${{PATH}}$$x$"));
    }
}
