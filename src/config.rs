//! Configuration: environment variables (over an optional TOML file), parsed in one pass.
//!
//! Every setting is read through a [`Source`], so tests hand in a map instead of mutating
//! the process environment. Parsing never stops at the first bad value: all problems are
//! collected into [`ConfigErrors`] so an operator fixes them in one round; the binaries
//! print them and exit with status 64 (`EX_USAGE`).

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use crate::model::limits::{self, Defaults, Rate, Setting, StreamBounds};

/// Gateway listen address.
pub const LISTEN: &str = "METAMCP_LISTEN";
/// PostgreSQL URL; unset means the embedded cluster under the data dir.
pub const DATABASE_URL: &str = "DATABASE_URL";
/// Embedded cluster and generated secrets.
pub const DATA_DIR: &str = "METAMCP_DATA_DIR";
/// HS256 secret for access tokens.
pub const JWT_SECRET: &str = "JWT_SECRET";
/// 32 bytes, hex: the ChaCha20-Poly1305 key for secrets at rest and sealed sessions.
pub const ENCRYPTION_KEY: &str = "ENCRYPTION_KEY";
/// Host names accepted in the `Host` header (DNS-rebinding protection).
pub const ALLOWED_HOSTS: &str = "METAMCP_ALLOWED_HOSTS";
/// Origins accepted in the `Origin` header.
pub const ALLOWED_ORIGINS: &str = "METAMCP_ALLOWED_ORIGINS";
/// Largest request body accepted.
pub const MAX_BODY: &str = "METAMCP_MAX_BODY";
/// Largest request head (request line and every header, in bytes): 431 beyond.
pub const MAX_HEADER_BYTES: &str = "METAMCP_MAX_HEADER_BYTES";
/// Default request rate of keys that set none (`50/s`, `600/m`; unset: unlimited).
pub const KEY_RATE: &str = "METAMCP_KEY_RATE";
/// Default burst of keys that set none (unset: the rate's count).
pub const KEY_BURST: &str = "METAMCP_KEY_BURST";
/// Default cap on a key's MCP requests in flight (unset: unlimited).
pub const KEY_MAX_CONCURRENT: &str = "METAMCP_KEY_MAX_CONCURRENT";
/// Long-lived streams (GET `/mcp`, `subscriptions/listen`, `/api/v1/events`) one key may
/// hold open at once.
pub const KEY_MAX_STREAMS: &str = "METAMCP_KEY_MAX_STREAMS";
/// Long-lived streams the process holds open at once, over all keys.
pub const MAX_STREAMS: &str = "METAMCP_MAX_STREAMS";
/// Database connection pool size.
pub const DB_POOL_SIZE: &str = "METAMCP_DB_POOL_SIZE";
/// Absolute lifetime of a client session.
pub const SESSION_TTL: &str = "METAMCP_SESSION_TTL";
/// Most client connections served at once; more wait in the listen backlog.
pub const MAX_CONNECTIONS: &str = "METAMCP_MAX_CONNECTIONS";
/// Most client connections served at once from one address.
pub const MAX_CONNECTIONS_PER_ADDRESS: &str = "METAMCP_MAX_CONNECTIONS_PER_ADDRESS";
/// Time a client has to send a request's headers (slowloris protection); also how long
/// an idle keep-alive connection stays open.
pub const HEADER_TIMEOUT: &str = "METAMCP_HEADER_TIMEOUT";
/// Time a client has to send a request's body once its headers have arrived.
pub const BODY_TIMEOUT: &str = "METAMCP_BODY_TIMEOUT";
/// After SIGTERM: how long new connections are still served (while `/ready` says 503).
pub const DRAIN_GRACE: &str = "METAMCP_DRAIN_GRACE";
/// After the grace: how long requests in flight may take to finish.
pub const DRAIN_TIMEOUT: &str = "METAMCP_DRAIN_TIMEOUT";
/// Whether forwarded calls and registry changes are written to the audit table.
pub const AUDIT: &str = "METAMCP_AUDIT";
/// How long audit rows are kept (`off`: forever).
pub const AUDIT_RETENTION: &str = "METAMCP_AUDIT_RETENTION";
/// Most audit rows held in memory waiting to be written; beyond, rows are dropped and
/// counted.
pub const AUDIT_QUEUE: &str = "METAMCP_AUDIT_QUEUE";
/// Log filter (tracing-subscriber `EnvFilter` syntax).
pub const RUST_LOG: &str = "RUST_LOG";
/// Optional TOML file whose keys are the variable names above.
pub const CONFIG_FILE: &str = "METAMCP_CONFIG";
/// The gateway's public base URL: OAuth resources are `<url>/mcp` and `<url>/mcp/<ns>`.
pub const PUBLIC_URL: &str = "METAMCP_PUBLIC_URL";
/// OAuth 2.1 authorization servers whose access tokens are accepted on the MCP
/// endpoints: a comma-separated list of issuers, each optionally followed by its own
/// `key=value` mapping (`admin=`, `client=`, `namespaces=`, `jwks=`).
pub const OAUTH_ISSUER: &str = "METAMCP_OAUTH_ISSUER";
/// The JWKS URL of the (single) issuer, instead of its metadata's `jwks_uri`.
pub const OAUTH_JWKS_URL: &str = "METAMCP_OAUTH_JWKS_URL";
/// The default mapping of token scopes: `admin=mcp:admin client=mcp:use namespaces=groups`.
pub const OAUTH_SCOPES: &str = "METAMCP_OAUTH_SCOPES";
/// PEM certificates trusted for `https://` issuers besides the bundled public roots.
pub const OAUTH_CA_FILE: &str = "METAMCP_OAUTH_CA_FILE";
/// PEM certificates trusted for `https://` backends besides the bundled public roots.
pub const BACKEND_CA_FILE: &str = "METAMCP_BACKEND_CA_FILE";

/// Every variable a TOML file may set (everything but the file's own name).
const FILE_KEYS: &[&str] = &[
    LISTEN,
    DATABASE_URL,
    DATA_DIR,
    JWT_SECRET,
    ENCRYPTION_KEY,
    ALLOWED_HOSTS,
    ALLOWED_ORIGINS,
    MAX_BODY,
    MAX_HEADER_BYTES,
    KEY_RATE,
    KEY_BURST,
    KEY_MAX_CONCURRENT,
    KEY_MAX_STREAMS,
    MAX_STREAMS,
    DB_POOL_SIZE,
    SESSION_TTL,
    MAX_CONNECTIONS,
    MAX_CONNECTIONS_PER_ADDRESS,
    HEADER_TIMEOUT,
    BODY_TIMEOUT,
    DRAIN_GRACE,
    DRAIN_TIMEOUT,
    AUDIT,
    AUDIT_RETENTION,
    AUDIT_QUEUE,
    PUBLIC_URL,
    OAUTH_ISSUER,
    OAUTH_JWKS_URL,
    OAUTH_SCOPES,
    OAUTH_CA_FILE,
    BACKEND_CA_FILE,
    OTEL_SDK_DISABLED,
    OTEL_TRACES_EXPORTER,
    OTEL_ENDPOINT,
    OTEL_TRACES_ENDPOINT,
    OTEL_HEADERS,
    OTEL_TRACES_HEADERS,
    OTEL_TIMEOUT,
    OTEL_SERVICE_NAME,
    OTEL_RESOURCE_ATTRIBUTES,
    OTEL_SAMPLER,
    OTEL_SAMPLER_ARG,
    OTEL_BSP_QUEUE,
    OTEL_BSP_BATCH,
    OTEL_BSP_DELAY,
    RUST_LOG,
];

