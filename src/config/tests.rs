use std::collections::HashMap;

use super::*;
use crate::model::limits::Setting;

fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn the_public_url_stands_alone_and_a_bad_one_is_named_once() {
    let public = |pairs: &[(&str, &str)]| {
        let mut all = vec![("HOME", "/h")];
        all.extend_from_slice(pairs);
        Config::from_source(&map(&all)).map(|c| c.public_url)
    };
    assert_eq!(public(&[]).unwrap(), None);
    assert_eq!(
        public(&[(PUBLIC_URL, "https://gw.example/")])
            .unwrap()
            .as_deref(),
        Some("https://gw.example")
    );
    for issuer in [None, Some(""), Some("https://a.test")] {
        let mut pairs = vec![(PUBLIC_URL, "gw.example")];
        pairs.extend(issuer.map(|i| (OAUTH_ISSUER, i)));
        let e = public(&pairs).unwrap_err().to_string();
        assert_eq!(e.matches(PUBLIC_URL).count(), 1, "{e}");
    }
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
        (
            vec![
                (OAUTH_ISSUER, "http://a"),
                (OAUTH_SCOPES, "admin="),
                (PUBLIC_URL, "http://g"),
            ],
            OAUTH_SCOPES,
        ),
    ] {
        let e = oauth(&pairs).unwrap_err();
        assert!(e.0.iter().any(|e| e.key == key), "{pairs:?}: {e}");
    }
    // `client=` (empty): an issuer whose tokens need no scope to be a client's.
    let o = oauth(&[
        (PUBLIC_URL, "https://gw.example/"),
        (
            OAUTH_ISSUER,
            "http://a.test/, http://b.test/ client=mcp:use",
        ),
        (OAUTH_SCOPES, "client="),
    ])
    .unwrap()
    .expect("oauth");
    let scopes: Vec<&str> = o.issuers.iter().map(|i| i.client_scope.as_str()).collect();
    assert_eq!(scopes, ["", "mcp:use"]);
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
    assert_eq!(c.limits_prune_every, Duration::from_secs(30));
}

