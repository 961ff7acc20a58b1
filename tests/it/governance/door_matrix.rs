//! One door (issue 83): the same call, sent through every way in, is decided, charged,
//! audited and answered alike. A table: every door ([`Door`]: a session client, a
//! 2026-07-28 client, a batch element, REST execution, a code-mode script's inner call,
//! a 2026-07-28 client's confirmed retry, a 2025-11-25 session's task request, a 2026-07-28
//! client's task through the tasks extension) times every kind of refusal ([`Kind`]: out of
//! reach, disabled, not on the namespace's allow-list, held for review, a policy's deny, a confirmation
//! that cannot be asked or that the user declined, a guardrail's deny, the key's rate and
//! concurrency, a tool's rate, the daily quota) and a plain success. For each pair, with a key
//! of its own (limited to the namespace `door`, so that every door reaches the same
//! view): the same decision for each attempt (the JSON-RPC code and the refusal's
//! `data`), the door's form of it (a JSON-RPC error over MCP; over REST the fitting
//! status with the JSON-RPC error under `rpc_error`; an `Error` with `code` and `data`
//! inside a script), exactly the audit rows of a direct call (one per call decided, with
//! its outcome and reason), and as many calls forwarded to the backend as went through
//! (none refused ever reaches it; under `max_concurrent` 1 no two are in flight).
//!
//! A door or a refusal kind is one row: an arm of [`Door::send`] or a [`case`].

use std::collections::HashMap;

use futures_util::future::join_all;
use metamcp::model::limits::{LimitsChange, Rate, Setting};
use metamcp::store::keys::{NewKey, Scope};
use serde_json::{Value, json};

use crate::governance::guardrails::{Answer as GuardAnswer, Guard};
use crate::support;
use crate::support::gateway::{TestGateway, key_store};
use crate::support::http::{get, send_json};
use crate::support::mcp::{Client, response_message};
use crate::support::mock::Mock;

/// The ways a call comes in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Door {
    /// A 2025-06-18 session client on `/mcp`.
    Session,
    /// A 2026-07-28 client, each request on its own.
    Modern,
    /// An element of a 2025-03-26 session's batch.
    Batch,
    /// `POST /api/v1/mcp/servers/alpha/tools/{tool}/execute`.
    Rest,
    /// A call made by a `run_code` script (sent by a 2026-07-28 client).
    Inner,
    /// A 2026-07-28 client that declares elicitation, whose every call a policy asks it
    /// to confirm: the call, answered `input_required`, then its retry with the answer
    /// and the state (one call: one charge, one audit row).
    Confirmed,
    /// A task-augmented `tools/call` (`params.task`) of a 2025-11-25 session client, its
    /// backend running tools as tasks: a task under a gateway id, its end read with
    /// `tasks/result`; a refusal is an error at once, before any task exists.
    Task,
    /// A `tools/call` of a 2026-07-28 client that declares the tasks extension, the same
    /// backend running it as a task: a flat task under a gateway id, read with
    /// `tasks/get` until it ends; a refusal is an error at once, before any task exists.
    ModernTask,
}

const DOORS: [Door; 8] = [
    Door::Session,
    Door::Modern,
    Door::Batch,
    Door::Rest,
    Door::Inner,
    Door::Confirmed,
    Door::Task,
    Door::ModernTask,
];

/// The kinds of decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Success,
    OutOfReach,
    Disabled,
    NotAllowed,
    Held,
    PolicyDeny,
    ConfirmUnasked,
    ConfirmDeclined,
    Guardrail,
    KeyRate,
    KeyConcurrency,
    ToolRate,
    DailyQuota,
}

const KINDS: [Kind; 13] = [
    Kind::Success,
    Kind::OutOfReach,
    Kind::Disabled,
    Kind::NotAllowed,
    Kind::Held,
    Kind::PolicyDeny,
    Kind::ConfirmUnasked,
    Kind::ConfirmDeclined,
    Kind::Guardrail,
    Kind::KeyRate,
    Kind::KeyConcurrency,
    Kind::ToolRate,
    Kind::DailyQuota,
];

/// What one attempt came to, as the door answered it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Answer {
    Ok,
    /// The JSON-RPC code and what the refusal names (`data.limit`, `data.policy`).
    Refused(i64, String),
    /// Not in the door's form of an answer: what came.
    Malformed(String),
}

