//! One scenario, four bridges. Every scenario here is written once, against a `Bridge`,
//! and `across_the_bridges!` makes it four tests, one per (client era, backend era) pair:
//! `session_to_session` and `modern_to_modern` (nothing to cross), `session_to_modern`
//! (a session client, a 2026-07-28 backend: the gateway calls it statelessly and turns
//! what it answers into the session's messages) and `modern_to_session` (a 2026-07-28
//! client, a session backend: the gateway holds the session and stamps the 2026-07-28
//! result). The backends are the conformance fixtures (`support::fixture`), which serve
//! the same `test_*` tools in either era, so one assertion holds for all four; where the
//! client's era rightly changes the wire (`resultType`), the scenario says so by
//! `client_era`, never by bridge. docs/architecture/eras.md describes the pairs.

use serde_json::{Value, json};

use crate::support::fixture::{Era, Fixture};
use crate::support::gateway::TestGateway;
use crate::support::http::Resp;
use crate::support::mcp::{Client, messages, response_message, text_of};

/// A gateway with one fixture of the backend's era registered as `fx`, and a client of
/// the client's era on `/mcp`.
struct Bridge {
    client_era: Era,
    client: Client,
    _fixture: Fixture,
    _gw: TestGateway,
}

impl Bridge {
    async fn open(client_era: Era, backend_era: Era) -> Bridge {
        let gw = TestGateway::start().await;
        let fixture = Fixture::start(backend_era).await;
        gw.register(json!({"name": "fx", "protocol": "http", "url": fixture.url()}))
            .await;
        let mut client = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
        if client_era == Era::Session {
            client.version = "2025-11-25".into();
            client.initialize().await;
        }
        Bridge {
            client_era,
            client,
            _fixture: fixture,
            _gw: gw,
        }
    }

    /// Sends `method` with `params` and id `id` as a client of this era does: in the
    /// session, or with the version and capabilities in `_meta` and the headers mirrored.
    async fn send(&self, id: Value, method: &str, mut params: Value) -> Resp {
        let r = match self.client_era {
            Era::Session => {
                self.client
                    .post(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
                    .await
            }
            Era::Modern => {
                let meta = params
                    .as_object_mut()
                    .expect("params are an object")
                    .entry("_meta")
                    .or_insert_with(|| json!({}));
                meta["io.modelcontextprotocol/protocolVersion"] = json!("2026-07-28");
                meta["io.modelcontextprotocol/clientCapabilities"] = json!({});
                self.client
                    .post_stateless(
                        &json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}),
                    )
                    .await
            }
        };
        assert_eq!(r.status, 200, "{method}: {}", r.text());
        r
    }

    /// The answer to a `tools/call` of `tool`, with its id checked.
    async fn call(&self, id: Value, tool: &str, params: Value) -> (Value, Resp) {
        let mut params = params;
        params["name"] = json!(tool);
        let r = self.send(id.clone(), "tools/call", params).await;
        let m = response_message(&r);
        assert_eq!(m["id"], id, "the client's own id comes back: {m}");
        (m, r)
    }

    /// The result's `resultType` as the client's era wants it: `complete` for a
    /// 2026-07-28 client, absent for a session client.
    fn assert_result_type(&self, result: &Value) {
        match self.client_era {
            Era::Modern => assert_eq!(result["resultType"], "complete", "{result}"),
            Era::Session => assert!(result.get("resultType").is_none(), "{result}"),
        }
    }
}

/// Instantiates each scenario once per bridge, as a module of four tests named for the
/// (client era, backend era) pair.
macro_rules! across_the_bridges {
    ($($scenario:ident),+ $(,)?) => {$(
        mod $scenario {
            use crate::support::fixture::Era;

            #[tokio::test]
            async fn session_to_session() {
                super::$scenario(super::Bridge::open(Era::Session, Era::Session).await).await;
            }

            #[tokio::test]
            async fn session_to_modern() {
                super::$scenario(super::Bridge::open(Era::Session, Era::Modern).await).await;
            }

            #[tokio::test]
            async fn modern_to_session() {
                super::$scenario(super::Bridge::open(Era::Modern, Era::Session).await).await;
            }

            #[tokio::test]
            async fn modern_to_modern() {
                super::$scenario(super::Bridge::open(Era::Modern, Era::Modern).await).await;
            }
        }
    )+};
}

