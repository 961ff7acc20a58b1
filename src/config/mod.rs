//! Configuration: environment variables (over an optional TOML file), parsed in one pass.
//!
//! Every setting is read through a [`Source`], so tests hand in a map instead of mutating
//! the process environment. Parsing never stops at the first bad value: all problems are
//! collected into [`ConfigErrors`] so an operator fixes them in one round; the binaries
//! print them and exit with status 64 (`EX_USAGE`).
//!
//! # Layout
//! - this file: the variables' names and defaults, [`Config`], and the one parse pass
//!   over every group ([`Config::from_source`]);
//! - [`source`]: where settings come from (environment, TOML file, flags, layered);
//! - [`values`]: how one value is read (sizes, durations, lists, keys), secrets that never
//!   print, and the error list;
//! - [`oauth`]: the resource server's settings (`METAMCP_PUBLIC_URL`, `METAMCP_OAUTH_*`);
//! - [`otel`]: trace export (the standard `OTEL_*` variables);
//! - [`code`]: code mode (`METAMCP_CODE_*`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::model::limits::{self, Defaults, Rate, StreamBounds};

/// Declares settings once: each is a `pub const NAME: &str` with its documentation, and
/// `$list` names them all (what a TOML file may set, and what docs/reference/configuration.md must
/// describe: `tests::every_setting_is_documented`).
macro_rules! settings {
    ($(#[$list_doc:meta])* $list:ident; $($(#[$doc:meta])* $name:ident = $value:literal,)*) => {
        $($(#[$doc])* pub const $name: &str = $value;)*
        $(#[$list_doc])*
        pub const $list: &[&str] = &[$($name),*];
    };
}

pub mod code;
pub mod oauth;
pub mod otel;
mod read;
pub mod source;
pub mod values;

pub use oauth::{Issuer, OAuth};
pub use otel::{
    OTEL_BSP_BATCH, OTEL_BSP_DELAY, OTEL_BSP_QUEUE, OTEL_ENDPOINT, OTEL_HEADERS,
    OTEL_RESOURCE_ATTRIBUTES, OTEL_SAMPLER, OTEL_SAMPLER_ARG, OTEL_SDK_DISABLED, OTEL_SERVICE_NAME,
    OTEL_TIMEOUT, OTEL_TRACES_ENDPOINT, OTEL_TRACES_EXPORTER, OTEL_TRACES_HEADERS, Root, Sampler,
    Tracing,
};
pub use source::{Env, Layered, Source, TomlFile};
pub use values::{
    ConfigError, ConfigErrors, KeyBytes, Secret, parse_duration, parse_key_hex, parse_size,
};

use oauth::{OAuthRaw, ca_file_from, oauth_from};
use otel::{OTEL_KEYS, tracing_from};
use values::{
    Collector, default_hosts, default_origins, on_off, parse_duration_or_zero, parse_list,
    whole_number,
};

settings! {
    /// Every variable of the gateway's own (the tracing ones are in [`otel`]).
    SETTINGS;
    /// Gateway listen address.
    LISTEN = "METAMCP_LISTEN",
    /// PostgreSQL URL; unset means the embedded cluster under the data dir.
    DATABASE_URL = "DATABASE_URL",
    /// Embedded cluster and generated secrets.
    DATA_DIR = "METAMCP_DATA_DIR",
    /// HS256 secret for access tokens.
    JWT_SECRET = "JWT_SECRET",
    /// 32 bytes, hex: the ChaCha20-Poly1305 key for secrets at rest and sealed sessions.
    ENCRYPTION_KEY = "ENCRYPTION_KEY",
    /// Host names accepted in the `Host` header (DNS-rebinding protection).
    ALLOWED_HOSTS = "METAMCP_ALLOWED_HOSTS",
    /// Origins accepted in the `Origin` header.
    ALLOWED_ORIGINS = "METAMCP_ALLOWED_ORIGINS",
    /// Largest request body accepted.
    MAX_BODY = "METAMCP_MAX_BODY",
    /// Largest request head (request line and every header, in bytes): 431 beyond.
    MAX_HEADER_BYTES = "METAMCP_MAX_HEADER_BYTES",
    /// Default request rate of keys that set none (`50/s`, `600/m`; unset: unlimited).
    KEY_RATE = "METAMCP_KEY_RATE",
    /// Default burst of keys that set none (unset: the rate's count).
    KEY_BURST = "METAMCP_KEY_BURST",
    /// Default cap on a key's MCP requests in flight (unset: unlimited).
    KEY_MAX_CONCURRENT = "METAMCP_KEY_MAX_CONCURRENT",
    /// Long-lived streams (GET `/mcp`, `subscriptions/listen`, `/api/v1/events`) one key may
    /// hold open at once.
    KEY_MAX_STREAMS = "METAMCP_KEY_MAX_STREAMS",
    /// Long-lived streams the process holds open at once, over all keys.
    MAX_STREAMS = "METAMCP_MAX_STREAMS",
    /// How long a call whose backend asked the client something waits for a stateless
    /// client's retry (multi-round-trip requests) before it is cancelled upstream.
    MRTR_TTL = "METAMCP_MRTR_TTL",
    /// How long a session client has to answer a policy's confirmation (`elicitation/create`
    /// on the call's stream), and how long a 2026-07-28 client's confirmation state stays good.
    CONFIRM_TIMEOUT = "METAMCP_CONFIRM_TIMEOUT",
    /// How long a 2026-07-28 client may reuse the gateway's lists and `server/discover`
    /// (`ttlMs`; `0`: not at all).
    LIST_TTL = "METAMCP_LIST_TTL",
    /// Calls one key may have waiting for its input at once.
    KEY_MAX_PARKED = "METAMCP_KEY_MAX_PARKED",
    /// Calls waiting for clients' input the process holds at once, over all keys.
    MAX_PARKED = "METAMCP_MAX_PARKED",
    /// Tasks (MCP tasks a backend runs for a client) one key may hold at once.
    KEY_MAX_TASKS = "METAMCP_KEY_MAX_TASKS",
    /// Longest a `tasks/result` waits for its task to end.
    TASK_WAIT = "METAMCP_TASK_WAIT",
    /// Sessions (children, for stdio) one backend may hold besides its main one, each
    /// declaring one set of client capabilities that clients declared (`0`: one session
    /// declaring every capability the gateway routes).
    CAPABILITY_SESSIONS = "METAMCP_CAPABILITY_SESSIONS",
    /// The URL other replicas reach this one at (`http://10.0.3.7:12009`): a retry of a
    /// call waiting here may reach any replica, which passes it on.
    REPLICA_URL = "METAMCP_REPLICA_URL",
    /// How often each replica removes the shared limits' rows nobody holds (replicas gone,
    /// buckets refilled, days past).
    LIMITS_PRUNE_EVERY = "METAMCP_LIMITS_PRUNE_EVERY",
    /// Database connection pool size.
    DB_POOL_SIZE = "METAMCP_DB_POOL_SIZE",
    /// Absolute lifetime of a client session.
    SESSION_TTL = "METAMCP_SESSION_TTL",
    /// Most client connections served at once; more wait in the listen backlog.
    MAX_CONNECTIONS = "METAMCP_MAX_CONNECTIONS",
    /// Most client connections served at once from one address.
    MAX_CONNECTIONS_PER_ADDRESS = "METAMCP_MAX_CONNECTIONS_PER_ADDRESS",
    /// Time a client has to send a request's headers (slowloris protection); also how long
    /// an idle keep-alive connection stays open.
    HEADER_TIMEOUT = "METAMCP_HEADER_TIMEOUT",
    /// Time a client has to send a request's body once its headers have arrived.
    BODY_TIMEOUT = "METAMCP_BODY_TIMEOUT",
    /// After SIGTERM: how long new connections are still served (while `/ready` says 503).
    DRAIN_GRACE = "METAMCP_DRAIN_GRACE",
    /// After the grace: how long requests in flight may take to finish.
    DRAIN_TIMEOUT = "METAMCP_DRAIN_TIMEOUT",
    /// Whether forwarded calls and registry changes are written to the audit table.
    AUDIT = "METAMCP_AUDIT",
    /// How long audit rows are kept (`off`: forever).
    AUDIT_RETENTION = "METAMCP_AUDIT_RETENTION",
    /// Most audit rows held in memory waiting to be written; beyond, rows are dropped and
    /// counted.
    AUDIT_QUEUE = "METAMCP_AUDIT_QUEUE",
    /// Tool search of `/mcp` (every server): `off`, `on` or `auto` (the default: on when the
    /// full tool list would pass 64 KiB).
    TOOL_SEARCH = "METAMCP_TOOL_SEARCH",
    /// How tool search ranks: `hybrid` (the default: words and meaning, a fine-tune of
    /// all-MiniLM-L6-v2) or `lexical` (words alone: no model read, no embeddings computed).
    TOOL_SEARCH_RETRIEVAL = "METAMCP_TOOL_SEARCH_RETRIEVAL",
    /// The folder holding tool search's model (`model.safetensors`, `vocab.txt`); the default
    /// is where the build fetched it.
    TOOL_SEARCH_MODEL = "METAMCP_TOOL_SEARCH_MODEL",
    /// Whether tool search learns, per namespace, from what agents call after a search
    /// (`on`, the default, or `off`: nothing observed, rankings as searched).
    SEARCH_LEARNING = "METAMCP_SEARCH_LEARNING",
    /// Code mode of `/mcp` (`off`, the default, or `on`: `run_code` beside tool search).
    CODE_MODE = "METAMCP_CODE_MODE",
    /// Longest a code run takes, in milliseconds (its interrupt ends it there).
    CODE_TIMEOUT_MS = "METAMCP_CODE_TIMEOUT_MS",
    /// A code run's heap, in MiB.
    CODE_MEMORY_MB = "METAMCP_CODE_MEMORY_MB",
    /// Inner calls (and searches) one code run makes.
    CODE_MAX_CALLS = "METAMCP_CODE_MAX_CALLS",
    /// Largest script `run_code` runs.
    CODE_MAX_BYTES = "METAMCP_CODE_MAX_BYTES",
    /// Largest output of a code run: its logs and its returned JSON.
    CODE_MAX_OUTPUT = "METAMCP_CODE_MAX_OUTPUT",
    /// Code runs one key has at once.
    CODE_RUNS_PER_KEY = "METAMCP_CODE_RUNS_PER_KEY",
    /// Code runs the process has at once, over all keys.
    CODE_RUNS = "METAMCP_CODE_RUNS",
    /// Inner results one code run holds outside its engine at once, in MiB.
    CODE_RESULTS_MB = "METAMCP_CODE_RESULTS_MB",
    /// Inner results every code run together holds outside its engine, in MiB.
    CODE_RESULTS_TOTAL_MB = "METAMCP_CODE_RESULTS_TOTAL_MB",
    /// Log filter (tracing-subscriber `EnvFilter` syntax).
    RUST_LOG = "RUST_LOG",
    /// Optional TOML file whose keys are the variable names above.
    CONFIG_FILE = "METAMCP_CONFIG",
    /// The gateway's public base URL: OAuth resources are `<url>/mcp` and `<url>/mcp/<ns>`.
    PUBLIC_URL = "METAMCP_PUBLIC_URL",
    /// OAuth 2.1 authorization servers whose access tokens are accepted on the MCP
    /// endpoints: a comma-separated list of issuers, each optionally followed by its own
    /// `key=value` mapping (`admin=`, `client=`, `namespaces=`, `jwks=`).
    OAUTH_ISSUER = "METAMCP_OAUTH_ISSUER",
    /// The JWKS URL of the (single) issuer, instead of its metadata's `jwks_uri`.
    OAUTH_JWKS_URL = "METAMCP_OAUTH_JWKS_URL",
    /// The default mapping of token scopes: `admin=mcp:admin client=mcp:use namespaces=groups`.
    OAUTH_SCOPES = "METAMCP_OAUTH_SCOPES",
    /// PEM certificates trusted for `https://` issuers besides the bundled public roots.
    OAUTH_CA_FILE = "METAMCP_OAUTH_CA_FILE",
    /// PEM certificates trusted for `https://` backends besides the bundled public roots.
    BACKEND_CA_FILE = "METAMCP_BACKEND_CA_FILE",
    /// The MCP registry searched and installed from when a call names none (the
    /// official one by default).
    REGISTRY_URL = "METAMCP_REGISTRY_URL",
}

/// Whether a TOML file may set `key`: every setting but the file's own name.
fn file_may_set(key: &str) -> bool {
    key != CONFIG_FILE && (SETTINGS.contains(&key) || OTEL_KEYS.contains(&key))
}

/// Exit status for bad configuration or usage (`EX_USAGE` from sysexits.h).
pub const EXIT_USAGE: i32 = 64;

/// The official MCP Registry.
pub const DEFAULT_REGISTRY_URL: &str = "https://registry.modelcontextprotocol.io";

/// A registry's base URL: `http(s)://host[:port][/path]`, no query, no credentials;
/// without its trailing slash.
pub fn registry_url_of(raw: &str) -> Result<String, String> {
    let url = raw.trim().trim_end_matches('/');
    let uri: hyper::Uri = url.parse().map_err(|_| format!("{raw:?} is not a URL"))?;
    let ok = matches!(uri.scheme_str(), Some("http" | "https"))
        && uri.host().is_some_and(|h| !h.is_empty())
        && uri.query().is_none()
        && uri.authority().is_some_and(|a| !a.as_str().contains('@'));
    if !ok {
        return Err(format!(
            "{raw:?} must be an http(s):// URL without credentials or a query"
        ));
    }
    Ok(url.to_string())
}

/// `METAMCP_REGISTRY_URL`, the official registry when unset.
fn registry_url_from(raw: Option<String>, errs: &mut Collector) -> Option<String> {
    match raw {
        None => Some(DEFAULT_REGISTRY_URL.to_string()),
        Some(u) => errs.check(REGISTRY_URL, registry_url_of(&u)),
    }
}

const DEFAULT_LISTEN: &str = "127.0.0.1:12009";
const DEFAULT_MAX_BODY: usize = 4 * 1024 * 1024;
const MAX_MAX_BODY: usize = 1024 * 1024 * 1024;
const DEFAULT_MAX_HEADER_BYTES: usize = 64 * 1024;
/// hyper's HTTP/1.1 read buffer cannot be smaller than 8 KiB.
const MIN_MAX_HEADER_BYTES: usize = 8 * 1024;
const MAX_MAX_HEADER_BYTES: usize = 1024 * 1024;
const DEFAULT_POOL_SIZE: usize = 16;
const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(24 * 3600);
const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS: usize = 1_024;
const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_DRAIN_GRACE: Duration = Duration::from_secs(2);
const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_AUDIT_RETENTION: Duration = Duration::from_secs(30 * 86_400);
const DEFAULT_AUDIT_QUEUE: usize = 100_000;
const DEFAULT_MRTR_TTL: Duration = Duration::from_secs(300);
const DEFAULT_CONFIRM_TIMEOUT: Duration = Duration::from_secs(120);
const DEFAULT_LIST_TTL: Duration = Duration::from_secs(60);
const DEFAULT_LIMITS_PRUNE_EVERY: Duration = Duration::from_secs(30);
const DEFAULT_KEY_MAX_PARKED: usize = 64;
const DEFAULT_MAX_PARKED: usize = 10_000;
const DEFAULT_KEY_MAX_TASKS: usize = 1_000;
const DEFAULT_TASK_WAIT: Duration = Duration::from_secs(3600);
const DEFAULT_CAPABILITY_SESSIONS: usize = 4;
/// A JWT secret shorter than this is guessable; HS256 wants at least 256 bits.
const MIN_JWT_SECRET: usize = 32;

/// Where the database lives.
#[derive(Clone, Debug)]
pub enum Database {
    /// An external server; nothing is started.
    Url(Box<tokio_postgres::Config>),
    /// The private cluster under `<data dir>/postgres`.
    Embedded,
}

/// The parsed configuration shared by the gateway and keyadm.
#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    pub database: Database,
    pub data_dir: PathBuf,
    /// `None` only in embedded mode, where it is generated into the data dir.
    pub jwt_secret: Option<Secret>,
    /// `None` only in embedded mode, where it is generated into the data dir.
    pub encryption_key: Option<KeyBytes>,
    pub allowed_hosts: Vec<String>,
    pub allowed_origins: Vec<String>,
    pub max_body: usize,
    /// Largest request head in bytes (HTTP/1.1 head, HTTP/2 header list).
    pub max_header_bytes: usize,
    /// Limits of keys that set none of their own.
    pub key_defaults: Defaults,
    /// Long-lived streams per key and in total.
    pub stream_bounds: StreamBounds,
    /// Calls waiting for stateless clients' input.
    pub parked: Parking,
    /// Tasks backends run for clients.
    pub tasks: Tasking,
    /// `ttlMs` of the gateway's lists for 2026-07-28 clients.
    pub list_ttl: Duration,
    /// Sessions per backend for the capability sets clients declare, besides its main.
    pub capability_sessions: usize,
    /// How often the shared limits' rows nobody holds are removed.
    pub limits_prune_every: Duration,
    pub db_pool_size: usize,
    pub session_ttl: Duration,
    pub max_connections: usize,
    pub max_connections_per_address: usize,
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    /// After SIGTERM, new connections are served this long (`/ready` already 503).
    pub drain_grace: Duration,
    /// Then requests in flight have this long to finish.
    pub drain_timeout: Duration,
    /// Forwarded calls and registry changes go to the audit table.
    pub audit: bool,
    /// Tool search of `/mcp` (a namespace has its own `tool_search`).
    pub tool_search: crate::model::ToolSearch,
    /// Whether tool search uses meaning as well as words (`hybrid`, the default).
    pub tool_search_semantic: bool,
    /// Whether tool search learns from the calls that follow searches
    /// (`METAMCP_SEARCH_LEARNING`).
    pub search_learning: bool,
    /// Audit rows older than this are deleted; `None` keeps them.
    pub audit_retention: Option<Duration>,
    /// Most audit rows waiting to be written.
    pub audit_queue: usize,
    /// Code mode of `/mcp`, and every run's bounds (`METAMCP_CODE_*`).
    pub code: code::Code,
    /// OpenTelemetry trace export (the standard `OTEL_*` variables); `None`: off.
    pub tracing: Option<Tracing>,
    /// OAuth 2.1 resource server (`METAMCP_OAUTH_*`); `None`: API keys and our own
    /// tokens only.
    pub oauth: Option<OAuth>,
    /// `METAMCP_PUBLIC_URL` without its trailing slash: where users' browsers reach this
    /// gateway (the upstream OAuth callback and client metadata document live under it).
    pub public_url: Option<String>,
    /// Extra trusted certificates (PEM) for `https://` backends.
    pub backend_ca_file: Option<PathBuf>,
    /// `METAMCP_REGISTRY_URL` without its trailing slash: the default registry.
    pub registry_url: String,
    pub log_filter: String,
}

/// Calls waiting for a stateless client's input (multi-round-trip requests).
#[derive(Clone, Debug)]
pub struct Parking {
    pub ttl: Duration,
    /// How long a policy's confirmation waits for the user ([`CONFIRM_TIMEOUT`]).
    pub confirm_ttl: Duration,
    pub per_key: usize,
    pub total: usize,
    /// Where other replicas reach this one; `None`: the listen address when it is a
    /// specific one, else retries must come back to this replica.
    pub replica_url: Option<String>,
}

/// Tasks backends run for clients (MCP tasks).
#[derive(Clone, Debug)]
pub struct Tasking {
    /// Tasks one key may hold at once (the gateway's record of them, in PostgreSQL).
    pub per_key: usize,
    /// Longest a `tasks/result` waits for its task to end (not the backend's
    /// `timeout_ms`, which bounds one call).
    pub wait: Duration,
}

/// The per-user data directory: `$XDG_DATA_HOME/metamcp`, else
/// `$HOME/.local/share/metamcp` (never the current directory).
pub fn default_data_dir(src: &dyn Source) -> Option<PathBuf> {
    let absolute = |key: &str| {
        src.get(key)
            .and_then(Result::ok)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    absolute("XDG_DATA_HOME")
        .map(|d| d.join("metamcp"))
        .or_else(|| absolute("HOME").map(|h| h.join(".local/share/metamcp")))
}

impl Config {
    /// Parses every setting from `src`, reporting all bad values together.
    pub fn from_source(src: &dyn Source) -> Result<Config, ConfigErrors> {
        let mut errs = Collector::default();
        let mut raw = read::read_raw(src, &mut errs);
        let read::Network {
            listen,
            database,
            data_dir,
            jwt_secret,
            encryption_key,
            allowed_hosts,
            allowed_origins,
            max_body,
            max_header_bytes,
        } = read::network(&mut raw, src, &mut errs);
        let read::Bounds {
            key_defaults,
            stream_bounds,
            parked,
            tasks,
            capability_sessions,
            list_ttl,
            limits_prune_every,
            db_pool_size,
            session_ttl,
            max_connections,
            max_connections_per_address,
            header_timeout,
            body_timeout,
            drain_grace,
            drain_timeout,
            audit,
            audit_retention,
            audit_queue,
        } = read::bounds(&mut raw, &mut errs);
        let code = code::code(&mut raw, &mut errs);
        let backend_ca_raw = raw.take(BACKEND_CA_FILE);
        let registry_url = registry_url_from(raw.take(REGISTRY_URL), &mut errs);
        let log_raw = raw.take(RUST_LOG);
        let (tool_search, tool_search_semantic) = tool_search_from(&mut raw, &mut errs);
        let search_learning = raw
            .take(SEARCH_LEARNING)
            .map_or(Some(true), |s| errs.check(SEARCH_LEARNING, on_off(&s)));
        let (otel, oauth_raw) = (raw.otel, raw.oauth_raw);
        let tracing = tracing_from(
            &mut |k| {
                otel.iter()
                    .find(|(n, _)| *n == k)
                    .and_then(|(_, v)| v.clone())
            },
            &mut errs,
        );
        let public_url = oauth::public_url_of(oauth_raw.public.as_deref());
        // With an issuer, oauth_from names a bad public URL itself.
        if oauth_raw
            .issuers
            .as_deref()
            .is_none_or(|s| s.trim().is_empty())
            && let Some(Err(e)) = &public_url
        {
            errs.push(PUBLIC_URL, e.clone());
        }
        let public_url = public_url.and_then(Result::ok);
        let oauth = oauth_from(oauth_raw, &mut errs);
        let backend_ca_file = ca_file_from(BACKEND_CA_FILE, backend_ca_raw, &mut errs);
        let log_filter = log_raw.unwrap_or_else(|| "info".to_string());
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&log_filter) {
            errs.push(RUST_LOG, format!("bad filter: {e}"));
        }

        match (
            listen,
            database,
            max_body,
            db_pool_size,
            session_ttl,
            max_connections,
            max_connections_per_address,
            header_timeout,
            body_timeout,
        ) {
            (
                Some(listen),
                Some(database),
                Some(max_body),
                Some(db_pool_size),
                Some(session_ttl),
                Some(max_connections),
                Some(max_connections_per_address),
                Some(header_timeout),
                Some(body_timeout),
            ) if errs.0.is_empty() => Ok(Config {
                listen,
                database,
                data_dir,
                jwt_secret,
                encryption_key,
                allowed_hosts,
                allowed_origins,
                max_body,
                max_header_bytes: max_header_bytes.unwrap_or(DEFAULT_MAX_HEADER_BYTES),
                key_defaults,
                stream_bounds,
                parked,
                tasks,
                list_ttl,
                capability_sessions,
                limits_prune_every,
                db_pool_size,
                session_ttl,
                max_connections,
                max_connections_per_address,
                header_timeout,
                body_timeout,
                drain_grace: drain_grace.unwrap_or(DEFAULT_DRAIN_GRACE),
                drain_timeout: drain_timeout.unwrap_or(DEFAULT_DRAIN_TIMEOUT),
                audit: audit.unwrap_or(true),
                tool_search: tool_search.unwrap_or_default(),
                tool_search_semantic: tool_search_semantic.unwrap_or(true),
                search_learning: search_learning.unwrap_or(true),
                audit_retention: audit_retention.unwrap_or(Some(DEFAULT_AUDIT_RETENTION)),
                audit_queue: audit_queue.unwrap_or(DEFAULT_AUDIT_QUEUE),
                code,
                tracing,
                oauth,
                public_url,
                backend_ca_file,
                registry_url: registry_url.unwrap_or_default(),
                log_filter,
            }),
            _ => Err(ConfigErrors(errs.0)),
        }
    }

    /// Reads the environment layered over the TOML file named by `METAMCP_CONFIG`
    /// (or `file`), with `overrides` (command-line flags) on top.
    pub fn load(
        overrides: HashMap<String, String>,
        file: Option<&Path>,
    ) -> Result<Config, ConfigErrors> {
        let file_path = match file {
            Some(p) => Some(p.to_path_buf()),
            None => match Env.get(CONFIG_FILE) {
                Some(Ok(p)) if !p.is_empty() => Some(PathBuf::from(p)),
                Some(Err(e)) => return Err(ConfigErrors::of(CONFIG_FILE, e)),
                _ => None,
            },
        };
        let toml = match file_path {
            Some(p) => TomlFile::load(&p)?,
            None => TomlFile::default(),
        };
        Config::from_source(&Layered(overrides, Layered(Env, toml)))
    }
}

/// Tool search of `/mcp` (`METAMCP_TOOL_SEARCH`) and how it ranks
/// (`METAMCP_TOOL_SEARCH_RETRIEVAL`, the model's folder): whether it ranks by meaning.
fn tool_search_from(
    raw: &mut read::Raw,
    errs: &mut Collector,
) -> (Option<crate::model::ToolSearch>, Option<bool>) {
    let tool_search_raw = raw.take(TOOL_SEARCH);
    let retrieval_raw = raw.take(TOOL_SEARCH_RETRIEVAL);
    let search_model_raw = raw.take(TOOL_SEARCH_MODEL);
    let tool_search = tool_search_raw.map_or(Some(Default::default()), |s| {
        errs.check(
            TOOL_SEARCH,
            crate::model::ToolSearch::parse(s.trim())
                .ok_or_else(|| format!("expected off, on or auto, got {s:?}")),
        )
    });
    let tool_search_semantic = match retrieval_raw.as_deref().map(str::trim) {
        None | Some("hybrid") => {
            if let Some(dir) = search_model_raw.as_deref().map(str::trim) {
                crate::search::semantic::use_model_dir(std::path::PathBuf::from(dir));
            }
            errs.check(
                TOOL_SEARCH_RETRIEVAL,
                crate::search::semantic::check_model(),
            )
            .map(|()| true)
        }
        Some("lexical") => Some(false),
        Some(other) => errs.check(
            TOOL_SEARCH_RETRIEVAL,
            Err(format!("expected hybrid or lexical, got {other:?}")),
        ),
    };
    (tool_search, tool_search_semantic)
}

/// A replica URL: `http://host:port`, no path (the MCP paths are added to it).
fn replica_url(s: &str) -> Result<String, String> {
    let s = s.trim().trim_end_matches('/');
    let rest = s
        .strip_prefix("http://")
        .ok_or("must be an http:// URL (replicas talk on the internal network)")?;
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
        return Err("must be http://host:port with no path, query or user".into());
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests;
