//! The registry: MCP servers and namespaces, validated, stored with their secrets sealed,
//! changed one transaction at a time (the triggers announce each change on commit).
//!
//! Input is checked field by field so a client learns exactly which field is wrong;
//! unknown fields are refused. `PUT` changes the fields it names and keeps the rest, and a
//! masked secret sent back unchanged keeps the stored value, so GET → edit → PUT works.

use std::collections::BTreeMap;

use deadpool_postgres::GenericClient;
use deadpool_postgres::Pool;
use serde_json::{Map, Value, json};
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use uuid::Uuid;

use crate::crypto::Cipher;
use crate::http::ApiError;
use crate::model::names::{is_valid_name, is_valid_tool_name};
use crate::store::db::DbError;

/// What secrets look like in responses.
pub const MASK: &str = "********";
const MAX_URL: usize = 2048;
const MAX_COMMAND: usize = 1024;
const MAX_ARGS: usize = 256;
const MAX_MAP_ENTRIES: usize = 100;
const MAX_VALUE: usize = 8192;
const MAX_DESCRIPTION: usize = 1000;
const MAX_TIMEOUT_MS: i64 = 3_600_000;
const DEFAULT_TIMEOUT_MS: i32 = 60_000;
/// Headers the gateway sets itself on upstream requests.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "upgrade",
    "te",
    "trailer",
    "keep-alive",
    "proxy-connection",
    "accept",
    "mcp-session-id",
    "mcp-protocol-version",
    "last-event-id",
];

/// The transport a backend speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Stdio,
    Http,
    Sse,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Stdio => "stdio",
            Protocol::Http => "http",
            Protocol::Sse => "sse",
        }
    }

    fn parse(s: &str) -> Option<Protocol> {
        match s {
            "stdio" => Some(Protocol::Stdio),
            "http" => Some(Protocol::Http),
            "sse" => Some(Protocol::Sse),
            _ => None,
        }
    }
}

/// A registered backend, secrets in clear (in memory only; `Debug` masks them).
#[derive(Clone, PartialEq)]
pub struct Server {
    pub id: Uuid,
    pub name: String,
    pub protocol: Protocol,
    pub url: Option<String>,
    pub command: Option<String>,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub headers: BTreeMap<String, String>,
    pub is_active: bool,
    pub timeout_ms: u32,
    pub created_at: String,
    pub updated_at: String,
    /// When it was registered, in microseconds: the earlier registration wins a resource
    /// URI two servers offer.
    pub registered_us: i64,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("protocol", &self.protocol)
            .field("url", &self.url)
            .field("command", &self.command)
            .field("args", &self.args)
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("is_active", &self.is_active)
            .field("timeout_ms", &self.timeout_ms)
            .finish_non_exhaustive()
    }
}

fn masked(map: &BTreeMap<String, String>) -> Value {
    Value::Object(
        map.keys()
            .map(|k| (k.clone(), Value::String(MASK.to_string())))
            .collect(),
    )
}

impl Server {
    /// The DESIGN.md registry object, secrets masked.
    pub fn public_json(&self, status: &str) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "protocol": self.protocol.as_str(),
            "url": self.url,
            "command": self.command,
            "args": self.args,
            "env": masked(&self.env),
            "headers": masked(&self.headers),
            "is_active": self.is_active,
            "timeout_ms": self.timeout_ms,
            "status": status,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }
}

/// Per-namespace settings for one exposed tool.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOverride {
    pub enabled: bool,
    pub name: Option<String>,
    pub description: Option<String>,
}

/// A named selection of servers with its exposure settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Namespace {
    pub name: String,
    pub description: Option<String>,
    /// Server names, in the order given.
    pub servers: Vec<String>,
    /// `true` for `always` (`server__tool`), `false` for `never`.
    pub prefix_tools: bool,
    /// `false` when `auth: none` opens the namespace without credentials.
    pub auth_required: bool,
    pub tools: BTreeMap<String, ToolOverride>,
    pub created_at: String,
    pub updated_at: String,
}

impl Namespace {
    pub fn public_json(&self) -> Value {
        let tools: Map<String, Value> = self
            .tools
            .iter()
            .map(|(k, t)| {
                let mut o = Map::new();
                o.insert("enabled".into(), Value::Bool(t.enabled));
                if let Some(n) = &t.name {
                    o.insert("name".into(), Value::String(n.clone()));
                }
                if let Some(d) = &t.description {
                    o.insert("description".into(), Value::String(d.clone()));
                }
                (k.clone(), Value::Object(o))
            })
            .collect();
        json!({
            "name": self.name,
            "description": self.description,
            "servers": self.servers,
            "tool_prefix": if self.prefix_tools { "always" } else { "never" },
            "auth": if self.auth_required { "required" } else { "none" },
            "tools": tools,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }
}

/// Everything in the registry at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub servers: Vec<Server>,
    pub namespaces: Vec<Namespace>,
}

impl Snapshot {
    /// Names of the namespaces that include the server called `server`.
    pub fn namespaces_of(&self, server: &str) -> Vec<String> {
        self.namespaces
            .iter()
            .filter(|n| n.servers.iter().any(|s| s.eq_ignore_ascii_case(server)))
            .map(|n| n.name.clone())
            .collect()
    }

