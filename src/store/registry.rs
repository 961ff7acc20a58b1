//! Registry storage: servers and namespaces in PostgreSQL, secrets sealed, changed one
//! transaction at a time (the triggers announce each change on commit). Input is checked
//! by [`crate::model::validate`] before anything is written.

use std::collections::BTreeMap;

use deadpool_postgres::GenericClient;
use deadpool_postgres::Pool;
use serde_json::Value;
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use uuid::Uuid;

use crate::crypto::{Cipher, UnsealError};
use crate::model::auth::ServerAuth;
use crate::model::validate::{Invalid, NamespaceDraft, ServerDraft, object};
use crate::model::{Namespace, Protocol, Server, Snapshot, ToolOverride};
use crate::store::db::DbError;

/// Why a registry operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// Stored data the gateway cannot read (a changed `ENCRYPTION_KEY`, …).
    #[error("{0}")]
    Corrupt(String),
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        StoreError::Db(DbError::Query(e))
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        StoreError::Db(DbError::Pool(e))
    }
}

const TS: &str = "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'";

/// The columns of a [`Server`] row, read from `source` (the table or a CTE).
fn server_select(source: &str) -> String {
    format!(
        "SELECT id, name, protocol, url, command, args, env_sealed, headers_sealed, is_active,
                timeout_ms, to_char(created_at AT TIME ZONE 'UTC', {TS}),
                to_char(updated_at AT TIME ZONE 'UTC', {TS}),
                (extract(epoch FROM created_at) * 1000000)::int8, cwd, max_concurrency,
                idle_stop_ms, session_mode, max_instances, max_memory_mb, breaker_failures,
                breaker_cooldown_ms, auth_sealed, tool_changes,
                (extract(epoch FROM updated_at) * 1000000)::int8, source_registry,
                source_name, source_version, source_review, source_allow_private
         FROM {source}"
    )
}

/// A server row written from a [`ServerDraft`] (parameters as [`Registry::write_server`]
/// binds them).
pub(super) const INSERT_SERVER: &str = "INSERT INTO mcp_servers (id, name, protocol, url, command,
        args, env_sealed, headers_sealed, is_active, timeout_ms, cwd, max_concurrency,
        idle_stop_ms, session_mode, max_instances, max_memory_mb, breaker_failures,
        breaker_cooldown_ms, auth_sealed, tool_changes)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
            $19, $20)
    RETURNING *";
pub(super) const UPDATE_SERVER: &str = "UPDATE mcp_servers SET name = $2, protocol = $3, url = $4,
        command = $5, args = $6, env_sealed = $7, headers_sealed = $8, is_active = $9,
        timeout_ms = $10, cwd = $11, max_concurrency = $12, idle_stop_ms = $13,
        session_mode = $14, max_instances = $15, max_memory_mb = $16, breaker_failures = $17,
        breaker_cooldown_ms = $18, auth_sealed = $19, tool_changes = $20, updated_at = now()
    WHERE id = $1 RETURNING *";

/// Registry storage over the database.
#[derive(Clone)]
pub struct Registry {
    pub(super) pool: Pool,
    cipher: Cipher,
}

impl Registry {
    pub fn new(pool: Pool, cipher: Cipher) -> Registry {
        Registry { pool, cipher }
    }

