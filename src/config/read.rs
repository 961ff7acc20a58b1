//! Reading the settings: every value read from the source in one pass ([`read_raw`], so
//! a value that cannot be read is reported before any that is wrong), then parsed in
//! groups ([`network`], [`bounds`]), each error collected with its variable's name.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use super::*;

/// Every setting as read from the source, before it is parsed.
pub(super) struct Raw {
    pub(super) listen_raw: Option<String>,
    pub(super) url_raw: Option<String>,
    pub(super) data_raw: Option<String>,
    pub(super) jwt_raw: Option<String>,
    pub(super) enc_raw: Option<String>,
    pub(super) hosts_raw: Option<String>,
    pub(super) origins_raw: Option<String>,
    pub(super) body_raw: Option<String>,
    pub(super) head_raw: Option<String>,
    pub(super) key_rate_raw: Option<String>,
    pub(super) key_burst_raw: Option<String>,
    pub(super) key_conc_raw: Option<String>,
    pub(super) key_streams_raw: Option<String>,
    pub(super) streams_raw: Option<String>,
    pub(super) mrtr_ttl_raw: Option<String>,
    pub(super) confirm_raw: Option<String>,
    pub(super) list_ttl_raw: Option<String>,
    pub(super) key_parked_raw: Option<String>,
    pub(super) parked_raw: Option<String>,
    pub(super) key_tasks_raw: Option<String>,
    pub(super) task_wait_raw: Option<String>,
    pub(super) capability_sessions_raw: Option<String>,
    pub(super) replica_raw: Option<String>,
    pub(super) pool_raw: Option<String>,
    pub(super) ttl_raw: Option<String>,
    pub(super) conns_raw: Option<String>,
    pub(super) per_address_raw: Option<String>,
    pub(super) header_raw: Option<String>,
    pub(super) body_timeout_raw: Option<String>,
    pub(super) grace_raw: Option<String>,
    pub(super) drain_raw: Option<String>,
    pub(super) audit_raw: Option<String>,
    pub(super) tool_search_raw: Option<String>,
    pub(super) retrieval_raw: Option<String>,
    pub(super) search_model_raw: Option<String>,
    pub(super) retention_raw: Option<String>,
    pub(super) audit_queue_raw: Option<String>,
    pub(super) log_raw: Option<String>,
    pub(super) backend_ca_raw: Option<String>,
    pub(super) oauth_raw: OAuthRaw,
    pub(super) otel: Vec<(&'static str, Option<String>)>,
}

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
    Raw {
        listen_raw: get(LISTEN),
        url_raw: get(DATABASE_URL).filter(|s| !s.trim().is_empty()),
        data_raw: get(DATA_DIR),
        jwt_raw: get(JWT_SECRET).filter(|s| !s.is_empty()),
        enc_raw: get(ENCRYPTION_KEY).filter(|s| !s.is_empty()),
        hosts_raw: get(ALLOWED_HOSTS),
        origins_raw: get(ALLOWED_ORIGINS),
        body_raw: get(MAX_BODY),
        head_raw: get(MAX_HEADER_BYTES),
        key_rate_raw: get(KEY_RATE).filter(|s| !s.trim().is_empty()),
        key_burst_raw: get(KEY_BURST).filter(|s| !s.trim().is_empty()),
        key_conc_raw: get(KEY_MAX_CONCURRENT).filter(|s| !s.trim().is_empty()),
        key_streams_raw: get(KEY_MAX_STREAMS),
        streams_raw: get(MAX_STREAMS),
        mrtr_ttl_raw: get(MRTR_TTL),
        confirm_raw: get(CONFIRM_TIMEOUT),
        list_ttl_raw: get(LIST_TTL),
        key_parked_raw: get(KEY_MAX_PARKED),
        parked_raw: get(MAX_PARKED),
        key_tasks_raw: get(KEY_MAX_TASKS),
        task_wait_raw: get(TASK_WAIT),
        capability_sessions_raw: get(CAPABILITY_SESSIONS),
        replica_raw: get(REPLICA_URL).filter(|s| !s.trim().is_empty()),
        pool_raw: get(DB_POOL_SIZE),
        ttl_raw: get(SESSION_TTL),
        conns_raw: get(MAX_CONNECTIONS),
        per_address_raw: get(MAX_CONNECTIONS_PER_ADDRESS),
        header_raw: get(HEADER_TIMEOUT),
        body_timeout_raw: get(BODY_TIMEOUT),
        grace_raw: get(DRAIN_GRACE),
        drain_raw: get(DRAIN_TIMEOUT),
        audit_raw: get(AUDIT),
        tool_search_raw: get(TOOL_SEARCH),
        retrieval_raw: get(TOOL_SEARCH_RETRIEVAL),
        search_model_raw: get(TOOL_SEARCH_MODEL),
        retention_raw: get(AUDIT_RETENTION),
        audit_queue_raw: get(AUDIT_QUEUE),
        log_raw: get(RUST_LOG),
        backend_ca_raw: get(BACKEND_CA_FILE),
        oauth_raw: OAuthRaw {
            public: get(PUBLIC_URL),
            issuers: get(OAUTH_ISSUER),
            jwks: get(OAUTH_JWKS_URL),
            scopes: get(OAUTH_SCOPES),
            ca_file: get(OAUTH_CA_FILE),
        },
        otel: OTEL_KEYS.iter().map(|k| (*k, get(k))).collect(),
    }
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
        raw.listen_raw
            .take()
            .as_deref()
            .unwrap_or(DEFAULT_LISTEN)
            .trim()
            .parse::<SocketAddr>()
            .map_err(|_| "expected an address like 127.0.0.1:12009".to_string()),
    );
    let database = match &raw.url_raw {
        None => Some(Database::Embedded),
        Some(url) => errs.check(
            DATABASE_URL,
            tokio_postgres::Config::from_str(url)
                .map(|c| Database::Url(Box::new(c)))
                .map_err(|e| format!("not a PostgreSQL URL: {e}")),
        ),
    };
    let data_dir = match raw.data_raw.take().filter(|d| !d.trim().is_empty()) {
        Some(d) => PathBuf::from(d),
        None => match default_data_dir(src) {
            Some(d) => d,
            None if raw.url_raw.is_some() => PathBuf::from("/nonexistent/metamcp"),
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
    let jwt_secret = raw.jwt_raw.take().and_then(|s| {
        errs.check(
            JWT_SECRET,
            if s.len() < MIN_JWT_SECRET {
                Err(format!("must be at least {MIN_JWT_SECRET} bytes"))
            } else {
                Ok(Secret::new(s))
            },
        )
    });
    let encryption_key = raw.enc_raw.take().and_then(|s| {
        errs.check(
            ENCRYPTION_KEY,
            parse_key_hex(&s).map(KeyBytes).ok_or_else(|| {
                "must be 64 hex digits (32 bytes); generate one with `openssl rand -hex 32`"
                    .to_string()
            }),
        )
    });
    if raw.url_raw.is_some() {
        if jwt_secret.is_none() && !errs.has(JWT_SECRET) {
            errs.push(JWT_SECRET, "required when DATABASE_URL is set");
        }
        if encryption_key.is_none() && !errs.has(ENCRYPTION_KEY) {
            errs.push(ENCRYPTION_KEY, "required when DATABASE_URL is set");
        }
    }
    let allowed_hosts = match raw.hosts_raw.take() {
        None => default_hosts(),
        Some(s) => errs
            .check(ALLOWED_HOSTS, parse_list(&s))
            .unwrap_or_default(),
    };
    let allowed_origins = match raw.origins_raw.take() {
        None => default_origins(),
        Some(s) => errs
            .check(ALLOWED_ORIGINS, parse_list(&s))
            .unwrap_or_default(),
    };
    let max_body = raw.body_raw.take().map_or(Some(DEFAULT_MAX_BODY), |s| {
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
        .head_raw
        .take()
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
            .key_rate_raw
            .take()
            .and_then(|s| errs.check(KEY_RATE, Rate::parse(&s))),
        burst: raw.key_burst_raw.take().and_then(|s| {
            errs.check(KEY_BURST, whole_number(&s, 1_000_000_000))
                .and_then(|n| u32::try_from(n).ok())
        }),
        max_concurrent: raw.key_conc_raw.take().and_then(|s| {
            errs.check(KEY_MAX_CONCURRENT, whole_number(&s, 1_000_000))
                .and_then(|n| u32::try_from(n).ok())
        }),
    };
    let stream_bounds = StreamBounds {
        per_key: raw
            .key_streams_raw
            .take()
            .and_then(|s| errs.check(KEY_MAX_STREAMS, whole_number(&s, 1_000_000)))
            .map_or(limits::DEFAULT_KEY_MAX_STREAMS, |n| n as u32),
        total: raw
            .streams_raw
            .take()
            .and_then(|s| errs.check(MAX_STREAMS, whole_number(&s, 10_000_000)))
            .map_or(limits::DEFAULT_MAX_STREAMS, |n| n as u32),
    };
    let parked = Parking {
        ttl: raw
            .mrtr_ttl_raw
            .take()
            .and_then(|s| errs.check(MRTR_TTL, parse_duration(&s)))
            .unwrap_or(DEFAULT_MRTR_TTL),
        confirm_ttl: raw
            .confirm_raw
            .take()
            .and_then(|s| errs.check(CONFIRM_TIMEOUT, parse_duration(&s)))
            .unwrap_or(DEFAULT_CONFIRM_TIMEOUT),
        per_key: raw
            .key_parked_raw
            .take()
            .and_then(|s| errs.check(KEY_MAX_PARKED, whole_number(&s, 1_000_000)))
            .unwrap_or(DEFAULT_KEY_MAX_PARKED),
        total: raw
            .parked_raw
            .take()
            .and_then(|s| errs.check(MAX_PARKED, whole_number(&s, 10_000_000)))
            .unwrap_or(DEFAULT_MAX_PARKED),
        replica_url: raw
            .replica_raw
            .take()
            .and_then(|s| errs.check(REPLICA_URL, replica_url(&s))),
    };
    let tasks = Tasking {
        per_key: raw
            .key_tasks_raw
            .take()
            .and_then(|s| errs.check(KEY_MAX_TASKS, whole_number(&s, 1_000_000)))
            .unwrap_or(DEFAULT_KEY_MAX_TASKS),
        wait: raw
            .task_wait_raw
            .take()
            .and_then(|s| errs.check(TASK_WAIT, parse_duration(&s)))
            .unwrap_or(DEFAULT_TASK_WAIT),
    };
    let capability_sessions = raw
        .capability_sessions_raw
        .take()
        .and_then(|s| {
            let s = s.trim();
            if s == "0" {
                return Some(0);
            }
            errs.check(CAPABILITY_SESSIONS, whole_number(s, 32))
        })
        .unwrap_or(DEFAULT_CAPABILITY_SESSIONS);
    let list_ttl = raw
        .list_ttl_raw
        .take()
        .and_then(|s| errs.check(LIST_TTL, parse_duration_or_zero(&s)))
        .unwrap_or(DEFAULT_LIST_TTL);
    let db_pool_size = raw.pool_raw.take().map_or(Some(DEFAULT_POOL_SIZE), |s| {
        errs.check(DB_POOL_SIZE, whole_number(&s, 1000))
    });
    let session_ttl = raw.ttl_raw.take().map_or(Some(DEFAULT_SESSION_TTL), |s| {
        errs.check(SESSION_TTL, parse_duration(&s))
    });
    let max_connections = raw
        .conns_raw
        .take()
        .map_or(Some(DEFAULT_MAX_CONNECTIONS), |s| {
            errs.check(MAX_CONNECTIONS, whole_number(&s, 1_000_000))
        });
    let max_connections_per_address = raw
        .per_address_raw
        .take()
        .map_or(Some(DEFAULT_MAX_CONNECTIONS_PER_ADDRESS), |s| {
            errs.check(MAX_CONNECTIONS_PER_ADDRESS, whole_number(&s, 1_000_000))
        });
    let header_timeout = raw
        .header_raw
        .take()
        .map_or(Some(DEFAULT_HEADER_TIMEOUT), |s| {
            errs.check(HEADER_TIMEOUT, parse_duration(&s))
        });
    let body_timeout = raw
        .body_timeout_raw
        .take()
        .map_or(Some(DEFAULT_BODY_TIMEOUT), |s| {
            errs.check(BODY_TIMEOUT, parse_duration(&s))
        });
    let drain_grace = raw.grace_raw.take().map_or(Some(DEFAULT_DRAIN_GRACE), |s| {
        errs.check(DRAIN_GRACE, parse_duration_or_zero(&s))
    });
    let drain_timeout = raw
        .drain_raw
        .take()
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
        .audit_raw
        .take()
        .map_or(Some(true), |s| errs.check(AUDIT, on_off(&s)));
    let audit_retention =
        raw.retention_raw
            .take()
            .map_or(Some(Some(DEFAULT_AUDIT_RETENTION)), |s| {
                if s.trim().eq_ignore_ascii_case("off") {
                    Some(None)
                } else {
                    errs.check(AUDIT_RETENTION, parse_duration(&s)).map(Some)
                }
            });
    let audit_queue = raw
        .audit_queue_raw
        .take()
        .map_or(Some(DEFAULT_AUDIT_QUEUE), |s| {
            errs.check(AUDIT_QUEUE, whole_number(&s, 10_000_000))
        });
    (audit, audit_retention, audit_queue)
}