    pub fn server_by_id(&self, id: &Uuid) -> Option<&Server> {
        self.servers.iter().find(|s| s.id == *id)
    }
}

const TS: &str = "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'";

/// The columns of a [`Server`] row, read from `source` (the table or a CTE).
fn server_select(source: &str) -> String {
    format!(
        "SELECT id, name, protocol, url, command, args, env_sealed, headers_sealed, is_active,
                timeout_ms, to_char(created_at AT TIME ZONE 'UTC', {TS}),
                to_char(updated_at AT TIME ZONE 'UTC', {TS}),
                (extract(epoch FROM created_at) * 1000000)::int8
         FROM {source}"
    )
}

/// Registry storage over the database.
#[derive(Clone)]
pub struct Registry {
    pool: Pool,
    cipher: Cipher,
}

impl Registry {
    pub fn new(pool: Pool, cipher: Cipher) -> Registry {
        Registry { pool, cipher }
    }

    fn server_from_row(&self, row: &Row) -> Result<Server, ApiError> {
        let id: Uuid = row.try_get(0)?;
        let protocol: String = row.try_get(2)?;
        let timeout: i32 = row.try_get(9)?;
        Ok(Server {
            id,
            name: row.try_get(1)?,
            protocol: Protocol::parse(&protocol).ok_or_else(|| {
                ApiError::Internal(format!("server {id} has protocol {protocol:?}"))
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
        })
    }

    fn open_map(
        &self,
        sealed: Option<Vec<u8>>,
        purpose: &str,
        id: &Uuid,
    ) -> Result<BTreeMap<String, String>, ApiError> {
        let Some(sealed) = sealed else {
            return Ok(BTreeMap::new());
        };
        let plain = self
            .cipher
            .open(&sealed, format!("{purpose}:{id}").as_bytes())
            .map_err(|_| {
                ApiError::Internal(format!(
                    "stored secrets of server {id} cannot be opened (was ENCRYPTION_KEY changed?)"
                ))
            })?;
        serde_json::from_slice(&plain)
            .map_err(|e| ApiError::Internal(format!("stored secrets of server {id}: {e}")))
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
        let plain = serde_json::to_vec(map).unwrap_or_default();
        Some(
            self.cipher
                .seal(&plain, format!("{purpose}:{id}").as_bytes()),
        )
    }

    pub async fn list_servers(&self) -> Result<Vec<Server>, ApiError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                &format!("{} ORDER BY lower(name)", server_select("mcp_servers")),
                &[],
            )
            .await?;
        rows.iter().map(|r| self.server_from_row(r)).collect()
    }

    async fn find_server<C: GenericClient>(
        &self,
        client: &C,
        id_or_name: &str,
        lock: bool,
    ) -> Result<Server, ApiError> {
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
            None => Err(ApiError::NotFound(format!("no server {id_or_name:?}"))),
        }
    }

    pub async fn get_server(&self, id_or_name: &str) -> Result<Server, ApiError> {
        let client = self.pool.get().await?;
        self.find_server(&client, id_or_name, false).await
    }