/// Exit status for bad configuration or usage (`EX_USAGE` from sysexits.h).
pub const EXIT_USAGE: i32 = 64;

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
/// A JWT secret shorter than this is guessable; HS256 wants at least 256 bits.
const MIN_JWT_SECRET: usize = 32;

/// Where settings come from.
pub trait Source {
    /// The raw value of `key`, if set. A value that is not UTF-8 is `Some(Err)`.
    fn get(&self, key: &str) -> Option<Result<String, String>>;
}

/// The process environment.
pub struct Env;

impl Source for Env {
    fn get(&self, key: &str) -> Option<Result<String, String>> {
        std::env::var_os(key).map(|v| {
            v.into_string()
                .map_err(|_| "value is not valid UTF-8".to_string())
        })
    }
}

impl Source for HashMap<String, String> {
    fn get(&self, key: &str) -> Option<Result<String, String>> {
        HashMap::get(self, key).cloned().map(Ok)
    }
}

impl<S: Source + ?Sized> Source for &S {
    fn get(&self, key: &str) -> Option<Result<String, String>> {
        (**self).get(key)
    }
}

/// `first` wins over `second`: flags over environment over file.
pub struct Layered<A, B>(pub A, pub B);

impl<A: Source, B: Source> Source for Layered<A, B> {
    fn get(&self, key: &str) -> Option<Result<String, String>> {
        self.0.get(key).or_else(|| self.1.get(key))
    }
}

/// Settings read from a TOML file: a flat table whose keys are the variable names.
#[derive(Debug, Default)]
pub struct TomlFile(HashMap<String, String>);

impl TomlFile {
    /// Reads and checks the file; unknown keys and non-scalar values are errors.
    pub fn load(path: &Path) -> Result<TomlFile, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors::one(CONFIG_FILE, format!("cannot read {}: {e}", path.display()))
        })?;
        Self::parse(&text).map_err(|errs| {
            ConfigErrors(
                errs.0
                    .into_iter()
                    .map(|e| ConfigError {
                        key: format!("{}:{}", path.display(), e.key),
                        message: e.message,
                    })
                    .collect(),
            )
        })
    }

    /// Parses TOML text (see [`TomlFile::load`]).
    pub fn parse(text: &str) -> Result<TomlFile, ConfigErrors> {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigErrors::one("toml", e.message().to_string()))?;
        let mut errors = Vec::new();
        let mut values = HashMap::new();
        for (key, value) in table {
            if !FILE_KEYS.contains(&key.as_str()) {
                errors.push(ConfigError::new(&key, "unknown setting"));
                continue;
            }
            let text = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                toml::Value::Array(items) => {
                    let mut parts = Vec::with_capacity(items.len());
                    for item in items {
                        match item {
                            toml::Value::String(s) => parts.push(s),
                            _ => {
                                errors.push(ConfigError::new(&key, "array items must be strings"));
                                break;
                            }
                        }
                    }
                    parts.join(",")
                }
                _ => {
                    errors.push(ConfigError::new(&key, "must be a string, number or array"));
                    continue;
                }
            };
            values.insert(key, text);
        }
        if errors.is_empty() {
            Ok(TomlFile(values))
        } else {
            Err(ConfigErrors(errors))
        }
    }
}

impl Source for TomlFile {
    fn get(&self, key: &str) -> Option<Result<String, String>> {
        self.0.get(key).cloned().map(Ok)
    }
}

/// A secret string whose `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A 32-byte symmetric key whose `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyBytes(pub [u8; 32]);

impl fmt::Debug for KeyBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyBytes(***)")
    }
}

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
    /// Audit rows older than this are deleted; `None` keeps them.
    pub audit_retention: Option<Duration>,
    /// Most audit rows waiting to be written.
    pub audit_queue: usize,
    /// OpenTelemetry trace export (the standard `OTEL_*` variables); `None`: off.
    pub tracing: Option<Tracing>,
    /// OAuth 2.1 resource server (`METAMCP_OAUTH_*`); `None`: API keys and our own
    /// tokens only.
    pub oauth: Option<OAuth>,
    /// Extra trusted certificates (PEM) for `https://` backends.
    pub backend_ca_file: Option<PathBuf>,
    pub log_filter: String,
}

/// The gateway as an OAuth 2.1 resource server.
#[derive(Debug, Clone, PartialEq)]
pub struct OAuth {
    /// Without a trailing slash.
    pub public_url: String,
    pub issuers: Vec<Issuer>,
    /// Extra trusted certificates (PEM) for `https://` issuers.
    pub ca_file: Option<PathBuf>,
}

/// One accepted authorization server and how its tokens' scopes map to ours.
#[derive(Debug, Clone, PartialEq)]
pub struct Issuer {
    /// Exactly as tokens carry it in `iss`.
    pub issuer: String,
    /// Else discovered from the issuer's metadata.
    pub jwks_url: Option<String>,
    /// The token scope that makes an admin.
    pub admin_scope: String,
    /// The token scope that makes a client.
    pub client_scope: String,
    /// A claim naming the namespaces the caller may use (else: any, within the resource).
    pub namespaces_claim: Option<String>,
    /// The limits each identity of this issuer gets (the process defaults fill in the
    /// rest), as a key's.
    pub limits: crate::model::limits::KeyLimits,
    /// Whose limits they are: each subject's (default), or each client's (every user of
    /// one client application shares them).
    pub limit_by_client: bool,
    /// Whether a token whose `aud` lists other audiences besides this resource is
    /// accepted (`audience=includes`); by default (`audience=exact`) it is refused, so a
    /// token good for other services cannot be replayed here.
    pub audience_includes: bool,
}

impl OAuth {
    /// The resource a request to `/mcp` (`None`) or `/mcp/<ns>` is for.
    pub fn resource(&self, namespace: Option<&str>) -> String {
        match namespace {
            Some(ns) => format!("{}/mcp/{ns}", self.public_url),
            None => format!("{}/mcp", self.public_url),
        }
    }

    /// Its Protected Resource Metadata URL (RFC 9728: the well-known prefix before the
    /// resource's path).
    pub fn metadata_url(&self, namespace: Option<&str>) -> String {
        match namespace {
            Some(ns) => format!(
                "{}/.well-known/oauth-protected-resource/mcp/{ns}",
                self.public_url
            ),
            None => format!(
                "{}/.well-known/oauth-protected-resource/mcp",
                self.public_url
            ),
        }
    }
}

/// An `https://` (or `http://`) URL with a host, checked.
fn oauth_url(s: &str) -> Result<String, String> {
    let s = s.trim().trim_end_matches('/');
    let uri: hyper::Uri = s.parse().map_err(|_| format!("{s:?} is not a URL"))?;
    match uri.scheme_str() {
        Some("http" | "https") if uri.host().is_some() => Ok(s.to_string()),
        _ => Err(format!("{s:?} must be an https:// (or http://) URL")),
    }
}