across_the_bridges!(
    a_tool_is_listed_and_called_in_the_clients_era,
    a_tool_error_is_a_result_and_an_unknown_tool_an_error_with_its_id,
    progress_reaches_the_client_with_its_own_token_before_the_result,
);

/// The fixture's tools are listed under the server's prefix; a call's text comes back
/// unchanged, under the id the client chose (a string and a number), stamped for the
/// client's era.
async fn a_tool_is_listed_and_called_in_the_clients_era(b: Bridge) {
    let listed = response_message(&b.send(json!("list-1"), "tools/list", json!({})).await);
    let names: Vec<&str> = listed["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("a tool list: {listed}"))
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    for tool in [
        "fx__test_simple_text",
        "fx__test_error_handling",
        "fx__test_tool_with_progress",
    ] {
        assert!(names.contains(&tool), "{tool} in {names:?}");
    }
    b.assert_result_type(&listed["result"]);
    for id in [json!("call-7"), json!(42)] {
        let (m, _) = b
            .call(id, "fx__test_simple_text", json!({"arguments": {}}))
            .await;
        assert_eq!(
            text_of(&m["result"]),
            "This is a simple text response for testing.",
            "{m}"
        );
        assert!(m["result"]["isError"] != json!(true), "{m}");
        b.assert_result_type(&m["result"]);
    }
}

/// A tool that fails is a result with `isError` (not a JSON-RPC error), in both eras and
/// across both bridges; a tool nobody offers is a JSON-RPC error carrying the request's
/// id, and the view goes on serving.
async fn a_tool_error_is_a_result_and_an_unknown_tool_an_error_with_its_id(b: Bridge) {
    let (m, _) = b
        .call(
            json!(3),
            "fx__test_error_handling",
            json!({"arguments": {}}),
        )
        .await;
    assert!(m.get("error").is_none(), "{m}");
    assert_eq!(m["result"]["isError"], true, "{m}");
    assert!(
        text_of(&m["result"]).contains("intentionally returns an error"),
        "{m}"
    );
    b.assert_result_type(&m["result"]);
    let (m, _) = b
        .call(
            json!("nobody"),
            "fx__no_such_tool",
            json!({"arguments": {}}),
        )
        .await;
    assert!(m["error"]["code"].is_i64(), "a JSON-RPC error: {m}");
    assert!(m.get("result").is_none(), "{m}");
    let (m, _) = b
        .call(json!(4), "fx__test_simple_text", json!({"arguments": {}}))
        .await;
    assert!(!text_of(&m["result"]).is_empty(), "still served: {m}");
}

/// The backend's progress reaches the client on the call's own stream, before the
/// result, under the token the client chose (whatever token the gateway used upstream).
async fn progress_reaches_the_client_with_its_own_token_before_the_result(b: Bridge) {
    let (m, r) = b
        .call(
            json!(5),
            "fx__test_tool_with_progress",
            json!({"arguments": {}, "_meta": {"progressToken": "mine-5"}}),
        )
        .await;
    b.assert_result_type(&m["result"]);
    let all = messages(&r);
    let answer = all
        .iter()
        .position(|m| m["id"] == 5 && m.get("method").is_none())
        .unwrap_or_else(|| panic!("the answer: {all:?}"));
    let progress: Vec<&Value> = all[..answer]
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
        .collect();
    assert_eq!(progress.len(), 3, "three steps before the result: {all:?}");
    for p in &progress {
        assert_eq!(p["params"]["progressToken"], "mine-5", "{p}");
    }
    assert!(
        all[answer + 1..].is_empty(),
        "nothing after the result: {all:?}"
    );
}
