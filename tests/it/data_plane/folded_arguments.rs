//! One reading inside `arguments` (issue 82 §1): Go's `encoding/json` (mcp-go, the Go SDK
//! before CVE-2026-27896) decodes `PATH`, `paTh` or `di\u{17f}k` (U+017F LONG S is `s`,
//! U+212A KELVIN SIGN is `k`) into the field a rule reads as `path` or `disk`. A lone
//! such member, where no member of the exact name is, let a deny rule see nothing while
//! the backend ran it. Where the rules decide otherwise on what Go reads, it is refused
//! with the id and `data.readsAs` through every door (a session client, a 2026-07-28
//! client, REST execution, a script's inner call); the exact name is still decided by
//! the rule; a member the rules decide on alike either way is forwarded as it is.

use serde_json::{Value, json};

use crate::support;
use crate::support::gateway::TestGateway;
use crate::support::http::send_json;
use crate::support::mcp::{Client, response_message, text_of};
use crate::support::mock::Mock;

const RULE: &str = "tool.name == 'beta__echo' && ((has(arguments.path) && \
                    arguments.path.startsWith('/etc')) || (has(arguments.disk) && arguments.disk == 'sda'))";

fn call(id: u64, tool: &str, args: &Value, modern: bool) -> Value {
    let mut params = json!({"name": tool, "arguments": args});
    if modern {
        params["_meta"] = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                                 "io.modelcontextprotocol/clientCapabilities": {}});
    }
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params})
}

async fn echoes(beta: &Mock) -> u64 {
    beta.control("GET", "/control/stats").await["calls"]["echo"]
        .as_u64()
        .unwrap_or(0)
}

/// The refused spellings, each with the member's name and the name Go reads it as.
fn spellings() -> Vec<(Value, &'static str, &'static str)> {
    vec![
        (
            json!({"message": "m", "PATH": "/etc/passwd"}),
            "PATH",
            "path",
        ),
        (
            json!({"message": "m", "Path": "/etc/passwd"}),
            "Path",
            "path",
        ),
        (
            json!({"message": "m", "paTh": "/etc/passwd"}),
            "paTh",
            "path",
        ),
        (
            json!({"message": "m", "di\u{17f}k": "sda"}),
            "di\u{17f}k",
            "disk",
        ),
        (
            json!({"message": "m", "dis\u{212a}": "sda"}),
            "dis\u{212a}",
            "disk",
        ),
    ]
}

#[tokio::test]
async fn a_lone_member_go_reads_as_one_a_rule_reads_is_refused_through_every_door() {
    let gw = TestGateway::start().await;
    let beta = Mock::start(&[]);
    gw.register(json!({"name": "beta", "protocol": "http", "url": beta.url()}))
        .await;
    gw.namespace(json!({"name": "fold", "servers": ["beta"], "code_mode": "on"}))
        .await;
    let body =
        json!({"name": "no-etc", "text": json!([{"effect": "deny", "when": RULE}]).to_string()});
    let r = send_json(gw.addr, "POST", "/api/v1/policies", &gw.admin_key, &body).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let mut sess = Client::new(gw.addr, "/mcp/fold", Some(&gw.client_key));
    sess.initialize().await;
    support::eventually(support::WAIT, "beta listed and the policy on", || async {
        let m = response_message(
            &sess
                .post(&call(
                    1,
                    "beta__echo",
                    &json!({"message": "m", "path": "/etc/x"}),
                    false,
                ))
                .await,
        );
        (m["error"]["data"]["policy"] == "no-etc").then_some(())
    })
    .await;
    let modern = Client::new(gw.addr, "/mcp/fold", Some(&gw.client_key));
    let before = echoes(&beta).await;

    for (id, (args, member, reads_as)) in (10..).zip(spellings()) {
        let at = format!("params.arguments.{member}");
        let check = |door: &str, e: &Value| {
            assert_eq!(e["code"], -32602, "{door} {member}: {e}");
            assert_eq!(e["data"]["readsAs"], reads_as, "{door} {member}: {e}");
            assert_eq!(e["data"]["at"], at.as_str(), "{door} {member}: {e}");
        };
        for (door, r) in [
            (
                "session",
                sess.post(&call(id, "beta__echo", &args, false)).await,
            ),
            (
                "2026-07-28",
                modern
                    .post_stateless(&call(id, "beta__echo", &args, true))
                    .await,
            ),
        ] {
            let m = response_message(&r);
            assert_eq!(m["id"], id, "{door}: the refusal answers the id: {m}");
            check(door, &m["error"]);
            let message = m["error"]["message"].as_str().unwrap_or_default();
            assert!(message.contains("spelt as the method defines it"), "{m}");
        }
        let r = send_json(
            gw.addr,
            "POST",
            "/api/v1/mcp/servers/beta/tools/echo/execute",
            &gw.client_key,
            &args,
        )
        .await;
        assert_eq!(r.status, 400, "REST {member}: {}", r.text());
        check("REST", &r.json()["rpc_error"]);
        let code = format!(
            "try {{ await callTool('beta__echo', {args}); return 'ran'; }} \
             catch (e) {{ return {{code: e.code, data: e.data}}; }}"
        );
        let m = response_message(
            &modern
                .post_stateless(&call(id + 100, "run_code", &json!({"code": code}), true))
                .await,
        );
        check("script", &m["result"]["structuredContent"]["result"]);
    }
    assert_eq!(echoes(&beta).await, before, "nothing refused reached beta");

    // The exact name is decided by the rule. A member the rules decide on alike however
    // it is read is forwarded as it is: on a tool no rule reads the arguments of (add),
    // a value the rule lets through either way, a name no rule reads (`Mode`).
    for (door, r) in [
        (
            "session",
            sess.post(&call(
                2,
                "beta__echo",
                &json!({"message": "m", "path": "/etc/x"}),
                false,
            ))
            .await,
        ),
        (
            "2026-07-28",
            modern
                .post_stateless(&call(
                    2,
                    "beta__echo",
                    &json!({"message": "m", "path": "/etc/x"}),
                    true,
                ))
                .await,
        ),
    ] {
        let m = response_message(&r);
        assert_eq!(m["error"]["data"]["policy"], "no-etc", "{door}: {m}");
    }
    let m = response_message(
        &sess
            .post(&call(
                3,
                "beta__add",
                &json!({"a": 1, "b": 2, "PATH": "/etc/x"}),
                false,
            ))
            .await,
    );
    assert_eq!(text_of(&m["result"]), "3", "{m}");
    for (id, args) in [
        (4, json!({"message": "hi", "Mode": "/etc/x"})),
        (5, json!({"message": "hi", "Path": "/tmp/x"})),
    ] {
        let m = response_message(
            &modern
                .post_stateless(&call(id, "beta__echo", &args, true))
                .await,
        );
        assert_eq!(text_of(&m["result"]), "hi", "{args}: {m}");
    }
}