    fn server_from_row(&self, row: &Row) -> Result<Server, StoreError> {
        let id: Uuid = row.try_get(0)?;
        let protocol: String = row.try_get(2)?;
        let timeout: i32 = row.try_get(9)?;
        Ok(Server {
            id,
            name: row.try_get(1)?,
            protocol: Protocol::parse(&protocol).ok_or_else(|| {
                StoreError::Corrupt(format!("server {id} has protocol {protocol:?}"))
            })?,
            url: row.try_get(3)?,
            command: row.try_get(4)?,
            args: row.try_get(5)?,
            env: self.open_map(row.try_get(6)?, "server_env", &id)?,
            headers: self.open_map(row.try_get(7)?, "server_headers", &id)?,
            is_active: row.try_get(8)?,
            timeout_ms: timeout.max(1) as u32,
            created_at: row.try_get(10)?,
            updated_at: row.try_get(11)?,
            registered_us: row.try_get(12)?,
            cwd: row.try_get(13)?,
            max_concurrency: row.try_get::<_, i32>(14)?.max(1) as u32,
            idle_stop_ms: row.try_get::<_, Option<i32>>(15)?.map(|v| v.max(1) as u32),
            isolated: row.try_get::<_, String>(16)? == "isolated",
            max_instances: row.try_get::<_, i32>(17)?.max(1) as u32,
            max_memory_mb: row.try_get::<_, Option<i32>>(18)?.map(|v| v.max(1) as u32),
            breaker_failures: row.try_get::<_, i32>(19)?.max(0) as u32,
            breaker_cooldown_ms: row.try_get::<_, i32>(20)?.max(1) as u32,
            auth: self.open_auth(row.try_get(21)?, &id)?,
            tool_changes: crate::model::ToolChanges::parse(row.try_get::<_, &str>(22)?)
                .unwrap_or_default(),
            changed_us: row.try_get(23)?,
            source: source_from_row(row)?,
        })
    }

    fn open_map(
        &self,
        sealed: Option<Vec<u8>>,
        purpose: &str,
        id: &Uuid,
    ) -> Result<BTreeMap<String, String>, StoreError> {
        let Some(sealed) = sealed else {
            return Ok(BTreeMap::new());
        };
        self.cipher
            .open_json(&sealed, format!("{purpose}:{id}").as_bytes())
            .map_err(|e| match e {
                UnsealError::Open => StoreError::Corrupt(format!(
                    "stored secrets of server {id} cannot be opened (was ENCRYPTION_KEY changed?)"
                )),
                UnsealError::Json(e) => {
                    StoreError::Corrupt(format!("stored secrets of server {id}: {e}"))
                }
            })
    }

    fn open_auth(&self, sealed: Option<Vec<u8>>, id: &Uuid) -> Result<ServerAuth, StoreError> {
        let Some(sealed) = sealed else {
            return Ok(ServerAuth::Static);
        };
        self.cipher
            .open_json(&sealed, format!("server_auth:{id}").as_bytes())
            .map_err(|e| match e {
                UnsealError::Open => StoreError::Corrupt(format!(
                    "the auth of server {id} cannot be opened (was ENCRYPTION_KEY changed?)"
                )),
                UnsealError::Json(e) => {
                    StoreError::Corrupt(format!("the auth of server {id}: {e}"))
                }
            })
    }

    fn seal_auth(&self, auth: &ServerAuth, id: &Uuid) -> Option<Vec<u8>> {
        if auth.is_static() {
            return None;
        }
        Some(
            self.cipher
                .seal_json(auth, format!("server_auth:{id}").as_bytes()),
        )
    }

    fn seal_map(
        &self,
        map: &BTreeMap<String, String>,
        purpose: &str,
        id: &Uuid,
    ) -> Option<Vec<u8>> {
        if map.is_empty() {
            return None;
        }
        Some(
            self.cipher
                .seal_json(map, format!("{purpose}:{id}").as_bytes()),
        )
    }