    pub async fn create_server(&self, body: &Value) -> Result<Server, ApiError> {
        let obj = object(body)?;
        let mut draft = ServerDraft::default();
        draft.apply(obj, None)?;
        draft.validate()?;
        let client = self.pool.get().await?;
        let sql = "INSERT INTO mcp_servers (id, name, protocol, url, command, args, env_sealed,
                       headers_sealed, is_active, timeout_ms)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *";
        self.write_server(&client, sql, Uuid::new_v4(), &draft)
            .await
    }

    /// Applies a change; returns the server and warnings about what the change did
    /// besides what was asked (headers dropped when the URL moved to another origin).
    pub async fn update_server(
        &self,
        id_or_name: &str,
        body: &Value,
    ) -> Result<(Server, Vec<String>), ApiError> {
        let obj = object(body)?;
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let existing = self.find_server(&tx, id_or_name, true).await?;
        let mut draft = ServerDraft::from(&existing);
        draft.apply(obj, Some(&existing))?;
        draft.validate()?;
        let sql = "UPDATE mcp_servers SET name = $2, protocol = $3, url = $4, command = $5,
                       args = $6, env_sealed = $7, headers_sealed = $8, is_active = $9,
                       timeout_ms = $10, updated_at = now()
                   WHERE id = $1 RETURNING *";
        let server = self.write_server(&tx, sql, existing.id, &draft).await?;
        tx.commit().await?;
        Ok((server, draft.warnings))
    }

    /// Runs an INSERT or UPDATE `… RETURNING *` whose parameters are the draft's fields
    /// ($1 id … $10 timeout_ms), secrets sealed, and reads the row back.
    async fn write_server<C: GenericClient>(
        &self,
        client: &C,
        write: &str,
        id: Uuid,
        draft: &ServerDraft,
    ) -> Result<Server, ApiError> {
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
                ],
            )
            .await
            .map_err(|e| conflict_or(e, "server", &draft.name))?;
        self.server_from_row(&row)
    }

    pub async fn delete_server(&self, id_or_name: &str) -> Result<Server, ApiError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let existing = self.find_server(&tx, id_or_name, true).await?;
        tx.execute("DELETE FROM mcp_servers WHERE id = $1", &[&existing.id])
            .await?;
        tx.commit().await?;
        Ok(existing)
    }

    pub async fn list_namespaces(&self) -> Result<Vec<Namespace>, ApiError> {
        let client = self.pool.get().await?;
        load_namespaces(&client, None).await
    }

    pub async fn get_namespace(&self, name: &str) -> Result<Namespace, ApiError> {
        let client = self.pool.get().await?;
        load_namespaces(&client, Some(name))
            .await?
            .pop()
            .ok_or_else(|| ApiError::NotFound(format!("no namespace {name:?}")))
    }

    pub async fn create_namespace(&self, body: &Value) -> Result<Namespace, ApiError> {
        let obj = object(body)?;
        let mut draft = NamespaceDraft::default();
        draft.apply(obj, true)?;
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "INSERT INTO namespaces (name, description, tool_prefix, auth) VALUES ($1, $2, $3, $4)",
            &[
                &draft.name,
                &draft.description,
                &prefix_str(draft.prefix_tools),
                &auth_str(draft.auth_required),
            ],
        )
        .await
        .map_err(|e| conflict_or(e, "namespace", &draft.name))?;
        write_members(&tx, &draft).await?;
        let ns = load_namespaces(&tx, Some(&draft.name))
            .await?
            .pop()
            .ok_or_else(|| {
                ApiError::Internal("namespace vanished inside its transaction".into())
            })?;
        tx.commit().await?;
        Ok(ns)
    }

    pub async fn update_namespace(&self, name: &str, body: &Value) -> Result<Namespace, ApiError> {
        let obj = object(body)?;
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        tx.query_opt(
            "SELECT 1 FROM namespaces WHERE name = $1 FOR UPDATE",
            &[&name],
        )
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no namespace {name:?}")))?;
        let existing = load_namespaces(&tx, Some(name))
            .await?
            .pop()
            .ok_or_else(|| ApiError::NotFound(format!("no namespace {name:?}")))?;
        let mut draft = NamespaceDraft::from(&existing);
        draft.apply(obj, false)?;
        tx.execute(
            "UPDATE namespaces SET description = $2, tool_prefix = $3, auth = $4, updated_at = now()
             WHERE name = $1",
            &[
                &draft.name,
                &draft.description,
                &prefix_str(draft.prefix_tools),
                &auth_str(draft.auth_required),
            ],
        )
        .await?;
        tx.execute(
            "DELETE FROM namespace_servers WHERE namespace = $1",
            &[&draft.name],
        )
        .await?;
        tx.execute(
            "DELETE FROM namespace_tools WHERE namespace = $1",
            &[&draft.name],
        )
        .await?;
        write_members(&tx, &draft).await?;
        let ns = load_namespaces(&tx, Some(&draft.name))
            .await?
            .pop()
            .ok_or_else(|| {
                ApiError::Internal("namespace vanished inside its transaction".into())
            })?;
        tx.commit().await?;
        Ok(ns)
    }

    pub async fn delete_namespace(&self, name: &str) -> Result<(), ApiError> {
        let client = self.pool.get().await?;
        let n = client
            .execute("DELETE FROM namespaces WHERE name = $1", &[&name])
            .await?;
        if n == 0 {
            return Err(ApiError::NotFound(format!("no namespace {name:?}")));
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

fn prefix_str(prefix: bool) -> &'static str {
    if prefix { "always" } else { "never" }
}

fn auth_str(required: bool) -> &'static str {
    if required { "required" } else { "none" }
}

/// 409 for a duplicate name, otherwise the database error.
fn conflict_or(e: tokio_postgres::Error, what: &str, name: &str) -> ApiError {
    if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
        ApiError::Conflict(format!("a {what} named {name:?} already exists"))
    } else {
        ApiError::from(e)
    }
}

async fn load_namespaces<C: GenericClient>(
    client: &C,
    only: Option<&str>,
) -> Result<Vec<Namespace>, ApiError> {
    let rows = client
        .query(
            &format!(
                "SELECT n.name, n.description, n.tool_prefix, n.auth,
                        to_char(n.created_at AT TIME ZONE 'UTC', {TS}),
                        to_char(n.updated_at AT TIME ZONE 'UTC', {TS}),
                        coalesce((SELECT array_agg(s.name ORDER BY ns.position)
                                  FROM namespace_servers ns JOIN mcp_servers s ON s.id = ns.server_id
                                  WHERE ns.namespace = n.name), '{{}}')
                 FROM namespaces n WHERE $1::text IS NULL OR n.name = $1 ORDER BY n.name"
            ),
            &[&only],
        )
        .await?;
    let tool_rows = client
        .query(
            "SELECT namespace, tool, enabled, rename_to, description FROM namespace_tools
             WHERE $1::text IS NULL OR namespace = $1",
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
            tools,
            name,
        });
    }
    Ok(out)
}

