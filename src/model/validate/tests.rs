use super::*;
use crate::model::{Protocol, Server};
use serde_json::json;
use uuid::Uuid;

fn draft(v: Value) -> Result<ServerDraft, Invalid> {
    let mut d = ServerDraft::default();
    d.apply(v.as_object().unwrap(), None)?;
    d.validate()?;
    Ok(d)
}

fn field_of(r: Result<ServerDraft, Invalid>) -> String {
    match r {
        Err(Invalid { field: Some(f), .. }) => f,
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("accepted"),
    }
}

/// Every kind of bad value each server field can get, named by its field.
#[test]
fn each_bad_server_field_is_named() {
    let many_args: Vec<String> = (0..10_000).map(|i| i.to_string()).collect();
    let many_env: serde_json::Map<String, Value> =
        (0..10_000).map(|i| (format!("V{i}"), json!("x"))).collect();
    let long_url = format!("http://a/{}", "x".repeat(10_000));
    let stdio = |extra: Value| {
        let mut v = json!({"name": "a", "protocol": "stdio", "command": "x"});
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        v
    };
    let http = |extra: Value| {
        let mut v = json!({"name": "a", "protocol": "http", "url": "http://a"});
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        v
    };
    let mut failures = Vec::new();
    for (input, f) in [
        (json!({"name": "a", "protocol": null}), "protocol"),
        (
            json!({"name": null, "protocol": "http", "url": "http://a"}),
            "name",
        ),
        (stdio(json!({"command": 5})), "command"),
        (stdio(json!({"command": " "})), "command"),
        (stdio(json!({"args": many_args})), "args"),
        (stdio(json!({"args": [1]})), "args"),
        (stdio(json!({"args": "x"})), "args"),
        (stdio(json!({"headers": {"A": "b"}})), "headers"),
        (stdio(json!({"env": Value::Object(many_env)})), "env"),
        (stdio(json!({"env": {"A": 1}})), "env"),
        (stdio(json!({"env": {"A": "a\u{0}"}})), "env"),
        (stdio(json!({"env": "x"})), "env"),
        (http(json!({"cwd": "/tmp"})), "cwd"),
        (http(json!({"args": ["x"]})), "args"),
        (http(json!({"timeout_ms": "x"})), "timeout_ms"),
        (http(json!({"headers": {"bad name": "v"}})), "headers"),
        (http(json!({"headers": {"A": "a\u{1}b"}})), "headers"),
        (http(json!({"url": long_url})), "url"),
    ] {
        match draft(input.clone()) {
            Err(Invalid {
                field: Some(got), ..
            }) if got == f => {}
            other => failures.push(format!("{input}: expected {f}, got {:?}", other.err())),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    // Null clears a list or a map.
    assert!(draft(stdio(json!({"args": null, "env": null}))).is_ok());
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
        cwd: None,
        max_concurrency: 32,
        idle_stop_ms: None,
        isolated: false,
        max_instances: 8,
        breaker_failures: 5,
        breaker_cooldown_ms: 10_000,
        max_memory_mb: None,
        auth: Default::default(),
        created_at: String::new(),
        updated_at: String::new(),
        registered_us: 0,
        changed_us: 0,
        source: None,
        tool_changes: Default::default(),
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
        cwd: None,
        max_concurrency: 32,
        idle_stop_ms: None,
        isolated: false,
        max_instances: 8,
        breaker_failures: 5,
        breaker_cooldown_ms: 10_000,
        max_memory_mb: None,
        auth: Default::default(),
        created_at: String::new(),
        updated_at: String::new(),
        registered_us: 0,
        changed_us: 0,
        source: None,
        tool_changes: Default::default(),
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

/// `tools_default` takes `enabled` or `disabled` and nothing else (any other string,
/// another type, a near miss in case or spacing is refused naming the field, and the
/// draft keeps what it had); a new namespace defaults to `enabled`, a change without the
/// field keeps the namespace's.
#[test]
fn tools_default_takes_exactly_enabled_or_disabled() {
    use proptest::prelude::*;
    let mut d = NamespaceDraft::default();
    d.apply(json!({"name": "a"}).as_object().unwrap(), true)
        .unwrap();
    assert!(d.tools_enabled_by_default, "the default is enabled");
    d.apply(
        json!({"tools_default": "disabled"}).as_object().unwrap(),
        false,
    )
    .unwrap();
    assert!(!d.tools_enabled_by_default);
    d.apply(json!({"description": "x"}).as_object().unwrap(), false)
        .unwrap();
    assert!(!d.tools_enabled_by_default, "kept when not given");
    d.apply(json!({"tools_default": null}).as_object().unwrap(), false)
        .unwrap();
    assert!(d.tools_enabled_by_default, "null: the default");
    for bad in [
        json!("Disabled"),
        json!(" enabled"),
        json!(false),
        json!(["disabled"]),
    ] {
        let mut d = NamespaceDraft::default();
        let e = d
            .apply(
                json!({"name": "a", "tools_default": bad})
                    .as_object()
                    .unwrap(),
                true,
            )
            .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("tools_default"), "{bad}");
    }
    proptest!(|(s in "\\PC{0,12}")| {
        let mut d = NamespaceDraft::default();
        d.apply(json!({"name": "a"}).as_object().unwrap(), true).unwrap();
        let r = d.apply(json!({"tools_default": s}).as_object().unwrap(), false);
        match s.as_str() {
            "enabled" | "disabled" => {
                prop_assert!(r.is_ok());
                prop_assert_eq!(d.tools_enabled_by_default, s == "enabled");
            }
            _ => {
                prop_assert!(r.is_err());
                prop_assert!(d.tools_enabled_by_default);
            }
        }
    });
}