    pub async fn list_servers(&self) -> Result<Vec<Server>, StoreError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                &format!("{} ORDER BY lower(name)", server_select("mcp_servers")),
                &[],
            )
            .await?;
        rows.iter().map(|r| self.server_from_row(r)).collect()
    }

    pub(super) async fn find_server<C: GenericClient>(
        &self,
        client: &C,
        id_or_name: &str,
        lock: bool,
    ) -> Result<Server, StoreError> {
        let lock = if lock { " FOR UPDATE" } else { "" };
        let row = match Uuid::parse_str(id_or_name) {
            Ok(id) => {
                client
                    .query_opt(
                        &format!("{} WHERE id = $1{lock}", server_select("mcp_servers")),
                        &[&id],
                    )
                    .await?
            }
            Err(_) => {
                client
                    .query_opt(
                        &format!(
                            "{} WHERE lower(name) = lower($1){lock}",
                            server_select("mcp_servers")
                        ),
                        &[&id_or_name],
                    )
                    .await?
            }
        };
        match row {
            Some(r) => self.server_from_row(&r),
            None => Err(StoreError::NotFound(format!("no server {id_or_name:?}"))),
        }
    }

    /// The pool its queries go through (for keyadm's reads beside the registry's).
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    pub async fn get_server(&self, id_or_name: &str) -> Result<Server, StoreError> {
        let client = self.pool.get().await?;
        self.find_server(&client, id_or_name, false).await
    }

    pub async fn create_server(&self, body: &Value) -> Result<Server, StoreError> {
        let obj = object(body)?;
        let mut draft = ServerDraft::default();
        draft.apply(obj, None)?;
        draft.validate()?;
        let client = self.pool.get().await?;
        self.write_server(&client, INSERT_SERVER, Uuid::new_v4(), &draft)
            .await
    }

    /// Restarts a server on every gateway: its row is marked changed (nothing else of
    /// it), so each gateway's reconciliation stops its backend (a stdio server's process
    /// with it) and starts a new one. An inactive server is refused: nothing runs it.
    pub async fn restart_server(&self, id_or_name: &str) -> Result<Server, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let existing = self.find_server(&tx, id_or_name, true).await?;
        if !existing.is_active {
            return Err(StoreError::Conflict(format!(
                "server {0} is inactive, so nothing runs it: enable it instead \
                 (keyadm servers enable {0}, or PUT /api/v1/mcp/servers/{0} \
                 {{\"is_active\": true}})",
                existing.name
            )));
        }
        let row = tx
            .query_one(
                &format!(
                    "WITH written AS (UPDATE mcp_servers SET updated_at = clock_timestamp()
                         WHERE id = $1 RETURNING *) {}",
                    server_select("written")
                ),
                &[&existing.id],
            )
            .await?;
        let server = self.server_from_row(&row)?;
        tx.commit().await?;
        Ok(server)
    }

    /// Applies a change; returns the server and warnings about what the change did
    /// besides what was asked (headers dropped when the URL moved to another origin).
    pub async fn update_server(
        &self,
        id_or_name: &str,
        body: &Value,
    ) -> Result<(Server, Vec<String>), StoreError> {
        let obj = object(body)?;
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let existing = self.find_server(&tx, id_or_name, true).await?;
        let mut draft = ServerDraft::from(&existing);
        draft.apply(obj, Some(&existing))?;
        draft.validate()?;
        let server = self
            .write_server(&tx, UPDATE_SERVER, existing.id, &draft)
            .await?;
        let mut warnings = draft.warnings;
        if draft.origin_moved {
            // Tokens were issued for the old resource (RFC 8707): none follows the url.
            let dropped = tx
                .execute(
                    "DELETE FROM upstream_tokens WHERE server_id = $1",
                    &[&existing.id],
                )
                .await?;
            tx.execute(
                "DELETE FROM upstream_pending WHERE server_id = $1",
                &[&existing.id],
            )
            .await?;
            if dropped > 0 {
                warnings.push(format!(
                    "the url moved to another origin: the {dropped} stored account token(s) \
                     were dropped; connect the account again"
                ));
            }
        }
        tx.commit().await?;
        Ok((server, warnings))
    }

    /// Runs an INSERT or UPDATE `… RETURNING *` whose parameters are the draft's fields
    /// ($1 id … $10 timeout_ms, $11 cwd, $12 max_concurrency, $13 idle_stop_ms, $14 session_mode, $15 max_instances, $16 max_memory_mb, $17 breaker_failures, $18 breaker_cooldown_ms, $19 auth, $20 tool_changes), secrets sealed, and reads
    /// the row back.
    pub(super) async fn write_server<C: GenericClient>(
        &self,
        client: &C,
        write: &str,
        id: Uuid,
        draft: &ServerDraft,
    ) -> Result<Server, StoreError> {
        let row = client
            .query_one(
                &format!("WITH written AS ({write}) {}", server_select("written")),
                &[
                    &id,
                    &draft.name,
                    &draft.protocol.map(Protocol::as_str),
                    &draft.url,
                    &draft.command,
                    &draft.args,
                    &self.seal_map(&draft.env, "server_env", &id),
                    &self.seal_map(&draft.headers, "server_headers", &id),
                    &draft.is_active,
                    &draft.timeout_ms,
                    &draft.cwd,
                    &draft.max_concurrency,
                    &draft.idle_stop_ms,
                    &(if draft.isolated { "isolated" } else { "shared" }),
                    &draft.max_instances,
                    &draft.max_memory_mb,
                    &draft.breaker_failures,
                    &draft.breaker_cooldown_ms,
                    &self.seal_auth(&draft.auth, &id),
                    &draft.tool_changes.as_str(),
                ],
            )
            .await
            .map_err(|e| conflict_or(e, "server", &draft.name))?;
        self.server_from_row(&row)
    }

    pub async fn delete_server(&self, id_or_name: &str) -> Result<Server, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let existing = self.find_server(&tx, id_or_name, true).await?;
        tx.execute("DELETE FROM mcp_servers WHERE id = $1", &[&existing.id])
            .await?;
        tx.commit().await?;
        Ok(existing)
    }

    pub async fn list_namespaces(&self) -> Result<Vec<Namespace>, StoreError> {
        let client = self.pool.get().await?;
        load_namespaces(&client, None).await
    }

    pub async fn get_namespace(&self, name: &str) -> Result<Namespace, StoreError> {
        let client = self.pool.get().await?;
        load_namespaces(&client, Some(name))
            .await?
            .pop()
            .ok_or_else(|| StoreError::NotFound(format!("no namespace {name:?}")))
    }

    pub async fn create_namespace(&self, body: &Value) -> Result<Namespace, StoreError> {
        let obj = object(body)?;
        let mut draft = NamespaceDraft::default();
        draft.apply(obj, true)?;
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        insert_namespace(&tx, &draft).await?;
        let ns = load_namespaces(&tx, Some(&draft.name))
            .await?
            .pop()
            .ok_or_else(|| {
                StoreError::Corrupt("namespace vanished inside its transaction".into())
            })?;
        tx.commit().await?;
        Ok(ns)
    }

    pub async fn update_namespace(
        &self,
        name: &str,
        body: &Value,
    ) -> Result<Namespace, StoreError> {
        let obj = object(body)?;
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        tx.query_opt(
            "SELECT 1 FROM namespaces WHERE name = $1 FOR UPDATE",
            &[&name],
        )
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("no namespace {name:?}")))?;
        let existing = load_namespaces(&tx, Some(name))
            .await?
            .pop()
            .ok_or_else(|| StoreError::NotFound(format!("no namespace {name:?}")))?;
        let mut draft = NamespaceDraft::from(&existing);
        draft.apply(obj, false)?;
        tx.execute(
            "UPDATE namespaces SET description = $2, tool_prefix = $3, auth = $4,
                    validate_arguments = $5, tool_search = $6, tool_changes = $7,
                    guardrails = $8, tools_default = $9, code_mode = $10, updated_at = now()
             WHERE name = $1",
            &[
                &draft.name,
                &draft.description,
                &prefix_str(draft.prefix_tools),
                &auth_str(draft.auth_required),
                &draft.validate_arguments,
                &draft.tool_search.as_str(),
                &draft.tool_changes.as_str(),
                &crate::model::guardrail::to_stored(&draft.guardrails),
                &crate::model::tools_default_str(draft.tools_enabled_by_default),
                &draft.code_mode.as_str(),
            ],
        )
        .await?;
        rewrite_members(&tx, &draft).await?;
        let ns = load_namespaces(&tx, Some(&draft.name))
            .await?
            .pop()
            .ok_or_else(|| {
                StoreError::Corrupt("namespace vanished inside its transaction".into())
            })?;
        tx.commit().await?;
        Ok(ns)
    }

    pub async fn delete_namespace(&self, name: &str) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        let n = client
            .execute("DELETE FROM namespaces WHERE name = $1", &[&name])
            .await?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("no namespace {name:?}")));
        }
        Ok(())
    }

    /// The whole registry, for the data plane and the event stream.
    pub async fn snapshot(&self) -> Result<Snapshot, DbError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                &format!("{} ORDER BY lower(name)", server_select("mcp_servers")),
                &[],
            )
            .await?;
        let mut servers = Vec::with_capacity(rows.len());
        for row in &rows {
            match self.server_from_row(row) {
                Ok(s) => servers.push(s),
                Err(e) => tracing::error!(error = %e, "skipping unreadable server row"),
            }
        }
        let namespaces = load_namespaces(&client, None)
            .await
            .map_err(|e| DbError::Task(e.to_string()))?;
        Ok(Snapshot {
            servers,
            namespaces,
        })
    }
}