/// `key=value` words (space or comma separated) over `base`.
fn scope_mapping(base: &Issuer, words: &str) -> Result<Issuer, String> {
    let mut i = base.clone();
    for word in words.split([' ', ',']).filter(|w| !w.is_empty()) {
        let (k, v) = word
            .split_once('=')
            .ok_or_else(|| format!("{word:?}: expected key=value"))?;
        if v.is_empty() {
            return Err(format!("{k}: empty value"));
        }
        match k {
            "admin" => i.admin_scope = v.to_string(),
            "client" => i.client_scope = v.to_string(),
            "namespaces" => i.namespaces_claim = Some(v.to_string()),
            "jwks" => i.jwks_url = Some(oauth_url(v)?),
            "rate" => i.limits.rate = limits::parse_rate_setting(v)?,
            "burst" => {
                let n = whole_number(v, 1_000_000_000)?;
                i.limits.burst = Some(u32::try_from(n).map_err(|_| "burst: too large")?);
            }
            "concurrency" => {
                i.limits.max_concurrent = match limits::parse_count_setting(v, 1_000_000)? {
                    Setting::Is(n) => Setting::Is(u32::try_from(n).unwrap_or(u32::MAX)),
                    Setting::Unlimited => Setting::Unlimited,
                    Setting::Default => Setting::Default,
                }
            }
            "daily" => i.limits.daily_calls = limits::parse_count_setting(v, 1_000_000_000_000)?,
            "limit_by" => {
                i.limit_by_client = match v {
                    "sub" => false,
                    "client_id" => true,
                    _ => return Err(format!("limit_by={v}: expected sub or client_id")),
                }
            }
            "audience" => {
                i.audience_includes = match v {
                    "exact" => false,
                    "includes" => true,
                    _ => return Err(format!("audience={v}: expected exact or includes")),
                }
            }
            _ => {
                return Err(format!(
                    "{k:?}: expected admin, client, namespaces, jwks, rate, burst, \
                     concurrency, daily, limit_by or audience"
                ));
            }
        }
    }
    Ok(i)
}

/// A file of PEM certificates to trust (`key`'s value), checked: it must hold one.
fn ca_file_from(key: &str, raw: Option<String>, errs: &mut Collector) -> Option<PathBuf> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let f = PathBuf::from(raw.filter(|s| !s.trim().is_empty())?);
    let certs = CertificateDer::pem_file_iter(&f)
        .map_err(|e| format!("{}: {e}", f.display()))
        .and_then(|it| {
            it.collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("{}: {e}", f.display()))
        });
    match certs {
        Ok(c) if c.is_empty() => {
            errs.push(key, format!("{}: no PEM certificate in it", f.display()))
        }
        Ok(_) => {}
        Err(e) => errs.push(key, e),
    }
    Some(f)
}

/// The raw `METAMCP_OAUTH_*` settings and the public URL.
struct OAuthRaw {
    public: Option<String>,
    issuers: Option<String>,
    jwks: Option<String>,
    scopes: Option<String>,
    ca_file: Option<String>,
}

fn oauth_from(raw: OAuthRaw, errs: &mut Collector) -> Option<OAuth> {
    let OAuthRaw {
        public,
        issuers,
        jwks,
        scopes,
        ca_file,
    } = raw;
    let ca_file = ca_file_from(OAUTH_CA_FILE, ca_file, errs);
    let issuers = issuers.filter(|s| !s.trim().is_empty())?;
    let base = Issuer {
        issuer: String::new(),
        jwks_url: None,
        admin_scope: "mcp:admin".into(),
        client_scope: "mcp:use".into(),
        namespaces_claim: None,
        limits: limits::KeyLimits::default(),
        limit_by_client: false,
        audience_includes: false,
    };
    let base = match scopes {
        Some(s) => errs.check(OAUTH_SCOPES, scope_mapping(&base, &s))?,
        None => base,
    };
    let mut list = Vec::new();
    for item in issuers.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (url, words) = item.split_once(' ').unwrap_or((item, ""));
        let Some(url) = errs.check(OAUTH_ISSUER, oauth_url(url)) else {
            continue;
        };
        if let Some(mut i) = errs.check(OAUTH_ISSUER, scope_mapping(&base, words)) {
            i.issuer = url;
            list.push(i);
        }
    }
    if let Some(j) = jwks.filter(|s| !s.trim().is_empty()) {
        match list.as_mut_slice() {
            [only] => only.jwks_url = errs.check(OAUTH_JWKS_URL, oauth_url(&j)),
            _ => errs.push(
                OAUTH_JWKS_URL,
                "only with one issuer (give each issuer its own jwks= in METAMCP_OAUTH_ISSUER)",
            ),
        }
    }
    let Some(public) = public.filter(|s| !s.trim().is_empty()) else {
        errs.push(
            PUBLIC_URL,
            "required with METAMCP_OAUTH_ISSUER: tokens must name this gateway as their audience",
        );
        return None;
    };
    let public = public.trim().trim_end_matches('/');
    let ok = public
        .parse::<hyper::Uri>()
        .is_ok_and(|u| matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some());
    if !ok {
        errs.push(PUBLIC_URL, format!("{public:?} must be an http(s):// URL"));
        return None;
    }
    Some(OAuth {
        public_url: public.to_string(),
        issuers: list,
        ca_file,
    })
}

/// Where and how spans are exported (OTLP/HTTP with protobuf).
#[derive(Debug, Clone, PartialEq)]
pub struct Tracing {
    /// `host:port` of the collector (plain HTTP).
    pub authority: String,
    /// The path spans are POSTed to (`/v1/traces` under `OTEL_EXPORTER_OTLP_ENDPOINT`).
    pub path: String,
    /// Extra request headers (`OTEL_EXPORTER_OTLP_HEADERS`): never logged.
    pub headers: Vec<(String, String)>,
    pub service_name: String,
    /// Resource attributes besides `service.name`.
    pub resource: Vec<(String, String)>,
    pub sampler: Sampler,
    /// Spans waiting for export at most (`OTEL_BSP_MAX_QUEUE_SIZE`); beyond: dropped.
    pub queue: usize,
    /// Spans per export request (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`).
    pub batch: usize,
    /// The longest a span waits for its batch (`OTEL_BSP_SCHEDULE_DELAY`).
    pub delay: Duration,
    /// How long one export may take (`OTEL_EXPORTER_OTLP_TIMEOUT`).
    pub timeout: Duration,
}

/// Which requests are recorded (`OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sampler {
    AlwaysOn,
    AlwaysOff,
    /// A fraction of traces, chosen by trace id.
    Ratio(f64),
    /// The caller's decision when it sent one, else the root sampler's.
    ParentBased(Root),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Root {
    AlwaysOn,
    AlwaysOff,
    Ratio(f64),
}

pub const OTEL_SDK_DISABLED: &str = "OTEL_SDK_DISABLED";
pub const OTEL_TRACES_EXPORTER: &str = "OTEL_TRACES_EXPORTER";
pub const OTEL_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
pub const OTEL_TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
pub const OTEL_HEADERS: &str = "OTEL_EXPORTER_OTLP_HEADERS";
pub const OTEL_TRACES_HEADERS: &str = "OTEL_EXPORTER_OTLP_TRACES_HEADERS";
pub const OTEL_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TIMEOUT";
pub const OTEL_SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
pub const OTEL_RESOURCE_ATTRIBUTES: &str = "OTEL_RESOURCE_ATTRIBUTES";
pub const OTEL_SAMPLER: &str = "OTEL_TRACES_SAMPLER";
pub const OTEL_SAMPLER_ARG: &str = "OTEL_TRACES_SAMPLER_ARG";
pub const OTEL_BSP_QUEUE: &str = "OTEL_BSP_MAX_QUEUE_SIZE";
pub const OTEL_BSP_BATCH: &str = "OTEL_BSP_MAX_EXPORT_BATCH_SIZE";
pub const OTEL_BSP_DELAY: &str = "OTEL_BSP_SCHEDULE_DELAY";
const OTEL_KEYS: [&str; 14] = [
    OTEL_SDK_DISABLED,
    OTEL_TRACES_EXPORTER,
    OTEL_ENDPOINT,
    OTEL_TRACES_ENDPOINT,
    OTEL_HEADERS,
    OTEL_TRACES_HEADERS,
    OTEL_TIMEOUT,
    OTEL_SERVICE_NAME,
    OTEL_RESOURCE_ATTRIBUTES,
    OTEL_SAMPLER,
    OTEL_SAMPLER_ARG,
    OTEL_BSP_QUEUE,
    OTEL_BSP_BATCH,
    OTEL_BSP_DELAY,
];