/// Whether a door can make a kind's call: a confirmation that cannot be asked is one of
/// a client that declares no elicitation, and only a client that can be asked declines.
fn applies(kind: Kind, door: Door) -> bool {
    match kind {
        Kind::ConfirmUnasked => door != Door::Confirmed,
        Kind::ConfirmDeclined => door == Door::Confirmed,
        _ => true,
    }
}

/// One kind's case: the call (a tool by the name the view exposes, and its arguments),
/// the key's limits, how many attempts and whether at once, what each comes to, the
/// REST status of a refusal, and the audit rows as `(outcome, reason)`.
struct Case {
    tool: &'static str,
    args: Value,
    limits: LimitsChange,
    attempts: usize,
    together: bool,
    want: Vec<Answer>,
    status: u16,
    rows: Vec<Row>,
    /// Whether a client asked to confirm declines.
    declines: bool,
}

/// An audit row as `(outcome, reason)`.
type Row = (String, Option<String>);

const INVALID_PARAMS: i64 = -32602;
const POLICY: i64 = -32003;
const LIMITED: i64 = -32029;

fn rate(s: &str) -> Option<Setting<Rate>> {
    Rate::parse(s).ok().map(Setting::Is)
}

fn row(outcome: &str, reason: Option<&str>) -> Row {
    (outcome.to_string(), reason.map(String::from))
}

fn case(kind: Kind, door: Door) -> Case {
    let limited = |why: &str| Answer::Refused(LIMITED, why.to_string());
    let ok_then = |why: &str| Case {
        tool: "alpha__echo",
        args: json!({"message": "door"}),
        limits: LimitsChange::default(),
        attempts: 2,
        together: false,
        want: vec![Answer::Ok, limited(why)],
        status: 429,
        rows: vec![
            row("ok", None),
            row("denied", Some(&format!("limit {why}"))),
        ],
        declines: false,
    };
    let once = |tool: &'static str, want: Answer, status: u16, rows| Case {
        tool,
        args: json!({}),
        limits: LimitsChange::default(),
        attempts: 1,
        together: false,
        want: vec![want],
        status,
        rows,
        declines: false,
    };
    match kind {
        Kind::Success => Case {
            args: json!({"message": "door"}),
            ..once("alpha__echo", Answer::Ok, 200, vec![row("ok", None)])
        },
        // A name the server does not list: nothing called, so nothing recorded.
        Kind::OutOfReach => once(
            "alpha__nosuch",
            Answer::Refused(INVALID_PARAMS, String::new()),
            404,
            vec![],
        ),
        Kind::Disabled => once(
            "alpha__fail",
            Answer::Refused(INVALID_PARAMS, String::new()),
            404,
            vec![row("denied", Some("disabled in the namespace"))],
        ),
        // A tool the server lists that the namespace's allow-list leaves out.
        Kind::NotAllowed => once(
            "alpha__progress",
            Answer::Refused(INVALID_PARAMS, String::new()),
            404,
            vec![row("denied", Some("disabled in the namespace"))],
        ),
        // A tool whose definition changed once pinned: held for review.
        Kind::Held => once(
            "alpha__hangup",
            Answer::Refused(INVALID_PARAMS, String::new()),
            409,
            vec![row("denied", Some("held (changed)"))],
        ),
        Kind::PolicyDeny => Case {
            args: json!({"a": 1, "b": 2}),
            ..once(
                "alpha__add",
                Answer::Refused(POLICY, "door".into()),
                403,
                vec![row("denied", Some("policy door"))],
            )
        },
        // A confirmation none of these clients can be asked for (none declares
        // elicitation; REST has no one to ask).
        Kind::ConfirmUnasked => once(
            "alpha__whoami",
            Answer::Refused(POLICY, "door".into()),
            403,
            vec![row("denied", Some("confirmation cannot ask (policy door)"))],
        ),
        Kind::ConfirmDeclined => Case {
            declines: true,
            args: json!({"message": "door"}),
            ..once(
                "alpha__echo",
                Answer::Refused(POLICY, "door".into()),
                403,
                vec![row("denied", Some("confirmation declined (policy door)"))],
            )
        },
        Kind::Guardrail => once(
            "alpha__trace",
            Answer::Refused(POLICY, "guardrail".into()),
            403,
            vec![row("denied", Some("guardrail"))],
        ),
        // A task's end is read by a request of its own (`tasks/result`), which the key's
        // request rate counts as it counts every request: a task door's key has one more.
        Kind::KeyRate => Case {
            limits: LimitsChange {
                rate: rate(if door == Door::Task { "2/m" } else { "1/m" }),
                ..LimitsChange::default()
            },
            ..ok_then("rate")
        },
        Kind::KeyConcurrency => Case {
            tool: "alpha__sleep",
            args: json!({"ms": 1500}),
            limits: LimitsChange {
                max_concurrent: Some(Setting::Is(1)),
                ..LimitsChange::default()
            },
            together: true,
            ..ok_then("concurrency")
        },
        Kind::ToolRate => Case {
            tool: "alpha__big",
            args: json!({"bytes": 8}),
            ..ok_then("tool_rate")
        },
        // The run is a tool call of the day too: a script's key has one more.
        Kind::DailyQuota => Case {
            limits: LimitsChange {
                daily_calls: Some(Setting::Is(if door == Door::Inner { 2 } else { 1 })),
                ..LimitsChange::default()
            },
            ..ok_then("daily_calls")
        },
    }
}