/// Columns 24–28: the registry entry a server was installed from, if any.
pub(super) fn source_from_row(row: &Row) -> Result<Option<crate::model::Source>, StoreError> {
    let registry: Option<String> = row.try_get(24)?;
    let (Some(registry), Some(name), Some(version)) = (
        registry,
        row.try_get::<_, Option<String>>(25)?,
        row.try_get::<_, Option<String>>(26)?,
    ) else {
        return Ok(None);
    };
    Ok(Some(crate::model::Source {
        registry,
        name,
        version,
        review: row.try_get(27)?,
        allow_private: row.try_get(28)?,
    }))
}

pub(super) fn prefix_str(prefix: bool) -> &'static str {
    if prefix { "always" } else { "never" }
}

pub(super) fn auth_str(required: bool) -> &'static str {
    if required { "required" } else { "none" }
}

/// 409 for a duplicate name, otherwise the database error.
pub(super) fn conflict_or(e: tokio_postgres::Error, what: &str, name: &str) -> StoreError {
    if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
        StoreError::Conflict(format!("a {what} named {name:?} already exists"))
    } else {
        StoreError::from(e)
    }
}

pub(super) async fn load_namespaces<C: GenericClient>(
    client: &C,
    only: Option<&str>,
) -> Result<Vec<Namespace>, StoreError> {
    let rows = client
        .query(
            &format!(
                "SELECT n.name, n.description, n.tool_prefix, n.auth,
                        to_char(n.created_at AT TIME ZONE 'UTC', {TS}),
                        to_char(n.updated_at AT TIME ZONE 'UTC', {TS}),
                        coalesce((SELECT array_agg(s.name ORDER BY ns.position)
                                  FROM namespace_servers ns JOIN mcp_servers s ON s.id = ns.server_id
                                  WHERE ns.namespace = n.name), '{{}}'),
                        n.validate_arguments, n.tool_search, n.tool_changes, n.guardrails,
                        n.tools_default, n.code_mode
                 FROM namespaces n WHERE $1::text IS NULL OR n.name = $1 ORDER BY n.name"
            ),
            &[&only],
        )
        .await?;
    let tool_rows = client
        .query(
            "SELECT t.namespace, CASE WHEN s.name IS NULL THEN t.tool ELSE s.name || '__' || t.tool END,
                    t.enabled, t.rename_to, t.description, t.rate
             FROM namespace_tools t LEFT JOIN mcp_servers s ON s.id = t.server_id
             WHERE $1::text IS NULL OR t.namespace = $1",
            &[&only],
        )
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let name: String = r.try_get(0)?;
        let prefix: String = r.try_get(2)?;
        let auth: String = r.try_get(3)?;
        let mut tools = BTreeMap::new();
        for t in tool_rows.iter().filter(|t| t.get::<_, &str>(0) == name) {
            tools.insert(
                t.try_get::<_, String>(1)?,
                ToolOverride {
                    enabled: t.try_get(2)?,
                    name: t.try_get(3)?,
                    description: t.try_get(4)?,
                    rate: t
                        .try_get::<_, Option<&str>>(5)?
                        .and_then(|r| crate::model::limits::Rate::parse(r).ok()),
                },
            );
        }
        out.push(Namespace {
            description: r.try_get(1)?,
            prefix_tools: prefix == "always",
            auth_required: auth != "none",
            created_at: r.try_get(4)?,
            updated_at: r.try_get(5)?,
            servers: r.try_get(6)?,
            validate_arguments: r.try_get(7)?,
            tool_search: crate::model::ToolSearch::parse(r.try_get::<_, &str>(8)?)
                .unwrap_or_default(),
            tool_changes: crate::model::ToolChanges::parse(r.try_get::<_, &str>(9)?)
                .unwrap_or_default(),
            guardrails: crate::model::guardrail::from_stored(&r.try_get::<_, Value>(10)?),
            tools_enabled_by_default: r.try_get::<_, &str>(11)? != "disabled",
            code_mode: crate::model::CodeMode::parse(r.try_get::<_, &str>(12)?).unwrap_or_default(),
            tools,
            name,
        });
    }
    Ok(out)
}