/// `k=v,k2=v2` with percent-encoded values (the OTel list format).
fn otel_pairs(s: &str) -> Result<Vec<(String, String)>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| format!("expected key=value, got {pair:?}"))?;
            let v = percent_decode(v.trim())
                .ok_or_else(|| format!("bad percent-encoding in {pair:?}"))?;
            let k = k.trim();
            if k.is_empty() {
                return Err(format!("empty key in {pair:?}"));
            }
            Ok((k.to_string(), v))
        })
        .collect()
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `http://host:port[/path]` → (`host:port`, path). Only plain HTTP: put a local
/// collector in front of a TLS one.
fn otlp_endpoint(s: &str, traces_path: bool) -> Result<(String, String), String> {
    let rest = s
        .trim()
        .strip_prefix("http://")
        .ok_or_else(|| format!("expected http://host:port (OTLP over TLS is not supported; use a local collector), got {s:?}"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if authority.is_empty() || authority.contains(['@', '?', '#', ' ']) {
        return Err(format!("bad host in {s:?}"));
    }
    let authority = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let path = if traces_path {
        format!("{}/v1/traces", path.trim_end_matches('/'))
    } else if path.is_empty() {
        "/".to_string()
    } else {
        path.to_string()
    };
    Ok((authority, path))
}

fn otel_sampler(name: Option<&str>, arg: Option<&str>) -> Result<Sampler, String> {
    let ratio = || -> Result<f64, String> {
        match arg {
            None => Ok(1.0),
            Some(a) => a
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|r| (0.0..=1.0).contains(r))
                .ok_or_else(|| {
                    format!("{OTEL_SAMPLER_ARG}: expected a ratio from 0 to 1, got {a:?}")
                }),
        }
    };
    Ok(
        match name.map(str::trim).unwrap_or("parentbased_always_on") {
            "always_on" => Sampler::AlwaysOn,
            "always_off" => Sampler::AlwaysOff,
            "traceidratio" => Sampler::Ratio(ratio()?),
            "parentbased_always_on" => Sampler::ParentBased(Root::AlwaysOn),
            "parentbased_always_off" => Sampler::ParentBased(Root::AlwaysOff),
            "parentbased_traceidratio" => Sampler::ParentBased(Root::Ratio(ratio()?)),
            other => {
                return Err(format!(
                    "unknown sampler {other:?} (always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio)"
                ));
            }
        },
    )
}

/// The tracing settings, or `None` when no OTLP endpoint is set (or export is off).
fn tracing_from(
    get: &mut dyn FnMut(&'static str) -> Option<String>,
    errs: &mut Collector,
) -> Option<Tracing> {
    let disabled = get(OTEL_SDK_DISABLED).is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    let exporter = get(OTEL_TRACES_EXPORTER);
    match exporter.as_deref().map(str::trim) {
        None | Some("otlp") => {}
        Some("none") => return None,
        Some(other) => {
            errs.push(
                OTEL_TRACES_EXPORTER,
                format!("only otlp or none, got {other:?}"),
            );
            return None;
        }
    }
    let (key, raw, traces_path) = match (get(OTEL_TRACES_ENDPOINT), get(OTEL_ENDPOINT)) {
        (Some(t), _) if !t.trim().is_empty() => (OTEL_TRACES_ENDPOINT, t, false),
        (_, Some(e)) if !e.trim().is_empty() => (OTEL_ENDPOINT, e, true),
        _ => return None,
    };
    let endpoint = errs.check(key, otlp_endpoint(&raw, traces_path));
    let mut headers = Vec::new();
    for k in [OTEL_HEADERS, OTEL_TRACES_HEADERS] {
        if let Some(h) = get(k)
            && let Some(pairs) = errs.check(k, otel_pairs(&h))
        {
            headers.extend(pairs);
        }
    }
    let resource = get(OTEL_RESOURCE_ATTRIBUTES)
        .and_then(|r| errs.check(OTEL_RESOURCE_ATTRIBUTES, otel_pairs(&r)))
        .unwrap_or_default();
    let service_name = get(OTEL_SERVICE_NAME)
        .filter(|s| !s.trim().is_empty())
        .or_else(|| {
            resource
                .iter()
                .find(|(k, _)| k == "service.name")
                .map(|(_, v)| v.clone())
        })
        .unwrap_or_else(|| "metamcp".to_string());
    let resource = resource
        .into_iter()
        .filter(|(k, _)| k != "service.name")
        .collect();
    let sampler_arg = get(OTEL_SAMPLER_ARG);
    let sampler = errs.check(
        OTEL_SAMPLER,
        otel_sampler(get(OTEL_SAMPLER).as_deref(), sampler_arg.as_deref()),
    );
    let mut number = |k: &'static str, default: usize, max: usize| {
        get(k).map_or(Some(default), |v| errs.check(k, whole_number(&v, max)))
    };
    let queue = number(OTEL_BSP_QUEUE, 2048, 1_000_000);
    let batch = number(OTEL_BSP_BATCH, 512, 100_000);
    let delay = number(OTEL_BSP_DELAY, 5000, 3_600_000);
    let timeout = number(OTEL_TIMEOUT, 10_000, 3_600_000);
    if disabled {
        return None;
    }
    let (authority, path) = endpoint?;
    let queue = queue?.max(1);
    Some(Tracing {
        authority,
        path,
        headers,
        service_name,
        resource,
        sampler: sampler?,
        queue,
        batch: batch?.clamp(1, queue),
        delay: Duration::from_millis(delay? as u64),
        timeout: Duration::from_millis(timeout?.max(1) as u64),
    })
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
        let mut get = |key: &'static str| -> Option<String> {
            match src.get(key) {
                None => None,
                Some(Ok(v)) => Some(v),
                Some(Err(e)) => {
                    errs.push(key, e);
                    None
                }
            }
        };
        let listen_raw = get(LISTEN);
        let url_raw = get(DATABASE_URL).filter(|s| !s.trim().is_empty());
        let data_raw = get(DATA_DIR);
        let jwt_raw = get(JWT_SECRET).filter(|s| !s.is_empty());
        let enc_raw = get(ENCRYPTION_KEY).filter(|s| !s.is_empty());
        let hosts_raw = get(ALLOWED_HOSTS);
        let origins_raw = get(ALLOWED_ORIGINS);
        let body_raw = get(MAX_BODY);
        let head_raw = get(MAX_HEADER_BYTES);
        let key_rate_raw = get(KEY_RATE).filter(|s| !s.trim().is_empty());
        let key_burst_raw = get(KEY_BURST).filter(|s| !s.trim().is_empty());
        let key_conc_raw = get(KEY_MAX_CONCURRENT).filter(|s| !s.trim().is_empty());
        let key_streams_raw = get(KEY_MAX_STREAMS);
        let streams_raw = get(MAX_STREAMS);
        let pool_raw = get(DB_POOL_SIZE);
        let ttl_raw = get(SESSION_TTL);
        let conns_raw = get(MAX_CONNECTIONS);
        let per_address_raw = get(MAX_CONNECTIONS_PER_ADDRESS);
        let header_raw = get(HEADER_TIMEOUT);
        let body_timeout_raw = get(BODY_TIMEOUT);
        let grace_raw = get(DRAIN_GRACE);
        let drain_raw = get(DRAIN_TIMEOUT);
        let audit_raw = get(AUDIT);
        let retention_raw = get(AUDIT_RETENTION);
        let audit_queue_raw = get(AUDIT_QUEUE);
        let log_raw = get(RUST_LOG);
        let backend_ca_raw = get(BACKEND_CA_FILE);
        let oauth_raw = OAuthRaw {
            public: get(PUBLIC_URL),
            issuers: get(OAUTH_ISSUER),
            jwks: get(OAUTH_JWKS_URL),
            scopes: get(OAUTH_SCOPES),
            ca_file: get(OAUTH_CA_FILE),
        };
        let otel: Vec<(&'static str, Option<String>)> =
            OTEL_KEYS.iter().map(|k| (*k, get(k))).collect();

        let listen = errs.check(
            LISTEN,
            listen_raw
                .as_deref()
                .unwrap_or(DEFAULT_LISTEN)
                .trim()
                .parse::<SocketAddr>()
                .map_err(|_| "expected an address like 127.0.0.1:12009".to_string()),
        );
        let database = match &url_raw {
            None => Some(Database::Embedded),
            Some(url) => errs.check(
                DATABASE_URL,
                tokio_postgres::Config::from_str(url)
                    .map(|c| Database::Url(Box::new(c)))
                    .map_err(|e| format!("not a PostgreSQL URL: {e}")),
            ),
        };
        let data_dir = match data_raw.filter(|d| !d.trim().is_empty()) {
            Some(d) => PathBuf::from(d),
            None => match default_data_dir(src) {
                Some(d) => d,
                None if url_raw.is_some() => PathBuf::from("/nonexistent/metamcp"),
                None => {
                    errs.push(
                        DATA_DIR,
                        "no data directory: set METAMCP_DATA_DIR (or HOME, for the per-user default)"
                            .to_string(),
                    );
                    PathBuf::new()
                }
            },
        };
        let jwt_secret = jwt_raw.and_then(|s| {
            errs.check(
                JWT_SECRET,
                if s.len() < MIN_JWT_SECRET {
                    Err(format!("must be at least {MIN_JWT_SECRET} bytes"))
                } else {
                    Ok(Secret(s))
                },
            )
        });
        let encryption_key = enc_raw.and_then(|s| {
            errs.check(
                ENCRYPTION_KEY,
                parse_key_hex(&s).map(KeyBytes).ok_or_else(|| {
                    "must be 64 hex digits (32 bytes); generate one with `openssl rand -hex 32`"
                        .to_string()
                }),
            )
        });
        if url_raw.is_some() {
            if jwt_secret.is_none() && !errs.has(JWT_SECRET) {
                errs.push(JWT_SECRET, "required when DATABASE_URL is set");
            }
            if encryption_key.is_none() && !errs.has(ENCRYPTION_KEY) {
                errs.push(ENCRYPTION_KEY, "required when DATABASE_URL is set");
            }
        }
        let allowed_hosts = match hosts_raw {
            None => default_hosts(),
            Some(s) => errs
                .check(ALLOWED_HOSTS, parse_list(&s))
                .unwrap_or_default(),
        };
        let allowed_origins = match origins_raw {
            None => default_origins(),
            Some(s) => errs
                .check(ALLOWED_ORIGINS, parse_list(&s))
                .unwrap_or_default(),
        };
        let max_body = body_raw.map_or(Some(DEFAULT_MAX_BODY), |s| {
            errs.check(
                MAX_BODY,
                parse_size(&s).and_then(|n| {
                    if n == 0 || n > MAX_MAX_BODY {
                        Err("must be between 1 byte and 1GiB".to_string())
                    } else {
                        Ok(n)
                    }
                }),
            )
        });
        let max_header_bytes = head_raw.map_or(Some(DEFAULT_MAX_HEADER_BYTES), |s| {
            errs.check(
                MAX_HEADER_BYTES,
                parse_size(&s).and_then(|n| {
                    if (MIN_MAX_HEADER_BYTES..=MAX_MAX_HEADER_BYTES).contains(&n) {
                        Ok(n)
                    } else {
                        Err("must be between 8KiB and 1MiB".to_string())
                    }
                }),
            )
        });
        let key_defaults = Defaults {
            rate: key_rate_raw.and_then(|s| errs.check(KEY_RATE, Rate::parse(&s))),
            burst: key_burst_raw.and_then(|s| {
                errs.check(KEY_BURST, whole_number(&s, 1_000_000_000))
                    .and_then(|n| u32::try_from(n).ok())
            }),
            max_concurrent: key_conc_raw.and_then(|s| {
                errs.check(KEY_MAX_CONCURRENT, whole_number(&s, 1_000_000))
                    .and_then(|n| u32::try_from(n).ok())
            }),
        };
        let stream_bounds = StreamBounds {
            per_key: key_streams_raw
                .and_then(|s| errs.check(KEY_MAX_STREAMS, whole_number(&s, 1_000_000)))
                .map_or(limits::DEFAULT_KEY_MAX_STREAMS, |n| n as u32),
            total: streams_raw
                .and_then(|s| errs.check(MAX_STREAMS, whole_number(&s, 10_000_000)))
                .map_or(limits::DEFAULT_MAX_STREAMS, |n| n as u32),
        };
        let db_pool_size = pool_raw.map_or(Some(DEFAULT_POOL_SIZE), |s| {
            errs.check(DB_POOL_SIZE, whole_number(&s, 1000))
        });
        let session_ttl = ttl_raw.map_or(Some(DEFAULT_SESSION_TTL), |s| {
            errs.check(SESSION_TTL, parse_duration(&s))
        });
        let max_connections = conns_raw.map_or(Some(DEFAULT_MAX_CONNECTIONS), |s| {
            errs.check(MAX_CONNECTIONS, whole_number(&s, 1_000_000))
        });
        let max_connections_per_address = per_address_raw
            .map_or(Some(DEFAULT_MAX_CONNECTIONS_PER_ADDRESS), |s| {
                errs.check(MAX_CONNECTIONS_PER_ADDRESS, whole_number(&s, 1_000_000))
            });
        let header_timeout = header_raw.map_or(Some(DEFAULT_HEADER_TIMEOUT), |s| {
            errs.check(HEADER_TIMEOUT, parse_duration(&s))
        });
        let body_timeout = body_timeout_raw.map_or(Some(DEFAULT_BODY_TIMEOUT), |s| {
            errs.check(BODY_TIMEOUT, parse_duration(&s))
        });
        let drain_grace = grace_raw.map_or(Some(DEFAULT_DRAIN_GRACE), |s| {
            errs.check(DRAIN_GRACE, parse_duration_or_zero(&s))
        });
        let drain_timeout = drain_raw.map_or(Some(DEFAULT_DRAIN_TIMEOUT), |s| {
            errs.check(DRAIN_TIMEOUT, parse_duration(&s))
        });
        let audit = audit_raw.map_or(Some(true), |s| errs.check(AUDIT, on_off(&s)));
        let audit_retention = retention_raw.map_or(Some(Some(DEFAULT_AUDIT_RETENTION)), |s| {
            if s.trim().eq_ignore_ascii_case("off") {
                Some(None)
            } else {
                errs.check(AUDIT_RETENTION, parse_duration(&s)).map(Some)
            }
        });
        let audit_queue = audit_queue_raw.map_or(Some(DEFAULT_AUDIT_QUEUE), |s| {
            errs.check(AUDIT_QUEUE, whole_number(&s, 10_000_000))
        });
        let tracing = tracing_from(
            &mut |k| {
                otel.iter()
                    .find(|(n, _)| *n == k)
                    .and_then(|(_, v)| v.clone())
            },
            &mut errs,
        );
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
                db_pool_size,
                session_ttl,
                max_connections,
                max_connections_per_address,
                header_timeout,
                body_timeout,
                drain_grace: drain_grace.unwrap_or(DEFAULT_DRAIN_GRACE),
                drain_timeout: drain_timeout.unwrap_or(DEFAULT_DRAIN_TIMEOUT),
                audit: audit.unwrap_or(true),
                audit_retention: audit_retention.unwrap_or(Some(DEFAULT_AUDIT_RETENTION)),
                audit_queue: audit_queue.unwrap_or(DEFAULT_AUDIT_QUEUE),
                tracing,
                oauth,
                backend_ca_file,
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
                Some(Err(e)) => return Err(ConfigErrors::one(CONFIG_FILE, e)),
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

/// Collects bad settings while parsing goes on.
#[derive(Default)]
struct Collector(Vec<ConfigError>);

impl Collector {
    fn push(&mut self, key: &str, message: impl Into<String>) {
        self.0.push(ConfigError::new(key, message));
    }

    fn has(&self, key: &str) -> bool {
        self.0.iter().any(|e| e.key == key)
    }

    fn check<T>(&mut self, key: &str, r: Result<T, String>) -> Option<T> {
        r.map_err(|message| self.push(key, message)).ok()
    }
}

fn default_hosts() -> Vec<String> {
    ["localhost", "127.0.0.1", "[::1]"]
        .map(String::from)
        .to_vec()
}

fn default_origins() -> Vec<String> {
    [
        "http://localhost",
        "http://127.0.0.1",
        "http://[::1]",
        "https://localhost",
        "https://127.0.0.1",
        "https://[::1]",
    ]
    .map(String::from)
    .to_vec()
}

/// A comma-separated list with blanks dropped; empty entries are an error.
fn parse_list(s: &str) -> Result<Vec<String>, String> {
    let items: Vec<String> = s.split(',').map(|p| p.trim().to_string()).collect();
    if items
        .iter()
        .any(|i| i.is_empty() || i.contains(char::is_whitespace))
    {
        return Err("expected a comma-separated list without empty entries".to_string());
    }
    Ok(items)
}

/// Decodes exactly 64 hex digits into 32 bytes.
pub fn parse_key_hex(s: &str) -> Option<[u8; 32]> {
    let s = s.trim().as_bytes();
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in s.chunks_exact(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

/// Parses `4MiB`, `512 KiB`, `1048576`, `10MB`, `2G` into bytes.
pub fn parse_size(s: &str) -> Result<usize, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: usize = num
        .parse()
        .map_err(|_| format!("expected a size like 4MiB, got {s:?}"))?;
    let mult: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => return Err(format!("unknown size unit in {s:?} (use B, KiB, MiB, GiB)")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("size {s:?} is too large"))
}

/// A whole number from 1 to `max`.
fn whole_number(s: &str, max: usize) -> Result<usize, String> {
    s.trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| format!("must be a whole number from 1 to {max}"))
}

/// Parses `90s`, `15m`, `24h`, `7d` or a plain number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("expected a duration like 24h, got {s:?}"))?;
    let millis = match unit.trim() {
        "ms" => 1,
        "" | "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => {
            return Err(format!(
                "unknown duration unit in {s:?} (use ms, s, m, h, d)"
            ));
        }
    };
    match n.checked_mul(millis) {
        Some(0) | None => Err(format!("duration {s:?} must be positive and finite")),
        Some(total) => Ok(Duration::from_millis(total)),
    }
}