async fn write_members<C: GenericClient>(tx: &C, d: &NamespaceDraft) -> Result<(), ApiError> {
    for (position, server) in d.servers.iter().enumerate() {
        let n = tx
            .execute(
                "INSERT INTO namespace_servers (namespace, server_id, position)
                 SELECT $1, id, $3 FROM mcp_servers WHERE lower(name) = lower($2)",
                &[&d.name, server, &(position as i32)],
            )
            .await?;
        if n == 0 {
            return Err(ApiError::bad_field(
                "servers",
                format!("no server named {server:?}"),
            ));
        }
    }
    for (tool, o) in &d.tools {
        tx.execute(
            "INSERT INTO namespace_tools (namespace, tool, enabled, rename_to, description)
             VALUES ($1, $2, $3, $4, $5)",
            &[&d.name, tool, &o.enabled, &o.name, &o.description],
        )
        .await?;
    }
    Ok(())
}

fn object(body: &Value) -> Result<&Map<String, Value>, ApiError> {
    body.as_object().ok_or_else(|| ApiError::BadRequest {
        field: None,
        message: "the request body must be a JSON object".into(),
    })
}

/// A field's value: absent, explicitly null, or present.
enum Field<'a> {
    Absent,
    Null,
    Value(&'a Value),
}

fn field<'a>(obj: &'a Map<String, Value>, name: &str) -> Field<'a> {
    match obj.get(name) {
        None => Field::Absent,
        Some(Value::Null) => Field::Null,
        Some(v) => Field::Value(v),
    }
}

fn string_field(obj: &Map<String, Value>, name: &str) -> Result<Option<Option<String>>, ApiError> {
    match field(obj, name) {
        Field::Absent => Ok(None),
        Field::Null => Ok(Some(None)),
        Field::Value(Value::String(s)) => Ok(Some(Some(s.clone()))),
        Field::Value(_) => Err(ApiError::bad_field(name, "must be a string")),
    }
}

fn reject_unknown(
    obj: &Map<String, Value>,
    known: &[&str],
    read_only: &[&str],
    allow_read_only: bool,
) -> Result<(), ApiError> {
    for k in obj.keys() {
        if read_only.contains(&k.as_str()) {
            if !allow_read_only {
                return Err(ApiError::bad_field(k, "is assigned by the gateway"));
            }
        } else if !known.contains(&k.as_str()) {
            return Err(ApiError::bad_field(
                k,
                format!("unknown field (expected one of: {})", known.join(", ")),
            ));
        }
    }
    Ok(())
}

/// A server being created or changed.
#[derive(Default)]
struct ServerDraft {
    name: String,
    protocol: Option<Protocol>,
    url: Option<String>,
    command: Option<String>,
    args: Vec<String>,
    env: BTreeMap<String, String>,
    headers: BTreeMap<String, String>,
    is_active: bool,
    timeout_ms: i32,
    /// What the change did that the caller did not ask for in so many words.
    warnings: Vec<String>,
}

impl From<&Server> for ServerDraft {
    fn from(s: &Server) -> Self {
        ServerDraft {
            name: s.name.clone(),
            protocol: Some(s.protocol),
            url: s.url.clone(),
            command: s.command.clone(),
            args: s.args.clone(),
            env: s.env.clone(),
            headers: s.headers.clone(),
            is_active: s.is_active,
            timeout_ms: s.timeout_ms as i32,
            warnings: Vec::new(),
        }
    }
}

const SERVER_FIELDS: &[&str] = &[
    "name",
    "protocol",
    "url",
    "command",
    "args",
    "env",
    "headers",
    "is_active",
    "timeout_ms",
];
const SERVER_READ_ONLY: &[&str] = &[
    "id",
    "status",
    "created_at",
    "updated_at",
    "problems",
    "warnings",
];

