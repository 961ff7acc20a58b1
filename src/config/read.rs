//! Reading the settings: every value read from the source in one pass ([`read_raw`], so
//! a value that cannot be read is reported before any that is wrong), then parsed in
//! groups ([`network`], [`bounds`]), each error collected with its variable's name.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use super::*;

/// Every setting as read from the source, before it is parsed: the values by variable
/// name (each taken once by the group that parses it), the OAuth ones and the tracing
/// ones apart.
pub(super) struct Raw {
    values: HashMap<&'static str, String>,
    pub(super) oauth_raw: OAuthRaw,
    pub(super) otel: Vec<(&'static str, Option<String>)>,
}

impl Raw {
    /// The value of `key`, taken out (each is parsed in one place).
    pub(super) fn take(&mut self, key: &str) -> Option<String> {
        self.values.remove(key)
    }
}

/// Settings that count as unset when blank.
const BLANK_IS_UNSET: &[&str] = &[
    DATABASE_URL,
    KEY_RATE,
    KEY_BURST,
    KEY_MAX_CONCURRENT,
    REPLICA_URL,
];
/// Settings that count as unset when empty (a secret of spaces is an error, not unset).
const EMPTY_IS_UNSET: &[&str] = &[JWT_SECRET, ENCRYPTION_KEY];

/// Reads every setting from `src`; a value that cannot be read is an error in `errs`.
pub(super) fn read_raw(src: &dyn Source, errs: &mut Collector) -> Raw {
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
    let mut values = HashMap::new();
    for key in SETTINGS.iter().filter(|k| **k != CONFIG_FILE) {
        let Some(v) = get(key) else { continue };
        let unset = (BLANK_IS_UNSET.contains(key) && v.trim().is_empty())
            || (EMPTY_IS_UNSET.contains(key) && v.is_empty());
        if !unset {
            values.insert(*key, v);
        }
    }
    let otel = OTEL_KEYS.iter().map(|k| (*k, get(k))).collect();
    let mut raw = Raw {
        values,
        oauth_raw: OAuthRaw::default(),
        otel,
    };
    raw.oauth_raw = OAuthRaw {
        public: raw.take(PUBLIC_URL),
        issuers: raw.take(OAUTH_ISSUER),
        jwks: raw.take(OAUTH_JWKS_URL),
        scopes: raw.take(OAUTH_SCOPES),
        ca_file: raw.take(OAUTH_CA_FILE),
    };
    raw
}

/// Where the gateway listens and keeps its data, its secrets, and what requests it takes.
pub(super) struct Network {
    pub(super) listen: Option<std::net::SocketAddr>,
    pub(super) database: Option<Database>,
    pub(super) data_dir: PathBuf,
    pub(super) jwt_secret: Option<Secret>,
    pub(super) encryption_key: Option<KeyBytes>,
    pub(super) allowed_hosts: Vec<String>,
    pub(super) allowed_origins: Vec<String>,
    pub(super) max_body: Option<usize>,
    pub(super) max_header_bytes: Option<usize>,
}

pub(super) fn network(raw: &mut Raw, src: &dyn Source, errs: &mut Collector) -> Network {
    let listen = errs.check(
        LISTEN,
        raw.take(LISTEN)
            .as_deref()
            .unwrap_or(DEFAULT_LISTEN)
            .trim()
            .parse::<SocketAddr>()
            .map_err(|_| "expected an address like 127.0.0.1:12009".to_string()),
    );
    let database_url = raw.take(DATABASE_URL);
    let database = match &database_url {
        None => Some(Database::Embedded),
        Some(url) => errs.check(
            DATABASE_URL,
            tokio_postgres::Config::from_str(url)
                .map(|c| Database::Url(Box::new(c)))
                .map_err(|e| format!("not a PostgreSQL URL: {e}")),
        ),
    };
    let data_dir = match raw.take(DATA_DIR).filter(|d| !d.trim().is_empty()) {
        Some(d) => PathBuf::from(d),
        None => match default_data_dir(src) {
            Some(d) => d,
            None if database_url.is_some() => PathBuf::from("/nonexistent/metamcp"),
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
    let jwt_secret = raw.take(JWT_SECRET).and_then(|s| {
        errs.check(
            JWT_SECRET,
            if s.len() < MIN_JWT_SECRET {
                Err(format!("must be at least {MIN_JWT_SECRET} bytes"))
            } else {
                Ok(Secret::new(s))
            },
        )
    });
    let encryption_key = raw.take(ENCRYPTION_KEY).and_then(|s| {
        errs.check(
            ENCRYPTION_KEY,
            parse_key_hex(&s).map(KeyBytes).ok_or_else(|| {
                "must be 64 hex digits (32 bytes); generate one with `openssl rand -hex 32`"
                    .to_string()
            }),
        )
    });
    if database_url.is_some() {
        if jwt_secret.is_none() && !errs.has(JWT_SECRET) {
            errs.push(JWT_SECRET, "required when DATABASE_URL is set");
        }
        if encryption_key.is_none() && !errs.has(ENCRYPTION_KEY) {
            errs.push(ENCRYPTION_KEY, "required when DATABASE_URL is set");
        }
    }
    let allowed_hosts = match raw.take(ALLOWED_HOSTS) {
        None => default_hosts(),
        Some(s) => errs
            .check(ALLOWED_HOSTS, parse_list(&s))
            .unwrap_or_default(),
    };
    let allowed_origins = match raw.take(ALLOWED_ORIGINS) {
        None => default_origins(),
        Some(s) => errs
            .check(ALLOWED_ORIGINS, parse_list(&s))
            .unwrap_or_default(),
    };
    let max_body = raw.take(MAX_BODY).map_or(Some(DEFAULT_MAX_BODY), |s| {
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
    let max_header_bytes = raw
        .take(MAX_HEADER_BYTES)
        .map_or(Some(DEFAULT_MAX_HEADER_BYTES), |s| {
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
    Network {
        listen,
        database,
        data_dir,
        jwt_secret,
        encryption_key,
        allowed_hosts,
        allowed_origins,
        max_body,
        max_header_bytes,
    }
}

/// The bounds: per-key defaults, streams, parked calls, tasks, sessions, connections,
/// timeouts and the audit trail's.
pub(super) struct Bounds {
    pub(super) key_defaults: Defaults,
    pub(super) stream_bounds: StreamBounds,
    pub(super) parked: Parking,
    pub(super) tasks: Tasking,
    pub(super) capability_sessions: usize,
    pub(super) list_ttl: Duration,
    pub(super) limits_prune_every: Duration,
    pub(super) db_pool_size: Option<usize>,
    pub(super) session_ttl: Option<Duration>,
    pub(super) max_connections: Option<usize>,
    pub(super) max_connections_per_address: Option<usize>,
    pub(super) header_timeout: Option<Duration>,
    pub(super) body_timeout: Option<Duration>,
    pub(super) drain_grace: Option<Duration>,
    pub(super) drain_timeout: Option<Duration>,
    pub(super) audit: Option<bool>,
    pub(super) audit_retention: Option<Option<Duration>>,
    pub(super) audit_queue: Option<usize>,
}

pub(super) fn bounds(raw: &mut Raw, errs: &mut Collector) -> Bounds {
    let key_defaults = Defaults {
        rate: raw
            .take(KEY_RATE)
            .and_then(|s| errs.check(KEY_RATE, Rate::parse(&s))),
        burst: raw.take(KEY_BURST).and_then(|s| {
            errs.check(KEY_BURST, whole_number(&s, 1_000_000_000))
                .and_then(|n| u32::try_from(n).ok())
        }),
        max_concurrent: raw.take(KEY_MAX_CONCURRENT).and_then(|s| {
            errs.check(KEY_MAX_CONCURRENT, whole_number(&s, 1_000_000))
                .and_then(|n| u32::try_from(n).ok())
        }),
    };
    let stream_bounds = StreamBounds {
        per_key: raw
            .take(KEY_MAX_STREAMS)
            .and_then(|s| errs.check(KEY_MAX_STREAMS, whole_number(&s, 1_000_000)))
            .map_or(limits::DEFAULT_KEY_MAX_STREAMS, |n| n as u32),
        total: raw
            .take(MAX_STREAMS)
            .and_then(|s| errs.check(MAX_STREAMS, whole_number(&s, 10_000_000)))
            .map_or(limits::DEFAULT_MAX_STREAMS, |n| n as u32),
    };
    let parked = Parking {
        ttl: raw
            .take(MRTR_TTL)
            .and_then(|s| errs.check(MRTR_TTL, parse_duration(&s)))
            .unwrap_or(DEFAULT_MRTR_TTL),
        confirm_ttl: raw
            .take(CONFIRM_TIMEOUT)
            .and_then(|s| errs.check(CONFIRM_TIMEOUT, parse_duration(&s)))
            .unwrap_or(DEFAULT_CONFIRM_TIMEOUT),
        per_key: raw
            .take(KEY_MAX_PARKED)
            .and_then(|s| errs.check(KEY_MAX_PARKED, whole_number(&s, 1_000_000)))
            .unwrap_or(DEFAULT_KEY_MAX_PARKED),
        total: raw
            .take(MAX_PARKED)
            .and_then(|s| errs.check(MAX_PARKED, whole_number(&s, 10_000_000)))
            .unwrap_or(DEFAULT_MAX_PARKED),
        replica_url: raw
            .take(REPLICA_URL)
            .and_then(|s| errs.check(REPLICA_URL, replica_url(&s))),
    };
    let tasks = Tasking {
        per_key: raw
            .take(KEY_MAX_TASKS)
            .and_then(|s| errs.check(KEY_MAX_TASKS, whole_number(&s, 1_000_000)))
            .unwrap_or(DEFAULT_KEY_MAX_TASKS),
        wait: raw
            .take(TASK_WAIT)
            .and_then(|s| errs.check(TASK_WAIT, parse_duration(&s)))
            .unwrap_or(DEFAULT_TASK_WAIT),
    };
    let capability_sessions = raw
        .take(CAPABILITY_SESSIONS)
        .and_then(|s| {
            let s = s.trim();
            if s == "0" {
                return Some(0);
            }
            errs.check(CAPABILITY_SESSIONS, whole_number(s, 32))
        })
        .unwrap_or(DEFAULT_CAPABILITY_SESSIONS);
    let list_ttl = raw
        .take(LIST_TTL)
        .and_then(|s| errs.check(LIST_TTL, parse_duration_or_zero(&s)))
        .unwrap_or(DEFAULT_LIST_TTL);
    let limits_prune_every = raw
        .take(LIMITS_PRUNE_EVERY)
        .and_then(|s| {
            errs.check(
                LIMITS_PRUNE_EVERY,
                parse_duration(&s).and_then(|d| {
                    if (Duration::from_secs(1)..=Duration::from_secs(24 * 3600)).contains(&d) {
                        Ok(d)
                    } else {
                        Err(format!(
                            "{s:?} is out of range: give 1s to 24h (the default is 30s)"
                        ))
                    }
                }),
            )
        })
        .unwrap_or(DEFAULT_LIMITS_PRUNE_EVERY);
    let db_pool_size = raw.take(DB_POOL_SIZE).map_or(Some(DEFAULT_POOL_SIZE), |s| {
        errs.check(DB_POOL_SIZE, whole_number(&s, 1000))
    });
    let session_ttl = raw
        .take(SESSION_TTL)
        .map_or(Some(DEFAULT_SESSION_TTL), |s| {
            errs.check(SESSION_TTL, parse_duration(&s))
        });
    let max_connections = raw
        .take(MAX_CONNECTIONS)
        .map_or(Some(DEFAULT_MAX_CONNECTIONS), |s| {
            errs.check(MAX_CONNECTIONS, whole_number(&s, 1_000_000))
        });
    let max_connections_per_address = raw
        .take(MAX_CONNECTIONS_PER_ADDRESS)
        .map_or(Some(DEFAULT_MAX_CONNECTIONS_PER_ADDRESS), |s| {
            errs.check(MAX_CONNECTIONS_PER_ADDRESS, whole_number(&s, 1_000_000))
        });
    let header_timeout = raw
        .take(HEADER_TIMEOUT)
        .map_or(Some(DEFAULT_HEADER_TIMEOUT), |s| {
            errs.check(HEADER_TIMEOUT, parse_duration(&s))
        });
    let body_timeout = raw
        .take(BODY_TIMEOUT)
        .map_or(Some(DEFAULT_BODY_TIMEOUT), |s| {
            errs.check(BODY_TIMEOUT, parse_duration(&s))
        });
    let drain_grace = raw
        .take(DRAIN_GRACE)
        .map_or(Some(DEFAULT_DRAIN_GRACE), |s| {
            errs.check(DRAIN_GRACE, parse_duration_or_zero(&s))
        });
    let drain_timeout = raw
        .take(DRAIN_TIMEOUT)
        .map_or(Some(DEFAULT_DRAIN_TIMEOUT), |s| {
            errs.check(DRAIN_TIMEOUT, parse_duration(&s))
        });
    let (audit, audit_retention, audit_queue) = audit_settings(raw, errs);
    Bounds {
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
    }
}

/// The audit trail's settings: on or off, how long rows are kept, its queue.
#[allow(clippy::type_complexity)]
fn audit_settings(
    raw: &mut Raw,
    errs: &mut Collector,
) -> (Option<bool>, Option<Option<Duration>>, Option<usize>) {
    let audit = raw
        .take(AUDIT)
        .map_or(Some(true), |s| errs.check(AUDIT, on_off(&s)));
    let audit_retention =
        raw.take(AUDIT_RETENTION)
            .map_or(Some(Some(DEFAULT_AUDIT_RETENTION)), |s| {
                if s.trim().eq_ignore_ascii_case("off") {
                    Some(None)
                } else {
                    errs.check(AUDIT_RETENTION, parse_duration(&s)).map(Some)
                }
            });
    let audit_queue = raw
        .take(AUDIT_QUEUE)
        .map_or(Some(DEFAULT_AUDIT_QUEUE), |s| {
            errs.check(AUDIT_QUEUE, whole_number(&s, 10_000_000))
        });
    (audit, audit_retention, audit_queue)
}