/// Replaces a namespace's servers and overrides with the draft's.
pub(super) async fn rewrite_members<C: GenericClient>(
    tx: &C,
    d: &NamespaceDraft,
) -> Result<(), StoreError> {
    tx.execute(
        "DELETE FROM namespace_servers WHERE namespace = $1",
        &[&d.name],
    )
    .await?;
    tx.execute(
        "DELETE FROM namespace_tools WHERE namespace = $1",
        &[&d.name],
    )
    .await?;
    write_members(tx, d).await
}

/// Writes a new namespace, its row and its members: the one writer, for the API and for
/// imports.
pub(super) async fn insert_namespace<C: GenericClient>(
    tx: &C,
    d: &NamespaceDraft,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO namespaces (name, description, tool_prefix, auth, validate_arguments,
                                 tool_search, tool_changes, guardrails, tools_default,
                                 code_mode)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        &[
            &d.name,
            &d.description,
            &prefix_str(d.prefix_tools),
            &auth_str(d.auth_required),
            &d.validate_arguments,
            &d.tool_search.as_str(),
            &d.tool_changes.as_str(),
            &crate::model::guardrail::to_stored(&d.guardrails),
            &crate::model::tools_default_str(d.tools_enabled_by_default),
            &d.code_mode.as_str(),
        ],
    )
    .await
    .map_err(|e| conflict_or(e, "namespace", &d.name))?;
    write_members(tx, d).await
}