impl ServerDraft {
    /// Applies the fields present in `obj`; `existing` is set for updates.
    fn apply(
        &mut self,
        obj: &Map<String, Value>,
        existing: Option<&Server>,
    ) -> Result<(), ApiError> {
        let creating = existing.is_none();
        reject_unknown(obj, SERVER_FIELDS, SERVER_READ_ONLY, !creating)?;
        if creating {
            self.is_active = true;
            self.timeout_ms = DEFAULT_TIMEOUT_MS;
        }
        match string_field(obj, "name")? {
            Some(Some(n)) => {
                if !is_valid_name(&n) {
                    return Err(ApiError::bad_field(
                        "name",
                        "must match ^[A-Za-z0-9][A-Za-z0-9-]{0,31}$ (letters, digits, '-')",
                    ));
                }
                self.name = n;
            }
            Some(None) => return Err(ApiError::bad_field("name", "cannot be null")),
            None if creating => return Err(ApiError::bad_field("name", "is required")),
            None => {}
        }
        match string_field(obj, "protocol")? {
            Some(Some(p)) => {
                self.protocol = Some(Protocol::parse(&p).ok_or_else(|| {
                    ApiError::bad_field("protocol", "must be one of stdio, http, sse")
                })?);
            }
            Some(None) => return Err(ApiError::bad_field("protocol", "cannot be null")),
            None if creating => return Err(ApiError::bad_field("protocol", "is required")),
            None => {}
        }
        // Stored header secrets were given for one origin: they do not follow the URL to
        // another one unless this request gives them again.
        let mut moved = false;
        if let Some(url) = string_field(obj, "url")? {
            moved = existing.is_some_and(|e| {
                !e.headers.is_empty() && origin(e.url.as_deref()) != origin(url.as_deref())
            });
            self.url = url;
        }
        if moved {
            self.headers.clear();
            if matches!(field(obj, "headers"), Field::Absent) {
                self.warnings.push(
                    "the url moved to another origin: the stored headers were dropped; \
                     send them again with the new url if it needs them"
                        .into(),
                );
            }
        }
        let kept_headers = existing.filter(|_| !moved).map(|e| &e.headers);
        if let Some(command) = string_field(obj, "command")? {
            self.command = command;
        }
        match field(obj, "args") {
            Field::Absent => {}
            Field::Null => self.args.clear(),
            Field::Value(Value::Array(items)) => {
                if items.len() > MAX_ARGS {
                    return Err(ApiError::bad_field(
                        "args",
                        format!("at most {MAX_ARGS} items"),
                    ));
                }
                self.args = items
                    .iter()
                    .map(|i| match i {
                        Value::String(s) if !s.contains('\0') && s.len() <= MAX_VALUE => {
                            Ok(s.clone())
                        }
                        _ => Err(ApiError::bad_field(
                            "args",
                            "items must be strings without NUL",
                        )),
                    })
                    .collect::<Result<_, _>>()?;
            }
            Field::Value(_) => {
                return Err(ApiError::bad_field("args", "must be an array of strings"));
            }
        }
        if let Some(env) = secret_map(obj, "env", existing.map(|e| &e.env))? {
            for k in env.keys() {
                let ok = k
                    .bytes()
                    .next()
                    .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
                    && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
                if !ok {
                    return Err(ApiError::bad_field(
                        "env",
                        format!("{k:?} is not a variable name ([A-Za-z_][A-Za-z0-9_]*)"),
                    ));
                }
            }
            self.env = env;
        }
        if let Some(headers) = secret_map(obj, "headers", kept_headers)? {
            for (k, v) in &headers {
                let token = !k.is_empty()
                    && k.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
                if !token {
                    return Err(ApiError::bad_field(
                        "headers",
                        format!("{k:?} is not a header name"),
                    ));
                }
                if RESERVED_HEADERS.contains(&k.to_ascii_lowercase().as_str()) {
                    return Err(ApiError::bad_field(
                        "headers",
                        format!("{k} is set by the gateway and cannot be configured"),
                    ));
                }
                if v.bytes().any(|b| b < 0x20 && b != b'\t' || b == 0x7f) {
                    return Err(ApiError::bad_field(
                        "headers",
                        format!("the value of {k} has control characters"),
                    ));
                }
            }
            self.headers = headers;
        }
        match field(obj, "is_active") {
            Field::Absent => {}
            Field::Value(Value::Bool(b)) => self.is_active = *b,
            _ => return Err(ApiError::bad_field("is_active", "must be true or false")),
        }
        match field(obj, "timeout_ms") {
            Field::Absent => {}
            Field::Value(Value::Number(n)) => match n.as_i64() {
                Some(t) if (1..=MAX_TIMEOUT_MS).contains(&t) => self.timeout_ms = t as i32,
                _ => {
                    return Err(ApiError::bad_field(
                        "timeout_ms",
                        format!("must be a whole number from 1 to {MAX_TIMEOUT_MS}"),
                    ));
                }
            },
            _ => return Err(ApiError::bad_field("timeout_ms", "must be a number")),
        }
        Ok(())
    }