/// The `data` member a refusal names itself by (a limit's name: `limit_name`, which
/// both eras carry; a 2026-07-28 client's `limit` is the number; a guardrail: that it
/// is one, its URL being the test's own port).
fn named(code: i64, data: &Value) -> String {
    let member = match code {
        LIMITED => "limit_name",
        POLICY if data.get("guardrail").is_some() => return "guardrail".into(),
        POLICY => "policy",
        _ => return String::new(),
    };
    data[member].as_str().unwrap_or("-").to_string()
}

/// A refusal as the matrix compares it: the decision, whatever the era's code for it
/// (a 2026-07-28 client gets the gateway's own codes outside `-32768..-32000`,
/// `docs/reference/errors.md`), and what it names.
fn refused(code: i64, data: &Value) -> Answer {
    use metamcp::mcp::wire::codes;
    let code = match code {
        codes::MODERN_LIMITED => LIMITED,
        codes::MODERN_POLICY_DENIED => POLICY,
        c => c,
    };
    Answer::Refused(code, named(code, data))
}

/// A JSON-RPC answer message as an [`Answer`].
fn of_message(m: &Value) -> Answer {
    if m.get("result").is_some() {
        return Answer::Ok;
    }
    match m["error"]["code"].as_i64() {
        Some(code) => refused(code, &m["error"]["data"]),
        None => Answer::Malformed(m.to_string()),
    }
}

/// A 2026-07-28 `tools/call` declaring elicitation, with a retry's state and answer.
fn asking_call(id: u64, c: &Case, retry: Option<&str>) -> Value {
    let mut m = call_message(id, c.tool, &c.args, true);
    m["params"]["_meta"]["io.modelcontextprotocol/clientCapabilities"] = json!({"elicitation": {}});
    if let Some(state) = retry {
        let answer = match c.declines {
            false => json!({"action": "accept", "content": {"confirm": true}}),
            true => json!({"action": "decline"}),
        };
        m["params"]["requestState"] = json!(state);
        m["params"]["inputResponses"] = json!({ "confirm": answer });
    }
    m
}

fn call_message(id: u64, tool: &str, args: &Value, modern: bool) -> Value {
    let mut params = json!({"name": tool, "arguments": args});
    if modern {
        params["_meta"] = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                                 "io.modelcontextprotocol/clientCapabilities": {}});
    }
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params})
}

/// A script making the case's attempts, each caught: `{ok}` or the `Error`'s `code`
/// and `data`.
fn script(c: &Case) -> String {
    let one = format!(
        "async () => {{ try {{ await callTool({}, {}, {{raw: true}}); return {{ok: true}}; }} \
         catch (e) {{ return {{code: e.code, data: e.data === undefined ? null : e.data}}; }} }}",
        json!(c.tool),
        c.args
    );
    let calls = match c.together {
        true => format!(
            "await Promise.all(Array.from({{length: {}}}, one))",
            c.attempts
        ),
        false => format!(
            "await (async () => {{ const out = []; for (let i = 0; i < {}; i++) \
             out.push(await one()); return out; }})()",
            c.attempts
        ),
    };
    format!("const one = {one};\nreturn {calls};")
}