#[test]
fn the_limits_prune_period_is_a_duration_of_one_second_to_a_day() {
    let at = |v: &str| {
        Config::from_source(&map(&[("HOME", "/home/u"), (LIMITS_PRUNE_EVERY, v)]))
            .map(|c| c.limits_prune_every)
    };
    assert_eq!(at("2s").ok(), Some(Duration::from_secs(2)));
    assert_eq!(at("24h").ok(), Some(Duration::from_secs(86400)));
    for bad in ["500ms", "25h", "0s", "often"] {
        let errs = at(bad).expect_err(bad);
        assert_eq!(errs.0.len(), 1, "{bad}: {errs}");
        assert_eq!(errs.0[0].key, LIMITS_PRUNE_EVERY, "{bad}: {errs}");
    }
    let errs = at("25h").unwrap_err().to_string();
    assert!(errs.contains("1s to 24h"), "the fix is named: {errs}");
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
    let errs =
        Config::from_source(&map(&[(DATABASE_URL, "postgresql://u@localhost/db")])).unwrap_err();
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

/// The settings are declared once (`settings!`); the operator's table follows them: each
/// is described in docs/reference/configuration.md (the tracing ones in docs/reference/tracing.md), and the
/// table names no variable the gateway does not read.
#[test]
fn every_setting_is_documented() {
    let table = include_str!("../../docs/reference/configuration.md");
    let tracing = include_str!("../../docs/reference/tracing.md");
    let describes = |doc: &str, name: &str| {
        doc.contains(&format!("`{name}`")) || doc.contains(&format!("`{name}="))
    };
    for name in SETTINGS {
        assert!(
            describes(table, name),
            "{name} is not described in docs/reference/configuration.md"
        );
    }
    for name in OTEL_KEYS {
        assert!(
            describes(tracing, name) || describes(table, name),
            "{name} is not described in docs/reference/tracing.md"
        );
    }
    let read: Vec<&str> = SETTINGS
        .iter()
        .copied()
        // Read by the embedded cluster's relocation itself (store::embedded), before any
        // configuration is.
        .chain(["METAMCP_CLUSTER_ROOT"])
        .collect();
    for word in table.split('`').filter(|w| w.starts_with("METAMCP_")) {
        let name = word.split(['=', ' ']).next().unwrap_or(word);
        assert!(
            read.contains(&name),
            "docs/reference/configuration.md describes {name}, which the gateway does not read"
        );
    }
}

/// A TOML file may set every setting but its own name, and nothing else.
#[test]
fn a_file_may_set_every_setting_but_its_own_name() {
    assert!(
        SETTINGS
            .iter()
            .filter(|k| **k != CONFIG_FILE)
            .all(|k| file_may_set(k))
    );
    assert!(OTEL_KEYS.iter().all(|k| file_may_set(k)));
    assert!(!file_may_set(CONFIG_FILE));
    assert!(!file_may_set("METAMCP_NOT_A_SETTING"));
}

#[test]
fn code_mode_settings_parse_with_defaults_and_every_bad_one_is_named() {
    let code = |pairs: &[(&str, &str)]| {
        let mut all = vec![("HOME", "/h")];
        all.extend_from_slice(pairs);
        Config::from_source(&map(&all)).map(|c| c.code)
    };
    let d = code(&[]).unwrap();
    assert_eq!(d.mode, crate::model::CodeMode::Off);
    assert_eq!(d.bounds, crate::codemode::Bounds::default());
    assert_eq!(d.bounds.timeout, Duration::from_millis(30_000));
    assert_eq!(
        (
            d.bounds.memory,
            d.bounds.max_calls,
            d.bounds.max_bytes,
            d.bounds.max_output
        ),
        (64 << 20, 100, 64 << 10, 1 << 20)
    );
    assert_eq!((d.bounds.runs_per_key, d.bounds.runs), (4, 64));
    assert_eq!(
        (d.bounds.results, d.bounds.results_total),
        (32 << 20, 256 << 20)
    );
    let c = code(&[
        (CODE_MODE, "on"),
        (CODE_TIMEOUT_MS, "1500"),
        (CODE_MEMORY_MB, "32"),
        (CODE_MAX_CALLS, "7"),
        (CODE_MAX_BYTES, "8KiB"),
        (CODE_MAX_OUTPUT, "2MiB"),
        (CODE_RUNS_PER_KEY, "2"),
        (CODE_RUNS, "9"),
        (CODE_RESULTS_MB, "16"),
        (CODE_RESULTS_TOTAL_MB, "128"),
    ])
    .unwrap();
    assert_eq!(c.mode, crate::model::CodeMode::On);
    assert_eq!(c.bounds.timeout, Duration::from_millis(1500));
    assert_eq!(
        (
            c.bounds.memory,
            c.bounds.max_calls,
            c.bounds.max_bytes,
            c.bounds.max_output
        ),
        (32 << 20, 7, 8 << 10, 2 << 20)
    );
    assert_eq!((c.bounds.runs_per_key, c.bounds.runs), (2, 9));
    assert_eq!(
        (c.bounds.results, c.bounds.results_total),
        (16 << 20, 128 << 20)
    );
    // One run's budget past every run's: refused, naming both.
    let e = code(&[(CODE_RESULTS_MB, "64"), (CODE_RESULTS_TOTAL_MB, "32")])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(CODE_RESULTS_MB) && e.contains(CODE_RESULTS_TOTAL_MB),
        "{e}"
    );
    let e = code(&[
        (CODE_MODE, "sometimes"),
        (CODE_TIMEOUT_MS, "0"),
        (CODE_MEMORY_MB, "-1"),
        (CODE_MAX_CALLS, "many"),
        (CODE_MAX_BYTES, "0"),
        (CODE_MAX_OUTPUT, "1TiB"),
        (CODE_RUNS_PER_KEY, ""),
        (CODE_RUNS, "0"),
        (CODE_RESULTS_MB, "0"),
        (CODE_RESULTS_TOTAL_MB, "lots"),
    ])
    .unwrap_err()
    .to_string();
    for key in [
        CODE_MODE,
        CODE_TIMEOUT_MS,
        CODE_MEMORY_MB,
        CODE_MAX_CALLS,
        CODE_MAX_BYTES,
        CODE_MAX_OUTPUT,
        CODE_RUNS_PER_KEY,
        CODE_RUNS,
        CODE_RESULTS_MB,
        CODE_RESULTS_TOTAL_MB,
    ] {
        assert!(e.contains(key), "{key} not named in {e}");
    }
}