    /// Checks the fields against each other once all are applied.
    fn validate(&self) -> Result<(), ApiError> {
        let Some(protocol) = self.protocol else {
            return Err(ApiError::bad_field("protocol", "is required"));
        };
        match protocol {
            Protocol::Stdio => {
                let Some(cmd) = &self.command else {
                    return Err(ApiError::bad_field(
                        "command",
                        "is required for stdio servers",
                    ));
                };
                if cmd.trim().is_empty() || cmd.len() > MAX_COMMAND || cmd.contains('\0') {
                    return Err(ApiError::bad_field(
                        "command",
                        format!("must be 1 to {MAX_COMMAND} characters without NUL"),
                    ));
                }
                if self.url.is_some() {
                    return Err(ApiError::bad_field(
                        "url",
                        "is not used by stdio servers; send null",
                    ));
                }
                if !self.headers.is_empty() {
                    return Err(ApiError::bad_field(
                        "headers",
                        "are not used by stdio servers; send null",
                    ));
                }
            }
            Protocol::Http | Protocol::Sse => {
                let Some(url) = &self.url else {
                    return Err(ApiError::bad_field(
                        "url",
                        format!("is required for {} servers", protocol.as_str()),
                    ));
                };
                validate_url(url)?;
                if self.command.is_some() || !self.args.is_empty() || !self.env.is_empty() {
                    let f = if self.command.is_some() {
                        "command"
                    } else if !self.args.is_empty() {
                        "args"
                    } else {
                        "env"
                    };
                    return Err(ApiError::bad_field(
                        f,
                        format!(
                            "is only for stdio servers; send null for {} servers",
                            protocol.as_str()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

fn validate_url(url: &str) -> Result<(), ApiError> {
    if url.len() > MAX_URL {
        return Err(ApiError::bad_field(
            "url",
            format!("longer than {MAX_URL} characters"),
        ));
    }
    let uri: hyper::Uri = url
        .parse()
        .map_err(|_| ApiError::bad_field("url", "is not a valid URL"))?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        _ => {
            return Err(ApiError::bad_field(
                "url",
                "must be an http:// or https:// URL",
            ));
        }
    }
    let authority = uri
        .authority()
        .ok_or_else(|| ApiError::bad_field("url", "has no host"))?;
    if authority.as_str().contains('@') {
        return Err(ApiError::bad_field(
            "url",
            "must not carry credentials; put them in headers, which are stored encrypted",
        ));
    }
    if authority.host().is_empty() {
        return Err(ApiError::bad_field("url", "has no host"));
    }
    // The port as written (the URI type drops one that does not fit in 16 bits, and a
    // connection would then go to the scheme's default port instead).
    let written_port = authority
        .as_str()
        .rsplit_once(':')
        .filter(|(_, p)| !p.contains(']'))
        .map(|(_, p)| p);
    if let Some(port) = written_port
        && !matches!(port.parse::<u16>(), Ok(1..))
    {
        return Err(ApiError::bad_field(
            "url",
            format!("has port {port:?}; ports are 1 to 65535"),
        ));
    }
    Ok(())
}

/// Scheme, host and port of a URL (the port its scheme implies when absent), compared
/// to decide whether stored secrets may follow a URL change.
fn origin(url: Option<&str>) -> Option<(String, String, u16)> {
    let uri: hyper::Uri = url?.parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let authority = uri.authority()?;
    let port = authority
        .port_u16()
        .unwrap_or(if scheme == "https" { 443 } else { 80 });
    Some((scheme, authority.host().to_ascii_lowercase(), port))
}

/// A string map of secrets (`env`, `headers`): a value equal to [`MASK`] keeps the stored
/// value for that key, so a masked GET can be sent back unchanged.
fn secret_map(
    obj: &Map<String, Value>,
    name: &str,
    existing: Option<&BTreeMap<String, String>>,
) -> Result<Option<BTreeMap<String, String>>, ApiError> {
    match field(obj, name) {
        Field::Absent => Ok(None),
        Field::Null => Ok(Some(BTreeMap::new())),
        Field::Value(Value::Object(m)) => {
            if m.len() > MAX_MAP_ENTRIES {
                return Err(ApiError::bad_field(
                    name,
                    format!("at most {MAX_MAP_ENTRIES} entries"),
                ));
            }
            let mut out = BTreeMap::new();
            for (k, v) in m {
                let Value::String(v) = v else {
                    return Err(ApiError::bad_field(
                        name,
                        format!("the value of {k} must be a string"),
                    ));
                };
                if v.len() > MAX_VALUE || v.contains('\0') {
                    return Err(ApiError::bad_field(
                        name,
                        format!("the value of {k} is too long or has NUL"),
                    ));
                }
                let value = if v == MASK {
                    match existing.and_then(|e| e.get(k)) {
                        Some(old) => old.clone(),
                        None => {
                            return Err(ApiError::bad_field(
                                name,
                                format!("{k} is masked but has no stored value to keep"),
                            ));
                        }
                    }
                } else {
                    v.clone()
                };
                out.insert(k.clone(), value);
            }
            Ok(Some(out))
        }
        Field::Value(_) => Err(ApiError::bad_field(name, "must be an object of strings")),
    }
}

/// A namespace being created or changed.
#[derive(Default)]
struct NamespaceDraft {
    name: String,
    description: Option<String>,
    servers: Vec<String>,
    prefix_tools: bool,
    auth_required: bool,
    tools: BTreeMap<String, ToolOverride>,
}

impl From<&Namespace> for NamespaceDraft {
    fn from(n: &Namespace) -> Self {
        NamespaceDraft {
            name: n.name.clone(),
            description: n.description.clone(),
            servers: n.servers.clone(),
            prefix_tools: n.prefix_tools,
            auth_required: n.auth_required,
            tools: n.tools.clone(),
        }
    }
}

const NAMESPACE_FIELDS: &[&str] = &[
    "name",
    "description",
    "servers",
    "tool_prefix",
    "auth",
    "tools",
];
const NAMESPACE_READ_ONLY: &[&str] = &["created_at", "updated_at", "problems"];

impl NamespaceDraft {
    fn apply(&mut self, obj: &Map<String, Value>, creating: bool) -> Result<(), ApiError> {
        reject_unknown(obj, NAMESPACE_FIELDS, NAMESPACE_READ_ONLY, !creating)?;
        if creating {
            self.prefix_tools = true;
            self.auth_required = true;
        }
        match string_field(obj, "name")? {
            Some(Some(n)) if creating => {
                if !is_valid_name(&n) {
                    return Err(ApiError::bad_field(
                        "name",
                        "must match ^[A-Za-z0-9][A-Za-z0-9-]{0,31}$ (letters, digits, '-')",
                    ));
                }
                self.name = n;
            }
            Some(Some(n)) if n == self.name => {}
            Some(Some(_)) => {
                return Err(ApiError::bad_field(
                    "name",
                    "cannot be changed; create a new namespace",
                ));
            }
            Some(None) => return Err(ApiError::bad_field("name", "cannot be null")),
            None if creating => return Err(ApiError::bad_field("name", "is required")),
            None => {}
        }
        if let Some(d) = string_field(obj, "description")? {
            if d.as_ref().is_some_and(|d| d.len() > MAX_DESCRIPTION) {
                return Err(ApiError::bad_field(
                    "description",
                    format!("at most {MAX_DESCRIPTION} characters"),
                ));
            }
            self.description = d;
        }
        match field(obj, "servers") {
            Field::Absent => {}
            Field::Null => self.servers.clear(),
            Field::Value(Value::Array(items)) => {
                let mut servers: Vec<String> = Vec::with_capacity(items.len());
                for i in items {
                    let Value::String(s) = i else {
                        return Err(ApiError::bad_field(
                            "servers",
                            "must be an array of server names",
                        ));
                    };
                    if servers.iter().any(|x| x.eq_ignore_ascii_case(s)) {
                        return Err(ApiError::bad_field(
                            "servers",
                            format!("{s:?} is listed twice"),
                        ));
                    }
                    servers.push(s.clone());
                }
                self.servers = servers;
            }
            Field::Value(_) => {
                return Err(ApiError::bad_field(
                    "servers",
                    "must be an array of server names",
                ));
            }
        }
        match string_field(obj, "tool_prefix")?.flatten().as_deref() {
            None => {}
            Some("always") => self.prefix_tools = true,
            Some("never") => self.prefix_tools = false,
            Some(_) => {
                return Err(ApiError::bad_field(
                    "tool_prefix",
                    "must be always or never",
                ));
            }
        }
        match string_field(obj, "auth")?.flatten().as_deref() {
            None => {}
            Some("required") => self.auth_required = true,
            Some("none") => self.auth_required = false,
            Some(_) => return Err(ApiError::bad_field("auth", "must be required or none")),
        }
        match field(obj, "tools") {
            Field::Absent => {}
            Field::Null => self.tools.clear(),
            Field::Value(Value::Object(m)) => {
                let mut tools = BTreeMap::new();
                for (tool, settings) in m {
                    if !is_valid_tool_name(tool) {
                        return Err(ApiError::bad_field(
                            "tools",
                            format!("{tool:?} is not a tool name ([A-Za-z0-9_-]{{1,64}})"),
                        ));
                    }
                    tools.insert(tool.clone(), tool_override(tool, settings)?);
                }
                self.tools = tools;
            }
            Field::Value(_) => return Err(ApiError::bad_field("tools", "must be an object")),
        }
        Ok(())
    }
}

fn tool_override(tool: &str, v: &Value) -> Result<ToolOverride, ApiError> {
    let Value::Object(m) = v else {
        return Err(ApiError::bad_field(
            "tools",
            format!("settings of {tool} must be an object"),
        ));
    };
    let mut o = ToolOverride {
        enabled: true,
        name: None,
        description: None,
    };
    for (k, v) in m {
        match (k.as_str(), v) {
            ("enabled", Value::Bool(b)) => o.enabled = *b,
            ("name", Value::String(n)) if is_valid_tool_name(n) => o.name = Some(n.clone()),
            ("name", Value::Null) | ("description", Value::Null) => {}
            ("description", Value::String(d)) if d.len() <= MAX_VALUE => {
                o.description = Some(d.clone())
            }
            ("enabled" | "name" | "description", _) => {
                return Err(ApiError::bad_field(
                    "tools",
                    format!("{tool}.{k} has the wrong type or an invalid value"),
                ));
            }
            _ => {
                return Err(ApiError::bad_field(
                    "tools",
                    format!("{tool}.{k} is unknown (expected enabled, name, description)"),
                ));
            }
        }
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(v: Value) -> Result<ServerDraft, ApiError> {
        let mut d = ServerDraft::default();
        d.apply(v.as_object().unwrap(), None)?;
        d.validate()?;
        Ok(d)
    }

    fn field_of(r: Result<ServerDraft, ApiError>) -> String {
        match r {
            Err(ApiError::BadRequest { field: Some(f), .. }) => f,
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("accepted"),
        }
    }

    #[test]
    fn server_input_is_checked_field_by_field() {
        let ok = draft(
            json!({"name": "time", "protocol": "stdio", "command": "uvx",
                              "args": ["mcp-server-time"], "env": {"TZ": "UTC"}}),
        )
        .unwrap();
        assert_eq!(ok.timeout_ms, 60_000);
        assert!(ok.is_active);
        assert!(
            draft(
                json!({"name": "w", "protocol": "http", "url": "https://x.test/mcp",
                              "headers": {"Authorization": "Bearer t"}})
            )
            .is_ok()
        );
        for (input, f) in [
            (json!({"protocol": "http", "url": "http://a"}), "name"),
            (
                json!({"name": "a_b", "protocol": "http", "url": "http://a"}),
                "name",
            ),
            (json!({"name": "a", "protocol": "ftp"}), "protocol"),
            (json!({"name": "a", "protocol": "http"}), "url"),
            (
                json!({"name": "a", "protocol": "http", "url": "ftp://a"}),
                "url",
            ),
            (
                json!({"name": "a", "protocol": "http", "url": "http://u:p@a"}),
                "url",
            ),
            (json!({"name": "a", "protocol": "stdio"}), "command"),
            (
                json!({"name": "a", "protocol": "stdio", "command": "x", "url": "http://a"}),
                "url",
            ),
            (
                json!({"name": "a", "protocol": "http", "url": "http://a", "command": "x"}),
                "command",
            ),
            (
                json!({"name": "a", "protocol": "stdio", "command": "x", "env": {"1X": "v"}}),
                "env",
            ),
            (
                json!({"name": "a", "protocol": "http", "url": "http://a", "headers": {"Host": "v"}}),
                "headers",
            ),
            (
                json!({"name": "a", "protocol": "http", "url": "http://a", "timeout_ms": 0}),
                "timeout_ms",
            ),
            (
                json!({"name": "a", "protocol": "http", "url": "http://a", "is_active": "yes"}),
                "is_active",
            ),
            (
                json!({"name": "a", "protocol": "http", "url": "http://a", "colour": "red"}),
                "colour",
            ),
            (
                json!({"name": "a", "protocol": "http", "url": "http://a", "id": "x"}),
                "id",
            ),
        ] {
            assert_eq!(field_of(draft(input.clone())), f, "{input}");
        }
    }

    #[test]
    fn debug_output_never_shows_secret_values() {
        let mut s = ServerDraft::default();
        s.apply(
            json!({"name": "w", "protocol": "http", "url": "http://a", "headers": {"Authorization": "Bearer s3cret"}})
                .as_object()
                .unwrap(),
            None,
        )
        .unwrap();
        let server = Server {
            id: Uuid::nil(),
            name: s.name,
            protocol: Protocol::Http,
            url: s.url,
            command: None,
            args: vec![],
            env: BTreeMap::from([("TOKEN".to_string(), "hunter2".to_string())]),
            headers: s.headers,
            is_active: true,
            timeout_ms: 1,
            created_at: String::new(),
            updated_at: String::new(),
            registered_us: 0,
        };
        let shown = format!("{server:?}");
        assert!(shown.contains("Authorization") && shown.contains("TOKEN"));
        assert!(
            !shown.contains("s3cret") && !shown.contains("hunter2"),
            "{shown}"
        );
    }

    #[test]
    fn masked_secrets_keep_their_stored_values() {
        let existing = Server {
            id: Uuid::nil(),
            name: "w".into(),
            protocol: Protocol::Http,
            url: Some("http://a".into()),
            command: None,
            args: vec![],
            env: BTreeMap::new(),
            headers: BTreeMap::from([("Authorization".to_string(), "Bearer s3cret".to_string())]),
            is_active: true,
            timeout_ms: 1000,
            created_at: String::new(),
            updated_at: String::new(),
            registered_us: 0,
        };
        let public = existing.public_json("running");
        assert!(!public.to_string().contains("s3cret"));
        let mut d = ServerDraft::from(&existing);
        d.apply(public.as_object().unwrap(), Some(&existing))
            .unwrap();
        assert_eq!(d.headers["Authorization"], "Bearer s3cret");
        let mut d = ServerDraft::from(&existing);
        let err = d
            .apply(
                json!({"headers": {"X-New": MASK}}).as_object().unwrap(),
                Some(&existing),
            )
            .err()
            .unwrap();
        assert!(err.to_string().contains("no stored value"));
    }

    #[test]
    fn namespace_input() {
        let mut d = NamespaceDraft::default();
        d.apply(
            json!({"name": "team-a", "servers": ["time"], "tool_prefix": "never", "auth": "none",
                   "tools": {"time__get": {"enabled": false}, "x": {"name": "now", "description": "d"}}})
            .as_object()
            .unwrap(),
            true,
        )
        .unwrap();
        assert!(!d.prefix_tools && !d.auth_required);
        assert!(!d.tools["time__get"].enabled);
        assert_eq!(d.tools["x"].name.as_deref(), Some("now"));
        for bad in [
            json!({"name": "a", "tools": {"t": {"colour": 1}}}),
            json!({"name": "a", "tools": {"bad name": {}}}),
            json!({"name": "a", "servers": ["x", "X"]}),
            json!({"name": "a", "tool_prefix": "sometimes"}),
            json!({"name": "a", "extra": 1}),
        ] {
            let mut d = NamespaceDraft::default();
            assert!(d.apply(bad.as_object().unwrap(), true).is_err(), "{bad}");
        }
    }
}