async fn write_members<C: GenericClient>(tx: &C, d: &NamespaceDraft) -> Result<(), StoreError> {
    for (position, server) in d.servers.iter().enumerate() {
        let n = tx
            .execute(
                "INSERT INTO namespace_servers (namespace, server_id, position)
                 SELECT $1, id, $3 FROM mcp_servers WHERE lower(name) = lower($2)",
                &[&d.name, server, &(position as i32)],
            )
            .await?;
        if n == 0 {
            return Err(StoreError::Invalid(Invalid::field(
                "servers",
                format!("no server named {server:?}"),
            )));
        }
    }
    // Kept against the server's id and the backend's own tool name ("<server>__<tool>"
    // naming a registered server), so a rename keeps them; any other key as it is.
    for (key, o) in &d.tools {
        tx.execute(
            "WITH k AS (
                 SELECT s.id AS server_id, substr($2, position('__' IN $2) + 2) AS tool
                 FROM mcp_servers s
                 WHERE position('__' IN $2) > 1 AND length($2) > position('__' IN $2) + 1
                   AND lower(s.name) = lower(left($2, position('__' IN $2) - 1))
                 UNION ALL SELECT NULL, $2
             )
             INSERT INTO namespace_tools
                 (namespace, server_id, tool, enabled, rename_to, description, rate)
             SELECT $1, server_id, tool, $3, $4, $5, $6 FROM k
             ORDER BY server_id IS NULL LIMIT 1",
            &[
                &d.name,
                key,
                &o.enabled,
                &o.name,
                &o.description,
                &o.rate.map(|r| r.to_string()),
            ],
        )
        .await?;
    }
    Ok(())
}