struct Cell<'a> {
    gw: &'a TestGateway,
    key: &'a str,
    case: &'a Case,
}

impl Door {
    /// The case's attempts through this door, as the door answered each.
    async fn send(self, cell: &Cell<'_>) -> Vec<Answer> {
        let (gw, key, c) = (cell.gw, cell.key, cell.case);
        let attempts = (0..c.attempts as u64).map(|i| self.attempt(cell, i));
        match self {
            Door::Inner => inner(gw, key, c).await,
            Door::Task | Door::ModernTask => tasks(self, cell).await,
            _ if c.together => join_all(attempts).await,
            _ => {
                let mut out = Vec::new();
                for a in attempts {
                    out.push(a.await);
                }
                out
            }
        }
    }

    async fn attempt(self, cell: &Cell<'_>, id: u64) -> Answer {
        let (gw, key, c) = (cell.gw, cell.key, cell.case);
        match self {
            Door::Session => {
                let mut client = Client::new(gw.addr, "/mcp", Some(key));
                client.initialize().await;
                of_message(&response_message(
                    &client.post(&call_message(id, c.tool, &c.args, false)).await,
                ))
            }
            Door::Modern => {
                let client = Client::new(gw.addr, "/mcp", Some(key));
                let r = client
                    .post_stateless(&call_message(id, c.tool, &c.args, true))
                    .await;
                of_message(&response_message(&r))
            }
            Door::Batch => {
                let mut client = Client::new(gw.addr, "/mcp", Some(key));
                client.version = "2025-03-26".into();
                client.initialize().await;
                let batch = json!([call_message(id, c.tool, &c.args, false)]);
                let r = client.post(&batch).await;
                match r.json() {
                    Value::Array(a) if a.len() == 1 => of_message(&a[0]),
                    other => Answer::Malformed(format!("{} {other}", r.status)),
                }
            }
            Door::Rest => {
                let own = c.tool.trim_start_matches("alpha__");
                let path = format!("/api/v1/mcp/servers/alpha/tools/{own}/execute");
                let r = send_json(gw.addr, "POST", &path, key, &c.args).await;
                let body = r.json();
                if r.status == 200 {
                    return Answer::Ok;
                }
                match body["rpc_error"]["code"].as_i64() {
                    Some(code) if r.status == c.status => refused(code, &body["rpc_error"]["data"]),
                    _ => Answer::Malformed(format!("{} {body}", r.status)),
                }
            }
            Door::Confirmed => {
                let client = Client::new(gw.addr, "/mcp", Some(key));
                let first =
                    response_message(&client.post_stateless(&asking_call(id, c, None)).await);
                let asked = first["result"]["resultType"] == "input_required";
                let Some(state) = first["result"]["requestState"].as_str().filter(|_| asked) else {
                    return of_message(&first);
                };
                let again = client
                    .post_stateless(&asking_call(id, c, Some(state)))
                    .await;
                of_message(&response_message(&again))
            }
            Door::Inner | Door::Task | Door::ModernTask => {
                unreachable!("a script makes its attempts itself, a task door in two halves")
            }
        }
    }
}

/// A task the gateway made, not yet read to its end: its id, and the request's `_meta`
/// (a 2026-07-28 client's reads carry it).
struct Made {
    task: String,
    meta: Option<Value>,
}

/// A task door's client: a 2025-11-25 session, or a 2026-07-28 client.
async fn task_client(door: Door, cell: &Cell<'_>) -> Client {
    let mut client = Client::new(cell.gw.addr, "/mcp", Some(cell.key));
    if door == Door::Task {
        client.version = "2025-11-25".into();
        client.initialize().await;
    }
    client
}