/// `on`/`off` (also `true`/`false`, `1`/`0`).
fn on_off(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "on" | "true" | "1" | "yes" => Ok(true),
        "off" | "false" | "0" | "no" => Ok(false),
        _ => Err(format!("expected on or off, got {s:?}")),
    }
}

/// A duration that may also be zero (`0`, `0s`).
fn parse_duration_or_zero(s: &str) -> Result<Duration, String> {
    match parse_duration(s) {
        Err(e) => {
            let t = s.trim();
            let rest = t.trim_start_matches('0');
            // All zeros with a valid unit: zero.
            if rest.len() < t.len()
                && !rest.starts_with(|c: char| c.is_ascii_digit())
                && parse_duration(&format!("1{rest}")).is_ok()
            {
                Ok(Duration::ZERO)
            } else {
                Err(e)
            }
        }
        ok => ok,
    }
}

/// One bad setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

impl ConfigError {
    fn new(key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            key: key.to_string(),
            message: message.into(),
        }
    }
}

/// Every bad setting found in one pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    pub fn one(key: &str, message: impl Into<String>) -> ConfigErrors {
        ConfigErrors(vec![ConfigError::new(key, message)])
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "configuration error: {}: {}", e.key, e.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn oauth_issuers_parse_with_their_own_mappings_and_bad_ones_are_named() {
        let oauth = |pairs: &[(&str, &str)]| {
            let mut all = vec![("HOME", "/h")];
            all.extend_from_slice(pairs);
            Config::from_source(&map(&all)).map(|c| c.oauth)
        };
        assert_eq!(oauth(&[]).unwrap(), None);
        let o = oauth(&[
            (PUBLIC_URL, "https://gw.example/"),
            (
                OAUTH_ISSUER,
                "http://a.test/, http://b.test/t admin=b:admin namespaces=groups rate=10/m limit_by=client_id",
            ),
            (OAUTH_SCOPES, "client=use"),
        ])
        .unwrap()
        .expect("oauth");
        assert_eq!(o.public_url, "https://gw.example");
        assert_eq!(o.resource(Some("x")), "https://gw.example/mcp/x");
        assert_eq!(
            o.metadata_url(None),
            "https://gw.example/.well-known/oauth-protected-resource/mcp"
        );
        let (a, b) = (&o.issuers[0], &o.issuers[1]);
        assert_eq!(
            (
                a.issuer.as_str(),
                a.admin_scope.as_str(),
                a.client_scope.as_str()
            ),
            ("http://a.test", "mcp:admin", "use")
        );
        assert_eq!(
            (
                b.issuer.as_str(),
                b.admin_scope.as_str(),
                b.client_scope.as_str()
            ),
            ("http://b.test/t", "b:admin", "use")
        );
        assert_eq!(b.namespaces_claim.as_deref(), Some("groups"));
        assert!(b.limit_by_client && !a.limit_by_client);
        assert!(matches!(b.limits.rate, Setting::Is(_)));
        for (pairs, key) in [
            (vec![(OAUTH_ISSUER, "http://a.test")], PUBLIC_URL),
            (
                vec![(OAUTH_ISSUER, "a.test"), (PUBLIC_URL, "http://g")],
                OAUTH_ISSUER,
            ),
            (
                vec![(OAUTH_ISSUER, "ftp://a.test"), (PUBLIC_URL, "http://g")],
                OAUTH_ISSUER,
            ),
            (
                vec![
                    (OAUTH_ISSUER, "https://a.test"),
                    (PUBLIC_URL, "http://g"),
                    (OAUTH_CA_FILE, "/nonexistent/ca.pem"),
                ],
                OAUTH_CA_FILE,
            ),
            (
                vec![
                    (OAUTH_ISSUER, "http://a.test bogus=1"),
                    (PUBLIC_URL, "http://g"),
                ],
                OAUTH_ISSUER,
            ),
            (
                vec![
                    (OAUTH_ISSUER, "http://a,http://b"),
                    (OAUTH_JWKS_URL, "http://j"),
                    (PUBLIC_URL, "http://g"),
                ],
                OAUTH_JWKS_URL,
            ),
            (
                vec![
                    (OAUTH_ISSUER, "http://a"),
                    (OAUTH_SCOPES, "admin"),
                    (PUBLIC_URL, "http://g"),
                ],
                OAUTH_SCOPES,
            ),
        ] {
            let e = oauth(&pairs).unwrap_err();
            assert!(e.0.iter().any(|e| e.key == key), "{pairs:?}: {e}");
        }
    }

    /// The tracing settings `pairs` give (with a data dir), or the keys they are wrong in.
    fn tracing(pairs: &[(&str, &str)]) -> Result<Option<Tracing>, Vec<String>> {
        let mut all = vec![(DATA_DIR, "/d")];
        all.extend_from_slice(pairs);
        Config::from_source(&map(&all))
            .map(|c| c.tracing)
            .map_err(|e| e.0.into_iter().map(|e| e.key).collect())
    }

    #[test]
    fn tracing_follows_the_standard_otel_variables() {
        assert_eq!(tracing(&[]).unwrap(), None, "no endpoint: no exporter");
        let t = tracing(&[(OTEL_ENDPOINT, "http://collector:4318")])
            .unwrap()
            .unwrap();
        assert_eq!(
            (t.authority.as_str(), t.path.as_str()),
            ("collector:4318", "/v1/traces")
        );
        assert_eq!(t.service_name, "metamcp");
        assert_eq!(t.sampler, Sampler::ParentBased(Root::AlwaysOn));
        assert_eq!(
            (t.queue, t.batch, t.delay, t.timeout),
            (
                2048,
                512,
                Duration::from_millis(5000),
                Duration::from_millis(10_000)
            )
        );
        // Under a base path, and on port 80 when none is given.
        let t = tracing(&[(OTEL_ENDPOINT, "http://c/base/")])
            .unwrap()
            .unwrap();
        assert_eq!(
            (t.authority.as_str(), t.path.as_str()),
            ("c:80", "/base/v1/traces")
        );
        // The traces endpoint wins and is used as it is.
        let t = tracing(&[
            (OTEL_ENDPOINT, "http://ignored:1"),
            (OTEL_TRACES_ENDPOINT, "http://c:4318/custom"),
            (OTEL_HEADERS, "api-key=secret%20value, x = y"),
            (OTEL_TRACES_HEADERS, "z=1"),
            (
                OTEL_RESOURCE_ATTRIBUTES,
                "service.name=from-resource,deployment.environment=prod",
            ),
            (OTEL_SAMPLER, "parentbased_traceidratio"),
            (OTEL_SAMPLER_ARG, "0.25"),
            (OTEL_BSP_QUEUE, "10"),
            (OTEL_BSP_BATCH, "100"),
            (OTEL_BSP_DELAY, "250"),
            (OTEL_TIMEOUT, "5"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(
            (t.authority.as_str(), t.path.as_str()),
            ("c:4318", "/custom")
        );
        let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(
            t.headers,
            pairs(&[("api-key", "secret value"), ("x", "y"), ("z", "1")])
        );
        assert_eq!(t.service_name, "from-resource");
        assert_eq!(t.resource, pairs(&[("deployment.environment", "prod")]));
        assert_eq!(t.sampler, Sampler::ParentBased(Root::Ratio(0.25)));
        // A batch is never larger than the queue.
        assert_eq!((t.queue, t.batch), (10, 10));
        assert_eq!(t.delay, Duration::from_millis(250));
        assert_eq!(t.timeout, Duration::from_millis(5));
        // OTEL_SERVICE_NAME wins over the resource's service.name.
        let t = tracing(&[
            (OTEL_ENDPOINT, "http://c:1"),
            (OTEL_SERVICE_NAME, "named"),
            (OTEL_RESOURCE_ATTRIBUTES, "service.name=other"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(t.service_name, "named");
        for (name, arg, sampler) in [
            ("always_on", None, Sampler::AlwaysOn),
            ("always_off", None, Sampler::AlwaysOff),
            ("traceidratio", Some("0.5"), Sampler::Ratio(0.5)),
            ("traceidratio", None, Sampler::Ratio(1.0)),
            (
                "parentbased_always_on",
                None,
                Sampler::ParentBased(Root::AlwaysOn),
            ),
            (
                "parentbased_always_off",
                None,
                Sampler::ParentBased(Root::AlwaysOff),
            ),
        ] {
            let mut pairs = vec![(OTEL_ENDPOINT, "http://c:1"), (OTEL_SAMPLER, name)];
            pairs.extend(arg.map(|a| (OTEL_SAMPLER_ARG, a)));
            assert_eq!(tracing(&pairs).unwrap().unwrap().sampler, sampler, "{name}");
        }
        // Turned off.
        for off in [(OTEL_SDK_DISABLED, "TRUE"), (OTEL_TRACES_EXPORTER, "none")] {
            assert_eq!(
                tracing(&[(OTEL_ENDPOINT, "http://c:1"), off]).unwrap(),
                None
            );
        }
        assert_eq!(
            tracing(&[
                (OTEL_ENDPOINT, "http://c:1"),
                (OTEL_TRACES_EXPORTER, "otlp")
            ])
            .unwrap()
            .map(|t| t.authority),
            Some("c:1".to_string())
        );
    }

    #[test]
    fn bad_otel_variables_are_named() {
        let endpoint = (OTEL_ENDPOINT, "http://c:1");
        for (pairs, key) in [
            (vec![(OTEL_ENDPOINT, "https://c:4318")], OTEL_ENDPOINT),
            (vec![(OTEL_ENDPOINT, "c:4318")], OTEL_ENDPOINT),
            (vec![(OTEL_ENDPOINT, "http://user@c:1")], OTEL_ENDPOINT),
            (
                vec![(OTEL_TRACES_ENDPOINT, "http:///v1/traces")],
                OTEL_TRACES_ENDPOINT,
            ),
            (
                vec![endpoint, (OTEL_TRACES_EXPORTER, "zipkin")],
                OTEL_TRACES_EXPORTER,
            ),
            (vec![endpoint, (OTEL_HEADERS, "novalue")], OTEL_HEADERS),
            (vec![endpoint, (OTEL_HEADERS, "=v")], OTEL_HEADERS),
            (vec![endpoint, (OTEL_HEADERS, "k=%zz")], OTEL_HEADERS),
            (vec![endpoint, (OTEL_HEADERS, "k=%e2%28")], OTEL_HEADERS),
            (
                vec![endpoint, (OTEL_TRACES_HEADERS, "k=%4")],
                OTEL_TRACES_HEADERS,
            ),
            (
                vec![endpoint, (OTEL_RESOURCE_ATTRIBUTES, "a")],
                OTEL_RESOURCE_ATTRIBUTES,
            ),
            (vec![endpoint, (OTEL_SAMPLER, "sometimes")], OTEL_SAMPLER),
            (
                vec![
                    endpoint,
                    (OTEL_SAMPLER, "traceidratio"),
                    (OTEL_SAMPLER_ARG, "2"),
                ],
                OTEL_SAMPLER,
            ),
            (
                vec![
                    endpoint,
                    (OTEL_SAMPLER, "parentbased_traceidratio"),
                    (OTEL_SAMPLER_ARG, "half"),
                ],
                OTEL_SAMPLER,
            ),
            (vec![endpoint, (OTEL_BSP_QUEUE, "many")], OTEL_BSP_QUEUE),
            (vec![endpoint, (OTEL_BSP_BATCH, "-1")], OTEL_BSP_BATCH),
            (
                vec![endpoint, (OTEL_BSP_DELAY, "99999999999")],
                OTEL_BSP_DELAY,
            ),
            (vec![endpoint, (OTEL_TIMEOUT, "1s")], OTEL_TIMEOUT),
        ] {
            let keys = tracing(&pairs).unwrap_err();
            assert_eq!(keys, vec![key.to_string()], "{pairs:?}");
        }
        // Errors are reported even when export is then disabled.
        assert!(tracing(&[endpoint, (OTEL_SDK_DISABLED, "true"), (OTEL_BSP_QUEUE, "x")]).is_err());
    }

    #[test]
    fn the_backend_ca_file_must_hold_a_certificate() {
        let ca = |value: &str| {
            Config::from_source(&map(&[(BACKEND_CA_FILE, value), (DATA_DIR, "/d")]))
                .map(|c| c.backend_ca_file)
        };
        assert_eq!(ca("").unwrap(), None);
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no certificate here\n").unwrap();
        for bad in ["/nonexistent/ca.pem", empty.to_str().unwrap()] {
            let e = ca(bad).unwrap_err();
            assert!(
                e.0.iter()
                    .any(|e| e.key == BACKEND_CA_FILE && e.message.contains(bad)),
                "{bad}: {e}"
            );
        }
        let good = dir.path().join("ca.pem");
        // PEM framing is what is checked here (a DER SEQUENCE; the TLS tests use real
        // certificates).
        std::fs::write(
            &good,
            "-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        assert_eq!(ca(good.to_str().unwrap()).unwrap(), Some(good));
    }

    #[test]
    fn the_data_dir_is_the_flag_the_variable_or_a_per_user_default_never_cwd() {
        let dir = |pairs: &[(&str, &str)]| Config::from_source(&map(pairs)).map(|c| c.data_dir);
        assert_eq!(
            dir(&[("XDG_DATA_HOME", "/x"), ("HOME", "/h")]).unwrap(),
            PathBuf::from("/x/metamcp")
        );
        assert_eq!(
            dir(&[("XDG_DATA_HOME", "rel"), ("HOME", "/h")]).unwrap(),
            PathBuf::from("/h/.local/share/metamcp")
        );
        assert_eq!(
            dir(&[(DATA_DIR, "/d"), ("HOME", "/h")]).unwrap(),
            PathBuf::from("/d")
        );
        // Flags over the environment.
        let flags = map(&[(DATA_DIR, "/flag")]);
        let env = map(&[(DATA_DIR, "/env"), ("HOME", "/h")]);
        let layered = Layered(&flags, &env);
        assert_eq!(
            Config::from_source(&layered).unwrap().data_dir,
            PathBuf::from("/flag")
        );
        let e = dir(&[]).unwrap_err().to_string();
        assert!(e.contains("METAMCP_DATA_DIR"), "{e}");
        // With an external database the data dir is not needed.
        assert!(
            dir(&[
                (DATABASE_URL, "postgres://u@h/db"),
                (JWT_SECRET, &"s".repeat(32)),
                (ENCRYPTION_KEY, &"ab".repeat(32))
            ])
            .is_ok()
        );
    }

    #[test]
    fn defaults_are_embedded_mode_on_loopback() {
        let c = Config::from_source(&map(&[("HOME", "/home/u")])).expect("defaults parse");
        assert_eq!(c.listen.to_string(), "127.0.0.1:12009");
        assert!(matches!(c.database, Database::Embedded));
        assert_eq!(c.data_dir, PathBuf::from("/home/u/.local/share/metamcp"));
        assert_eq!(c.max_body, 4 * 1024 * 1024);
        assert_eq!(c.max_header_bytes, 64 * 1024);
        assert_eq!(c.key_defaults, Defaults::default(), "no limits by default");
        assert!(c.jwt_secret.is_none() && c.encryption_key.is_none());
        assert!(c.allowed_hosts.contains(&"localhost".to_string()));
        assert_eq!(c.session_ttl, Duration::from_secs(86400));
    }

    #[test]
    fn every_bad_value_is_reported_at_once() {
        let errs = Config::from_source(&map(&[
            (LISTEN, "nowhere"),
            (MAX_BODY, "12 parsecs"),
            (MAX_HEADER_BYTES, "1KiB"),
            (KEY_RATE, "lots"),
            (KEY_MAX_CONCURRENT, "0"),
            (ENCRYPTION_KEY, "abcd"),
            (JWT_SECRET, "short"),
            (DB_POOL_SIZE, "0"),
            (SESSION_TTL, "0s"),
            (RUST_LOG, "[[[="),
        ]))
        .unwrap_err();
        let keys: Vec<&str> = errs.0.iter().map(|e| e.key.as_str()).collect();
        for k in [
            LISTEN,
            MAX_BODY,
            MAX_HEADER_BYTES,
            KEY_RATE,
            KEY_MAX_CONCURRENT,
            ENCRYPTION_KEY,
            JWT_SECRET,
            DB_POOL_SIZE,
            SESSION_TTL,
            RUST_LOG,
        ] {
            assert!(keys.contains(&k), "{k} missing from {errs}");
        }
        // The message names the setting but never echoes a secret's value.
        assert!(!errs.to_string().contains("short"));
    }

    #[test]
    fn database_url_requires_both_secrets() {
        let errs = Config::from_source(&map(&[(DATABASE_URL, "postgresql://u@localhost/db")]))
            .unwrap_err();
        let keys: Vec<&str> = errs.0.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, vec![JWT_SECRET, ENCRYPTION_KEY]);

        let ok = Config::from_source(&map(&[
            (DATABASE_URL, "postgresql://u@localhost/db"),
            (JWT_SECRET, &"x".repeat(40)),
            (ENCRYPTION_KEY, &"0f".repeat(32)),
        ]))
        .expect("complete external config");
        assert!(matches!(ok.database, Database::Url(_)));
        assert_eq!(ok.encryption_key, Some(KeyBytes([0x0f; 32])));
    }

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("4MiB"), Ok(4 << 20));
        assert_eq!(parse_size("512 KiB"), Ok(512 << 10));
        assert_eq!(parse_size("10MB"), Ok(10_000_000));
        assert_eq!(parse_size("123"), Ok(123));
        assert!(parse_size("MiB").is_err());
        assert!(parse_size("4 furlongs").is_err());
        assert!(parse_size("99999999999999999999G").is_err());
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86400)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("-1h").is_err());
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration_or_zero("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration_or_zero("0s"), Ok(Duration::ZERO));
        assert!(parse_duration_or_zero("0parsecs").is_err());
        assert_eq!(parse_duration_or_zero("2s"), Ok(Duration::from_secs(2)));
    }

    #[test]
    fn environment_wins_over_file_and_flags_win_over_environment() {
        let file = TomlFile::parse(
            "METAMCP_LISTEN = \"127.0.0.1:1\"\nMETAMCP_MAX_BODY = \"1KiB\"\n\
             METAMCP_ALLOWED_HOSTS = [\"a.test\", \"b.test\"]\n",
        )
        .expect("valid toml");
        let env = map(&[(LISTEN, "127.0.0.1:2"), ("HOME", "/h")]);
        let c = Config::from_source(&Layered(&env, &file)).expect("parses");
        assert_eq!(c.listen.port(), 2);
        assert_eq!(c.max_body, 1024);
        assert_eq!(c.allowed_hosts, vec!["a.test", "b.test"]);

        let flags = map(&[(LISTEN, "127.0.0.1:3")]);
        let c = Config::from_source(&Layered(flags, Layered(&env, &file))).expect("parses");
        assert_eq!(c.listen.port(), 3);
    }

    #[test]
    fn file_with_unknown_keys_is_rejected() {
        let errs = TomlFile::parse("METAMCP_LISTN = \"x\"\n[section]\na = 1\n").unwrap_err();
        assert_eq!(errs.0.len(), 2, "{errs}");
        assert!(TomlFile::parse("not toml at all = = =").is_err());
    }

    #[test]
    fn secrets_do_not_debug_print() {
        let s = Secret::new("hunter2hunter2".into());
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(!format!("{:?}", KeyBytes([7; 32])).contains('7'));
    }
}
