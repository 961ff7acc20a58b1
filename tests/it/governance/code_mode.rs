//! Code mode's namespace field over REST and keyadm: `code_mode` (`off`, the default, or
//! `on`) is created, shown, changed and stored (migration 0031), a value it does not take
//! is a 400 naming the field that writes nothing, and keyadm's `--code-mode` sets it.
//! (The sandbox itself is tested in `src/codemode/tests.rs`; `run_code`'s registration
//! in the pipeline is the lead's.)

use proptest::strategy::{Strategy, ValueTree};
use serde_json::{Value, json};

use crate::support;
use crate::support::gateway::TestGateway;

const PATH: &str = "/api/v1/namespaces";

async fn show(gw: &TestGateway, name: &str) -> Value {
    let r = support::http::get(gw.addr, &format!("{PATH}/{name}"), &gw.admin_key).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

#[tokio::test]
async fn the_code_mode_field_is_created_shown_changed_and_refused_when_bad() {
    let gw = TestGateway::start().await;
    let create = |body: Value| {
        let (addr, key) = (gw.addr, gw.admin_key.clone());
        async move { support::http::send_json(addr, "POST", PATH, &key, &body).await }
    };
    let put = |name: &str, body: Value| {
        let (addr, key, path) = (gw.addr, gw.admin_key.clone(), format!("{PATH}/{name}"));
        async move { support::http::send_json(addr, "PUT", &path, &key, &body).await }
    };

    // Absent: off.
    let r = create(json!({"name": "plain", "servers": []})).await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["code_mode"], "off");
    assert_eq!(show(&gw, "plain").await["code_mode"], "off");

    // On at creation, kept by a change of another field, switched off, and back on.
    let r = create(json!({"name": "coder", "servers": [], "code_mode": "on"})).await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(show(&gw, "coder").await["code_mode"], "on");
    let r = put("coder", json!({"description": "scripts"})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(show(&gw, "coder").await["code_mode"], "on");
    let r = put("coder", json!({"code_mode": "off"})).await;
    assert_eq!((r.status, &r.json()["code_mode"]), (200, &json!("off")));
    assert_eq!(show(&gw, "coder").await["code_mode"], "off");
    let r = put("coder", json!({"code_mode": "on"})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    // null: the default.
    let r = put("plain", json!({"code_mode": null})).await;
    assert_eq!((r.status, &r.json()["code_mode"]), (200, &json!("off")));

    // The list shows it, and a PUT may carry the object back as shown.
    let r = support::http::get(gw.addr, PATH, &gw.admin_key).await;
    let list = r.json();
    let coder = list
        .as_array()
        .and_then(|l| l.iter().find(|n| n["name"] == "coder"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(coder["code_mode"], "on", "{list}");

    // Bad values: 400 naming the field, nothing written.
    for bad in [
        json!("yes"),
        json!(true),
        json!(1),
        json!("ON"),
        json!(["on"]),
    ] {
        let r = put("coder", json!({"code_mode": bad, "description": "changed"})).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
        assert!(r.text().contains("code_mode"), "{}", r.text());
        let now = show(&gw, "coder").await;
        assert_eq!(
            (&now["code_mode"], &now["description"]),
            (&json!("on"), &json!("scripts"))
        );
        let r = create(json!({"name": "never", "servers": [], "code_mode": bad})).await;
        assert_eq!(r.status, 400, "{}", r.text());
    }
    let r = support::http::get(gw.addr, &format!("{PATH}/never"), &gw.admin_key).await;
    assert_eq!(r.status, 404);
}

/// Any string but `off` and `on` is refused and leaves the namespace as it was; `off`
/// and `on` are taken exactly.
#[tokio::test]
async fn only_off_and_on_are_taken_whatever_else_is_sent() {
    let gw = TestGateway::start().await;
    let r = support::http::send_json(
        gw.addr,
        "POST",
        PATH,
        &gw.admin_key,
        &json!({"name": "fuzzed", "servers": []}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let values = proptest::prop_oneof![
        proptest::strategy::Just("on".to_string()),
        proptest::strategy::Just("off".to_string()),
        "(o|O|f|n|N| |\\u{0}|\\u{43F}|\\u{200B}){0,4}",
        ".{0,8}",
    ];
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut expected = "off".to_string();
    for _ in 0..48 {
        let v = values.new_tree(&mut runner).expect("a value").current();
        let path = format!("{PATH}/fuzzed");
        let r = support::http::send_json(
            gw.addr,
            "PUT",
            &path,
            &gw.admin_key,
            &json!({"code_mode": v}),
        )
        .await;
        if v == "on" || v == "off" {
            assert_eq!(r.status, 200, "{v:?}: {}", r.text());
            expected = v.clone();
        } else {
            assert_eq!(r.status, 400, "{v:?}: {}", r.text());
            assert!(r.text().contains("code_mode"), "{}", r.text());
        }
        assert_eq!(
            show(&gw, "fuzzed").await["code_mode"],
            expected.as_str(),
            "after {v:?}"
        );
    }
}

#[tokio::test]
async fn keyadm_sets_code_mode_and_shows_it() {
    let gw = TestGateway::start().await;
    let out = support::keyadm(
        &gw.db,
        &["namespaces", "add", "kc", "--code-mode", "on", "--json"],
    )
    .await
    .expect("keyadm add");
    let added: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(added["code_mode"], "on", "{added}");
    assert_eq!(show(&gw, "kc").await["code_mode"], "on");
    let out = support::keyadm(&gw.db, &["namespaces", "set", "kc", "--code-mode", "off"])
        .await
        .expect("keyadm set");
    assert!(out.contains("code_mode"), "{out}");
    assert_eq!(show(&gw, "kc").await["code_mode"], "off");
    let refused =
        support::keyadm(&gw.db, &["namespaces", "set", "kc", "--code-mode", "maybe"]).await;
    let (_, message) = refused.expect_err("refused");
    assert!(message.contains("--code-mode"), "{message}");
    assert_eq!(show(&gw, "kc").await["code_mode"], "off");
}