/// A task request of a task door: refused at once (a JSON-RPC error, no task), or a
/// task under a gateway id. Anything else is not the door's form.
async fn make_task(client: &Client, cell: &Cell<'_>, id: u64) -> Result<Made, Answer> {
    let c = cell.case;
    let modern = client.version != "2025-11-25";
    let mut m = call_message(id, c.tool, &c.args, modern);
    let created = match modern {
        false => {
            m["params"]["task"] = json!({"ttl": 60000});
            response_message(&client.post(&m).await)
        }
        true => {
            m["params"]["_meta"]["io.modelcontextprotocol/clientCapabilities"]["extensions"] =
                json!({"io.modelcontextprotocol/tasks": {}});
            response_message(&client.post_stateless(&m).await)
        }
    };
    if created.get("error").is_some() {
        return Err(of_message(&created));
    }
    let task = match modern {
        false => created["result"]["task"]["taskId"].as_str(),
        true => created["result"]["taskId"]
            .as_str()
            .filter(|_| created["result"]["resultType"] == "task"),
    };
    match task.filter(|t| t.starts_with("mtk1.")) {
        Some(task) => Ok(Made {
            task: task.to_string(),
            meta: modern.then(|| m["params"]["_meta"].clone()),
        }),
        None => Err(Answer::Malformed(format!(
            "no task of the gateway's: {created}"
        ))),
    }
}

/// A made task's end: a 2025-11-25 session's `tasks/result` is the call's result; a
/// 2026-07-28 client's `tasks/get` is read until the task is `completed`. A read the
/// key's rate refuses ends the reading: the call was admitted and its task made, which
/// is this door's answer (the rate's own cell counts the reads as requests).
async fn task_end(client: &Client, made: Made, id: u64) -> Answer {
    let Made { task, meta } = made;
    let Some(meta) = meta else {
        let end = client
            .call(json!(id + 100), "tasks/result", json!({"taskId": task}))
            .await;
        return match end.get("result") {
            Some(_) => Answer::Ok,
            None => Answer::Malformed(format!("a task created, then failed: {end}")),
        };
    };
    let mut get = call_message(id + 100, "", &json!({}), true);
    get["method"] = json!("tasks/get");
    get["params"] = json!({"taskId": task, "_meta": meta});
    support::eventually(support::WAIT, "the task's end", || async {
        let read = response_message(&client.post_stateless(&get).await);
        match read["result"]["status"].as_str() {
            Some("working") => None,
            Some("completed") => Some(Answer::Ok),
            _ if of_message(&read) == Answer::Refused(LIMITED, "rate".into()) => Some(Answer::Ok),
            _ => Some(Answer::Malformed(format!("a task made, then: {read}"))),
        }
    })
    .await
}

/// A task door's attempts. Made together, a kind's calls are made one after another
/// while the first one's task runs, and their ends read afterwards: a task holds its
/// key's place in flight until it ends, not only until it is made.
async fn tasks(door: Door, cell: &Cell<'_>) -> Vec<Answer> {
    let c = cell.case;
    let client = task_client(door, cell).await;
    let mut out = Vec::new();
    if !c.together {
        for id in 0..c.attempts as u64 {
            out.push(match make_task(&client, cell, id).await {
                Ok(made) => task_end(&client, made, id).await,
                Err(refused) => refused,
            });
        }
        return out;
    }
    let mut made = Vec::new();
    for id in 0..c.attempts as u64 {
        made.push(make_task(&client, cell, id).await);
    }
    for (id, m) in made.into_iter().enumerate() {
        out.push(match m {
            Ok(made) => task_end(&client, made, id as u64).await,
            Err(refused) => refused,
        });
    }
    out
}

/// The case's attempts as a script's inner calls.
async fn inner(gw: &TestGateway, key: &str, c: &Case) -> Vec<Answer> {
    let client = Client::new(gw.addr, "/mcp", Some(key));
    let args = json!({"code": script(c)});
    let r = client
        .post_stateless(&call_message(900, "run_code", &args, true))
        .await;
    let m = response_message(&r);
    let Some(out) = m["result"]["structuredContent"]["result"].as_array() else {
        return vec![Answer::Malformed(m.to_string())];
    };
    out.iter()
        .map(|o| match o["code"].as_i64() {
            _ if o["ok"] == true => Answer::Ok,
            Some(code) => refused(code, &o["data"]),
            None => Answer::Malformed(o.to_string()),
        })
        .collect()
}

/// Calls the backend answered, over all its tools.
async fn forwarded(alpha: &Mock) -> u64 {
    let stats = alpha.control("GET", "/control/stats").await;
    stats["calls"]
        .as_object()
        .map_or(0, |m| m.values().filter_map(Value::as_u64).sum())
}

