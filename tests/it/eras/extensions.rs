//! Extensions (SEP-2133) through the gateway, end to end: MCP Apps views routed to the
//! server that owns them (renamed when two servers use one URI), the extension offered
//! and carried upstream, client-hosted tasks declared to backends, and extensions the
//! gateway does not handle neither offered nor passed on.

use crate::support::gateway::TestGateway;
use crate::support::mcp::{Client, response_message, text_of};
use crate::support::mock::Mock;
use serde_json::{Value, json};

const UI: &str = "io.modelcontextprotocol/ui";

/// Everything a client can declare, with an extension the gateway does not handle.
fn every_capability() -> Value {
    json!({"sampling": {"tools": {}}, "roots": {"listChanged": true},
           "elicitation": {"form": {}, "url": {}},
           "tasks": {"requests": {"sampling": {"createMessage": {}}, "elicitation": {"create": {}}}},
           "extensions": {UI: {"mimeTypes": ["text/html;profile=mcp-app"]},
                          "com.example/spy": {"exfiltrate": true}}})
}

fn stateless(id: u64, method: &str, mut params: Value) -> Value {
    params["_meta"] = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                             "io.modelcontextprotocol/clientCapabilities":
                                 {"extensions": {UI: {}, "com.example/spy": {}}}});
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

/// The process id a mock's `whoami` names.
async fn pid(c: &Client, tool: &str) -> String {
    let r = c.result("tools/call", json!({"name": tool})).await;
    let text = text_of(&r);
    text.split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

async fn read(c: &Client, uri: &str) -> Value {
    c.result("resources/read", json!({"uri": uri})).await
}

#[tokio::test]
async fn mcp_apps_views_reach_their_owner_renamed_on_a_collision_in_both_eras() {
    let gw = TestGateway::start().await;
    let beta = Mock::start(&["--profile", "rich"]);
    let gamma = Mock::start(&["--profile", "rich"]);
    // beta is registered first: it keeps the URIs both servers use.
    gw.register(json!({"name": "beta", "protocol": "http", "url": beta.url()}))
        .await;
    gw.register(json!({"name": "gamma", "protocol": "http", "url": gamma.url()}))
        .await;
    let mut c = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    let init = c.initialize_with(every_capability()).await.json();
    // Offered: the extension the gateway routes; not the one it does not know.
    assert_eq!(
        init["result"]["capabilities"]["extensions"],
        json!({UI: {}}),
        "{init}"
    );

    let tools = c.result("tools/list", json!({})).await;
    let meta = |name: &str| {
        tools["tools"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("{name} listed: {tools}"))["_meta"]
            .clone()
    };
    assert_eq!(
        meta("beta__dashboard"),
        json!({"ui": {"resourceUri": "ui://dashboard/app.html", "visibility": ["model", "app"]}})
    );
    assert_eq!(
        meta("gamma__dashboard"),
        json!({"ui": {"resourceUri": "ui://gamma/dashboard/app.html", "visibility": ["model", "app"]}})
    );
    assert_eq!(
        meta("beta__chart"),
        json!({"ui/resourceUri": "ui://chart/view.html"})
    );
    assert_eq!(
        meta("gamma__chart"),
        json!({"ui/resourceUri": "ui://gamma/chart/view.html"})
    );
    let listed = c.result("resources/list", json!({})).await;
    let uris: Vec<&str> = listed["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["uri"].as_str())
        .filter(|u| u.starts_with("ui://"))
        .collect();
    assert_eq!(
        uris,
        ["ui://dashboard/app.html", "ui://gamma/dashboard/app.html"],
        "{listed}"
    );

    // Every view, listed or only named by a tool, is read from its own server under
    // that server's own URI.
    let (beta_pid, gamma_pid) = (
        pid(&c, "beta__whoami").await,
        pid(&c, "gamma__whoami").await,
    );
    assert_ne!(beta_pid, gamma_pid);
    for (uri, own, owner) in [
        (
            "ui://dashboard/app.html",
            "ui://dashboard/app.html",
            &beta_pid,
        ),
        (
            "ui://gamma/dashboard/app.html",
            "ui://dashboard/app.html",
            &gamma_pid,
        ),
        ("ui://chart/view.html", "ui://chart/view.html", &beta_pid),
        (
            "ui://gamma/chart/view.html",
            "ui://chart/view.html",
            &gamma_pid,
        ),
    ] {
        let r = read(&c, uri).await;
        let content = &r["contents"][0];
        assert_eq!(content["mimeType"], "text/html;profile=mcp-app", "{r}");
        assert_eq!(
            content["text"],
            format!("<!doctype html><p>{own} of {owner}</p>"),
            "{uri}: {r}"
        );
    }
    let unknown = c
        .call(
            json!(9),
            "resources/read",
            json!({"uri": "ui://nobody/x.html"}),
        )
        .await;
    assert_eq!(unknown["error"]["code"], -32602, "{unknown}");

    // What gamma was told this client declared: the extension with the settings the
    // gateway carries, the client's tasks, and nothing of the unknown extension.
    let declared = gamma.control("GET", "/control/stats").await["client_capabilities"].clone();
    assert_eq!(
        declared["extensions"],
        json!({UI: {"mimeTypes": ["text/html;profile=mcp-app"]}}),
        "{declared}"
    );
    assert_eq!(
        declared["tasks"],
        json!({"requests": {"sampling": {"createMessage": {}}, "elicitation": {"create": {}}}})
    );
    assert!(!declared.to_string().contains("spy"), "{declared}");

    // A 2026-07-28 client: the same offer and the same routes.
    let modern = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    let discover = response_message(
        &modern
            .post_stateless(&stateless(1, "server/discover", json!({})))
            .await,
    );
    assert_eq!(
        discover["result"]["capabilities"]["extensions"],
        json!({UI: {}}),
        "{discover}"
    );
    let r = response_message(
        &modern
            .post_stateless(&stateless(
                2,
                "resources/read",
                json!({"uri": "ui://gamma/dashboard/app.html"}),
            ))
            .await,
    );
    assert_eq!(
        r["result"]["contents"][0]["text"],
        format!("<!doctype html><p>ui://dashboard/app.html of {gamma_pid}</p>"),
        "{r}"
    );
}

/// A client that declares nothing is still served every view (a host without MCP Apps
/// shows the tools' text); the backend's session for it declares no extension.
#[tokio::test]
async fn a_client_without_the_extension_is_not_declared_to_have_it() {
    let gw = TestGateway::start().await;
    let beta = Mock::start(&["--profile", "rich"]);
    gw.register(json!({"name": "beta", "protocol": "http", "url": beta.url()}))
        .await;
    let mut c = Client::new(gw.addr, "/mcp", Some(&gw.client_key));
    c.initialize_with(json!({"extensions": {"com.example/spy": {}}}))
        .await;
    let r = read(&c, "ui://chart/view.html").await;
    assert!(
        r["contents"][0]["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("<!doctype html><p>ui://chart/view.html of ")),
        "{r}"
    );
    let declared = beta.control("GET", "/control/stats").await["client_capabilities"].clone();
    assert_eq!(declared, json!({}), "{declared}");
}