/// The key's audit rows, but its runs' own: `(outcome, reason)`, sorted.
async fn rows(gw: &TestGateway, key_id: &str) -> Vec<Row> {
    let r = get(
        gw.addr,
        &format!("/api/v1/audit?key={key_id}&limit=100"),
        &gw.admin_key,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let mut rows: Vec<_> = r.json()["entries"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|e| e["tool"] != "run_code")
        .map(|e| {
            let s = |k: &str| e[k].as_str().map(String::from);
            // A guardrail is named by its URL, the test's own port: the kind is enough.
            let reason = s("reason").map(|r| match r.starts_with("guardrail ") {
                true => "guardrail".to_string(),
                false => r,
            });
            (s("outcome").unwrap_or_default(), reason)
        })
        .collect();
    rows.sort();
    rows
}

/// The gateway: alpha (running tools as tasks when asked) in the code-mode namespace `door`, an allow-list that leaves out
/// `alpha__progress`, switches off `alpha__fail` and rates `alpha__big` at one call a
/// minute, with a request guardrail denying `alpha__trace`, and `alpha__hangup` held for
/// review (its description changed once pinned); and a policy `door` denying
/// `alpha__add`, asking to confirm `alpha__whoami`, and every call of a key named
/// `confirmed-…` (the door [`Door::Confirmed`]).
async fn gateway() -> (TestGateway, Mock, Guard) {
    let gw = TestGateway::start().await;
    let alpha = Mock::start(&["--tasks"]);
    let guard = Guard::start(GuardAnswer::DenyTool("alpha__trace")).await;
    gw.register(json!({"name": "alpha", "protocol": "http", "url": alpha.url()}))
        .await;
    let on = json!({"enabled": true});
    let ns = json!({"name": "door", "servers": ["alpha"], "code_mode": "on",
                    "tools_default": "disabled",
                    "guardrails": [{"url": guard.url, "on": ["request"]}],
                    "tools": {"alpha__fail": {"enabled": false},
                              "alpha__big": {"enabled": true, "rate": "1/m"},
                              "alpha__echo": on, "alpha__add": on, "alpha__sleep": on,
                              "alpha__whoami": on, "alpha__trace": on,
                              "alpha__hangup": on}});
    let r = send_json(gw.addr, "POST", "/api/v1/namespaces", &gw.admin_key, &ns).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let rule = json!([{"effect": "deny", "when": "tool.name == 'alpha__add'",
                       "reason": "no adding"},
                      {"effect": "confirm", "when": "tool.name == 'alpha__whoami'"},
                      {"effect": "confirm", "when": "principal.name.startsWith('confirmed-')"}]);
    let body = json!({"name": "door", "text": rule.to_string()});
    let r = send_json(gw.addr, "POST", "/api/v1/policies", &gw.admin_key, &body).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let admin = gw.session("/mcp/door", &gw.admin_key).await;
    support::eventually(support::WAIT, "alpha routed and the policy on", || async {
        let echo = admin
            .call_tool("alpha__echo", json!({"message": "up"}))
            .await;
        let add = admin.call_tool("alpha__add", json!({"a": 1, "b": 2})).await;
        (echo.get("error").is_none() && add["error"]["code"] == POLICY).then_some(())
    })
    .await;
    // Once alpha's tools are pinned, hangup changes: held until reviewed.
    let db = gw.db.client().await;
    let pinned = "SELECT count(*) FROM tool_pins p JOIN mcp_servers s ON s.id = p.server_id \
                  WHERE s.name = 'alpha' AND p.name = 'hangup'";
    support::eventually(support::WAIT, "alpha's hangup pinned", || async {
        let n: i64 = db.query_one(pinned, &[]).await.ok()?.get(0);
        (n == 1).then_some(())
    })
    .await;
    let changed = json!([{"name": "hangup", "description": "Closes the connection, now politely",
                          "inputSchema": {"type": "object"}}]);
    let addr = format!("127.0.0.1:{}", alpha.port).parse().expect("addr");
    let r = support::http::request(
        addr,
        "POST",
        "/control/tools",
        &[],
        Some(changed.to_string().as_bytes()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    support::eventually(support::WAIT, "alpha's hangup held", || async {
        let m = admin.call_tool("alpha__hangup", json!({})).await;
        (m["error"]["data"]["held"] == true && m["error"]["data"]["kind"] == "changed")
            .then_some(())
    })
    .await;
    (gw, alpha, guard)
}

#[tokio::test]
async fn every_door_decides_charges_records_and_answers_a_call_alike() {
    let (gw, alpha, _guard) = gateway().await;
    let store = key_store(&gw.db);
    let mut failures = Vec::new();
    let mut keys: Vec<(String, Door, Kind, Vec<Row>)> = Vec::new();
    for kind in KINDS {
        for door in DOORS.into_iter().filter(|d| applies(kind, *d)) {
            let c = case(kind, door);
            let issued = store
                .create(NewKey {
                    name: format!("{door:?}-{kind:?}").to_lowercase(),
                    description: None,
                    scope: Scope::Client,
                    namespaces: vec!["door".into()],
                    expires_in_days: None,
                    limits: c.limits,
                })
                .await
                .expect("create key");
            let before = forwarded(&alpha).await;
            let cell = Cell {
                gw: &gw,
                key: &issued.api_key,
                case: &c,
            };
            let mut got = door.send(&cell).await;
            got.sort();
            let mut want = c.want.clone();
            want.sort();
            if got != want {
                failures.push(format!(
                    "{door:?} x {kind:?}: answered {got:?}, want {want:?}"
                ));
            }
            let ran = forwarded(&alpha).await - before;
            let through = want.iter().filter(|a| **a == Answer::Ok).count() as u64;
            if ran != through {
                failures.push(format!(
                    "{door:?} x {kind:?}: {ran} calls forwarded, want {through}"
                ));
            }
            keys.push((issued.id.to_string(), door, kind, c.rows));
        }
    }
    // The audit queue is written in order: once the last cell's rows are in, every
    // earlier cell's are.
    let by_key: HashMap<String, Vec<Row>> =
        support::eventually(support::WAIT, "the cells' audit rows", || async {
            let mut all = HashMap::new();
            for (id, ..) in &keys {
                all.insert(id.clone(), rows(&gw, id).await);
            }
            let last = keys.last().map(|k| (all[&k.0].len(), k.3.len()));
            last.is_some_and(|(got, want)| got >= want).then_some(all)
        })
        .await;
    for (id, door, kind, want) in &keys {
        let mut want = want.clone();
        want.sort();
        if by_key[id] != want {
            failures.push(format!(
                "{door:?} x {kind:?}: audit rows {:?}, want {want:?}",
                by_key[id]
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A `run_code` call of `key` on `/mcp` (a 2026-07-28 client): the script's result.
async fn run(gw: &TestGateway, key: &str, code: &str) -> Value {
    let client = Client::new(gw.addr, "/mcp", Some(key));
    let args = json!({"code": code});
    let m = response_message(
        &client
            .post_stateless(&call_message(1, "run_code", &args, true))
            .await,
    );
    m["result"]["structuredContent"]["result"].clone()
}

/// A key of the namespace `door` with `limits`.
async fn door_key(gw: &TestGateway, name: &str, limits: LimitsChange) -> String {
    key_store(&gw.db)
        .create(NewKey {
            name: name.into(),
            description: None,
            scope: Scope::Client,
            namespaces: vec!["door".into()],
            expires_in_days: None,
            limits,
        })
        .await
        .expect("create key")
        .api_key
}

/// The figures: a key with `--rate 3/m` whose script makes six calls gets three
/// through and three refused inside the script (the run's own charge is its first
/// call's); under `--max-concurrent 1` a script firing four calls at once never has two
/// in flight at the backend, and the run itself is not refused for the place it holds.
#[tokio::test]
async fn a_keys_rate_and_concurrency_bind_a_scripts_calls() {
    let (gw, alpha, _guard) = gateway().await;
    let rated = LimitsChange {
        rate: rate("3/m"),
        ..LimitsChange::default()
    };
    let key = door_key(&gw, "three-a-minute", rated).await;
    let six = "const out = [];
        for (let i = 0; i < 6; i++) {
            try { await tools.alpha__echo({message: 'n' + i}); out.push('ok'); }
            catch (e) { out.push(e.data.limit_name); }
        }
        return out;";
    let out = run(&gw, &key, six).await;
    assert_eq!(
        out,
        json!(["ok", "ok", "ok", "rate", "rate", "rate"]),
        "{out}"
    );

    let one = LimitsChange {
        max_concurrent: Some(Setting::Is(1)),
        ..LimitsChange::default()
    };
    let key = door_key(&gw, "one-at-a-time", one).await;
    let four =
        "const one = () => tools.alpha__sleep({ms: 400}).then(() => 'ok', e => e.data.limit_name);
        const first = await Promise.all([one(), one(), one(), one()]);
        const after = [];
        for (let i = 0; i < 2; i++) after.push(await one());
        return {first, after};";
    let out = run(&gw, &key, four).await;
    let first: Vec<&str> = out["first"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert_eq!(
        (
            first.iter().filter(|o| **o == "ok").count(),
            first.iter().filter(|o| **o == "concurrency").count()
        ),
        (1, 3),
        "{out}"
    );
    // One after another, each call has the run's place.
    assert_eq!(out["after"], json!(["ok", "ok"]), "{out}");
    let stats = alpha.control("GET", "/control/stats").await;
    assert_eq!(stats["calls_peak"], 1, "{stats}");
}

/// REST execution of a tool its server does not list is refused as the same call over
/// MCP is, for a key whose reach is every server too: 404 with the JSON-RPC error under
/// `rpc_error`, and the backend never sees it.
#[tokio::test]
async fn rest_never_forwards_a_tool_the_server_does_not_list() {
    let (gw, alpha, _guard) = gateway().await;
    let path = "/api/v1/mcp/servers/alpha/tools/nosuch/execute";
    let r = send_json(gw.addr, "POST", path, &gw.client_key, &json!({})).await;
    assert_eq!(r.status, 404, "{}", r.text());
    let body = r.json();
    assert_eq!(body["rpc_error"]["code"], INVALID_PARAMS, "{body}");
    assert!(
        body["rpc_error"]["data"]["suggestions"].is_array(),
        "{body}"
    );
    let stats = alpha.control("GET", "/control/stats").await;
    assert_eq!(stats["calls"].get("nosuch"), None, "{stats}");
}

/// A task holds its key's place in flight while it runs, not only until it is made:
/// under `max_concurrent` 1 a call made while the key's task runs is refused (saying
/// what holds the place), requests about the task are still served (they take no place
/// of their own), and once the task has ended its place comes back without the task
/// being read (the refusal looks at the key's tasks).
#[tokio::test]
async fn a_task_holds_its_keys_place_until_it_ends() {
    let (gw, alpha, _guard) = gateway().await;
    let one = LimitsChange {
        max_concurrent: Some(Setting::Is(1)),
        ..LimitsChange::default()
    };
    let key = door_key(&gw, "one-task-at-a-time", one).await;
    let echoed = |stats: &Value| stats["calls"]["echo"].as_u64().unwrap_or(0);
    let before = echoed(&alpha.control("GET", "/control/stats").await);
    let mut client = Client::new(gw.addr, "/mcp", Some(&key));
    client.version = "2025-11-25".into();
    client.initialize().await;
    let mut m = call_message(1, "alpha__sleep", &json!({"ms": 1500}), false);
    m["params"]["task"] = json!({"ttl": 60000});
    let made = response_message(&client.post(&m).await);
    let task = made["result"]["task"]["taskId"]
        .as_str()
        .unwrap_or_default();
    assert!(task.starts_with("mtk1."), "{made}");

    let echo = call_message(2, "alpha__echo", &json!({"message": "meanwhile"}), false);
    let refused = response_message(&client.post(&echo).await);
    assert_eq!(refused["error"]["code"], LIMITED, "{refused}");
    assert_eq!(
        refused["error"]["data"]["limit_name"], "concurrency",
        "{refused}"
    );
    let message = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("1 of them tasks not yet seen to end"),
        "{refused}"
    );

    let got = client
        .call(json!(3), "tasks/get", json!({"taskId": task}))
        .await;
    assert_eq!(got["result"]["status"], "working", "{got}");

    // Its end is not read: the next refusal finds it.
    let through = support::eventually(support::WAIT, "a call once the task ended", || async {
        let m = response_message(&client.post(&echo).await);
        m.get("result").is_some().then_some(m)
    })
    .await;
    assert!(through["result"]["content"].is_array(), "{through}");
    let stats = alpha.control("GET", "/control/stats").await;
    assert_eq!(stats["calls"]["sleep"], 1, "{stats}");
    assert_eq!(
        echoed(&stats),
        before + 1,
        "the refused call never went on: {stats}"
    );
}
