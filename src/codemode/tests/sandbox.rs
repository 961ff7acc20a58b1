//! The sandbox: the JS API, every bound, hostile scripts and names, cancellation, and
//! property tests of arguments' round trip and of random source text.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::*;

#[tokio::test]
async fn a_script_returns_its_value_with_logs_and_calls() {
    let host = Fake::default();
    let r = run_with(
        "console.log('hi', {a: 1}); const e = await tools.echo({x: 1}); return {got: e.args.x + 1};",
        &host,
        &quick(),
    )
    .await;
    assert_eq!(r.value, Ok(json!({"got": 2})));
    assert_eq!(r.logs, vec!["hi {\"a\":1}".to_string()]);
    assert_eq!(r.calls.len(), 1);
    assert_eq!((r.calls[0].tool.as_str(), r.calls[0].ok), ("echo", true));
    let result = r.to_result();
    assert_eq!(result["structuredContent"]["result"], json!({"got": 2}));
    assert_eq!(result["structuredContent"]["logs"], json!(["hi {\"a\":1}"]));
    assert_eq!(result["structuredContent"]["calls"][0]["tool"], "echo");
    assert!(result.get("isError").is_none());
    assert!(
        result["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("{\"got\":2}")
    );
}

/// Arguments with two names one to Go's `encoding/json`, at any depth, are refused inside
/// the script and never sent (a backend written in Go would read another value than the
/// gateway decided on). The property test below draws such names now and then; this is
/// the case it found, every run.
#[tokio::test]
async fn arguments_with_twin_names_are_refused_in_the_script_and_never_sent() {
    for args in [
        r#"{"T": null, "t": null}"#,
        r#"{"": [{"T": null, "t": null}]}"#,
    ] {
        let host = Fake::default();
        let code = format!("const r = await tools.echo({args}); return r.args;");
        let r = run_with(&code, &host, &quick()).await;
        assert!(host.seen().is_empty(), "{args}: sent");
        let refused = r.value.expect_err(args);
        assert!(
            refused.message.contains("cannot be read one way"),
            "{refused:?}"
        );
    }
}

#[tokio::test]
async fn inner_calls_resolve_to_structured_content_else_text_and_raw_gives_the_whole() {
    assert_eq!(
        value("return await tools.two_blocks()").await,
        json!("first\nsecond")
    );
    let raw = value("return await callTool('two_blocks', {}, {raw: true})").await;
    assert_eq!(raw["content"][1]["type"], "image");
    assert_eq!(
        value("return (await tools.echo({a: [1, 'b']})).args").await,
        json!({"a": [1, "b"]})
    );
    assert_eq!(
        value("return await searchTools('weather', 3)").await,
        json!({"tools": [{"name": "echo"}]})
    );
    assert_eq!(
        value("return typeof Date.now() === 'number' && (await 7)").await,
        json!(7)
    );
}

#[tokio::test]
async fn refusals_and_tool_errors_reject_with_their_code_and_data() {
    let v = value(
        "try { await tools.denied({}); } catch (e) { return [e instanceof Error, e.code, e.data, e.message]; }",
    )
    .await;
    assert_eq!(
        v,
        json!([true, -32003, {"policy": "no-writes"}, "denied by policy no-writes"])
    );
    let v = value("try { await tools.broken(); } catch (e) { return [e.isError, e.message, e.result.isError]; }").await;
    assert_eq!(v, json!([true, "disk full", true]));
    let host = Fake::default();
    let r = run_with("await tools.denied({})", &host, &quick()).await;
    let f = r.value.clone().unwrap_err();
    assert!(
        f.message.contains("denied by policy") && f.message.contains("-32003"),
        "{f:?}"
    );
    assert_eq!(f.bound, None);
    assert!(!r.calls[0].ok);
    assert_eq!(r.to_result()["isError"], true);
}

#[tokio::test]
async fn an_infinite_loop_meets_the_time_bound_by_interrupt() {
    let bounds = Bounds {
        timeout: Duration::from_millis(300),
        ..quick()
    };
    let started = Instant::now();
    let f = failure("while (true) {}", &bounds).await;
    assert_eq!(f.bound, Some(Bound::Time), "{f:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // A catastrophic regular expression is interrupted too (the matcher polls).
    let f = failure("return /(a+)+$/.test('a'.repeat(40) + 'b')", &bounds).await;
    assert_eq!(f.bound, Some(Bound::Time), "{f:?}");
    // Catching the interrupt does not help: it cannot be caught.
    let f = failure("for (;;) { try { while (true) {} } catch (e) {} }", &bounds).await;
    assert_eq!(f.bound, Some(Bound::Time));
    // Waiting on a call past the deadline ends too.
    let host = Fake::default();
    let view = tools(&["forever"]);
    let out = run(
        "await tools.forever()",
        &host,
        &view,
        &bounds,
        None,
        permit(),
        std::future::pending(),
    )
    .await;
    let RunOutcome::Finished(r) = out else {
        panic!()
    };
    assert_eq!(r.value.unwrap_err().bound, Some(Bound::Time));
}

#[tokio::test]
async fn a_memory_bomb_a_deep_recursion_and_a_huge_string_meet_the_memory_bound() {
    for code in [
        "const a = []; while (true) a.push(new Array(100000).fill(1.5));",
        "function f(n) { return f(n + 1) + 1; } return f(0);",
        "return 'x'.repeat(200 * 1024 * 1024).length;",
        "let s = 'ab'; while (true) s = s + s; ",
        "const o = {}; for (let i = 0; ; i++) o['k' + i] = 'v' + i;",
        "return JSON.parse('['.repeat(1000000) + ']'.repeat(1000000));",
        "const ps = []; for (;;) ps.push(new Promise(() => {}));",
    ] {
        let f = failure(code, &quick()).await;
        assert_eq!(f.bound, Some(Bound::Memory), "{code}: {f:?}");
    }
}

#[tokio::test]
async fn ten_thousand_inner_calls_meet_the_call_bound_and_the_host_sees_its_hundred() {
    let host = Fake::default();
    let r = run_with(
        "for (let i = 0; i < 10000; i++) { try { await tools.echo({i}); } catch (e) {} } return 1;",
        &host,
        &quick(),
    )
    .await;
    let f = r.value.clone().unwrap_err();
    assert_eq!(f.bound, Some(Bound::Calls), "{f:?}");
    assert_eq!(host.count("echo"), 100);
    assert_eq!(r.calls.len(), 100);
    assert_eq!(r.to_result()["structuredContent"]["bound"], "calls");
}

#[tokio::test]
async fn promise_all_runs_calls_concurrently_within_its_bound() {
    let host = Fake::default();
    let r = run_with(
        "const r = await Promise.all(Array.from({length: 40}, (_, i) => tools.wait({i}))); return r.length;",
        &host,
        &quick(),
    )
    .await;
    assert_eq!(r.value, Ok(json!(40)));
    let most = host.most_inflight.load(Ordering::SeqCst);
    assert!((2..=PARALLEL).contains(&most), "{most} at once");
    let host = Fake::default();
    let r = run_with(
        "await Promise.all(Array.from({length: 1000}, (_, i) => tools.wait({i})));",
        &host,
        &quick(),
    )
    .await;
    assert_eq!(r.value.unwrap_err().bound, Some(Bound::Calls));
    assert!(host.count("wait") <= 100, "{}", host.count("wait"));
    assert!(host.most_inflight.load(Ordering::SeqCst) <= PARALLEL);
}

#[tokio::test]
async fn the_host_gets_exactly_the_json_whatever_the_script_does_to_prototypes() {
    let host = Fake::default();
    let r = run_with(
        "Object.prototype.polluted = 1; Array.prototype.extra = 2; \
         Object.defineProperty(Object.prototype, 'sneaky', {get() { return 3; }, enumerable: true}); \
         const a = {list: [1, 2]}; a.__proto__ = {inherited: true}; \
         JSON.stringify = () => '{\"forged\": true}'; \
         await tools.echo(a); return [Object.getPrototypeOf(tools) === null, Object.isFrozen(tools), tools.__proto__];",
        &host,
        &quick(),
    )
    .await;
    assert_eq!(r.value, Ok(json!([true, true, null])));
    assert_eq!(
        host.seen()[0].1,
        json!({"list": [1, 2]}).as_object().unwrap().clone()
    );
    // The next run starts clean: nothing leaks between runs.
    assert_eq!(
        value("return [({}).polluted, typeof [].extra, JSON.stringify({a: 1})]").await,
        json!([null, "undefined", "{\"a\":1}"])
    );
}

#[tokio::test]
async fn hostile_tool_names_reach_the_host_only_through_call_tool() {
    let host = Fake::default();
    let view = tools(&[
        "tools",
        "callTool",
        "__proto__",
        "constructor",
        "then",
        "console",
        "run_code",
        "echo",
        "a-b",
    ]);
    let code = "const keys = Object.keys(tools); \
                await callTool('__proto__', {}); await callTool('tools', {}); await tools['a-b'](); \
                let nested; try { await callTool('run_code', {code: 'return 1'}); } catch (e) { nested = e.message; } \
                return [keys, typeof callTool, typeof console.log, typeof tools.then, nested];";
    let out = run(
        code,
        &host,
        &view,
        &quick(),
        None,
        permit(),
        std::future::pending(),
    )
    .await;
    let RunOutcome::Finished(r) = out else {
        panic!()
    };
    let v = r.value.unwrap();
    assert_eq!(v[0], json!(["echo", "a-b"]));
    assert_eq!(v[1], "function");
    assert_eq!(v[2], "function");
    assert_eq!(v[3], "undefined");
    assert!(v[4].as_str().unwrap().contains("gateway's own"), "{v}");
    let names: Vec<String> = host.seen().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["__proto__", "tools", "a-b"]);
    // Globals cannot be replaced.
    assert_eq!(value("callTool = null; tools = 1; console = 2; return [typeof callTool, typeof tools, typeof console]").await,
        json!(["function", "object", "object"]));
}

#[tokio::test]
async fn output_and_code_over_their_bounds_end_the_run() {
    let bounds = Bounds {
        max_output: 10_000,
        ..quick()
    };
    let f = failure("for (let i = 0; ; i++) console.log('line ' + i);", &bounds).await;
    assert_eq!(f.bound, Some(Bound::Output));
    let f = failure("for (let i = 0; ; i++) console.log('');", &bounds).await;
    assert_eq!(f.bound, Some(Bound::Output));
    let f = failure("return 'y'.repeat(20000)", &bounds).await;
    assert_eq!(f.bound, Some(Bound::Output));
    let host = Fake::default();
    let code = format!("await tools.echo({{}}); // {}", "z".repeat(70_000));
    let r = run_with(&code, &host, &Bounds::default()).await;
    assert_eq!(r.value.unwrap_err().bound, Some(Bound::Code));
    assert!(host.seen().is_empty());
}

#[tokio::test]
async fn no_eval_no_timers_no_modules_and_a_clock_fixed_per_run() {
    let v = value(
        "let f = [], g = []; try { (function(){}).constructor('return 1'); f = 'ran'; } catch (e) { f = 'refused'; } \
         try { Function('return 1'); g = 'ran'; } catch (e) { g = 'refused'; } \
         return [typeof eval, g, typeof setTimeout, typeof require, typeof fetch, typeof performance, f, \
                 Date.now() === Date.now(), new Date().getTime() === Date.now()]",
    )
    .await;
    assert_eq!(
        v,
        json!([
            "undefined",
            "refused",
            "undefined",
            "undefined",
            "undefined",
            "undefined",
            "refused",
            true,
            true
        ])
    );
    let f = failure("await new Promise(() => {})", &quick()).await;
    assert!(f.message.contains("nothing will settle"), "{f:?}");
    let f = failure("return import('fs')", &quick()).await;
    assert_eq!(f.bound, None);
}

/// The script is compiled as one function body: text that would close the function it
/// is compiled into and run code beside it (before the prelude takes `eval` away) is
/// refused as code that is not one function body (bound `code`), or runs inside as
/// written; `eval` and `Function` are never reachable. The tricks: closing braces and
/// calls, a comma or a division after the close, comments, template literals, HTML
/// comments and markup.
#[tokio::test]
async fn no_text_closes_the_function_the_script_is_compiled_into() {
    let grab = "globalThis.k = eval; (async function () { return k('6*7')";
    let attempts = [
        format!("}}); {grab}"),
        format!("}})(); {grab}"),
        format!("}}, {grab}"),
        format!("}}) / 1; {grab}"),
        format!("return 1 // \n}}); {grab}"),
        format!("/* */ }}); {grab} /* */"),
        format!("return 1;\n}}); {grab}"),
        format!("`${{1}}`}}); {grab}"),
        format!("return `}}); {grab}"),
        format!("}}); {grab} + `"),
        format!("\n--> }}); {grab}"),
        format!("}});\n<!-- x\n{grab}"),
        format!("</script><script>}}); {grab}</script>"),
        "}); return eval('6*7'); (async function () {".to_string(),
        "}); globalThis.F = Function; (async function () { return F('return 6*7')()".to_string(),
        "}); globalThis.k = [].constructor.constructor; (async function () { return k('return 6*7')()"
            .to_string(),
    ];
    for code in &attempts {
        let r = run_with(code, &Fake::default(), &quick()).await;
        // Refused, or run inside (a line that is all comment): never 42.
        match &r.value {
            Err(f) => assert!(
                f.bound == Some(Bound::Code) || f.bound.is_none(),
                "{code}: {f:?}"
            ),
            Ok(v) => assert_ne!(v, &json!(42), "{code}: eval was reached"),
        }
    }
    // The first is the issue's: refused (`eval` was gone before the text beside the
    // function ran); a way out that takes nothing is refused as not one function body.
    let f = failure(&attempts[0], &quick()).await;
    assert_eq!(f.bound, Some(Bound::Code), "{f:?}");
    let f = failure(
        "}); globalThis.x = 1; (async function () { return 2",
        &quick(),
    )
    .await;
    assert_eq!(f.bound, Some(Bound::Code), "{f:?}");
    assert!(f.message.contains("one function body"), "{f:?}");
    // A syntax error is the code's bound too, with the engine's message.
    let f = failure("return (", &quick()).await;
    assert_eq!(f.bound, Some(Bound::Code), "{f:?}");
    assert!(f.message.contains("SyntaxError"), "{f:?}");
    // What only looks like a way out runs inside, as written.
    assert_eq!(
        value(r"return ['})', `})${'}'}`, /}\)/.source] // });").await,
        json!(["})", "})}", "}\\)"])
    );
    assert_eq!(
        value("/* }); */ const k = typeof eval; return k").await,
        json!("undefined")
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_busy_script_does_not_stall_the_runtime() {
    let bounds = Bounds {
        timeout: Duration::from_millis(2_000),
        ..quick()
    };
    let host = Fake::default();
    let started = Instant::now();
    let (r, other) = tokio::join!(run_with("while (true) {}", &host, &bounds), async {
        tokio::time::sleep(Duration::from_millis(10)).await;
        started.elapsed()
    });
    assert_eq!(r.value.unwrap_err().bound, Some(Bound::Time));
    // A stalled runtime would wake it only when the run ends, at 2 s.
    assert!(
        other < Duration::from_millis(1_000),
        "the other task waited {other:?}"
    );
}

#[tokio::test]
async fn a_caller_that_goes_away_stops_the_run() {
    // Dropped: the script's loop of calls stops.
    let host = std::sync::Arc::new(Fake::default());
    let bounds = Bounds {
        max_calls: 1_000_000,
        timeout: Duration::from_secs(30),
        ..quick()
    };
    let h = host.clone();
    let b = bounds.clone();
    let task = tokio::spawn(async move {
        let view = tools(&["tick"]);
        run(
            "while (true) await tools.tick({});",
            &*h,
            &view,
            &b,
            None,
            permit(),
            std::future::pending(),
        )
        .await;
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while host.count("tick") < 10 {
        assert!(Instant::now() < deadline, "the script never ran");
        tokio::task::yield_now().await;
    }
    task.abort();
    let _ = task.await;
    let after = host.count("tick");
    // The engine may have one call on its way when the stop lands.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        host.count("tick") <= after + 1,
        "{after} then {}",
        host.count("tick")
    );
    // Cancelled: a busy loop is interrupted and the run returns.
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let started = Instant::now();
    let view = tools(&[]);
    let (out, ()) = tokio::join!(
        run(
            "while (true) {}",
            &*host,
            &view,
            &bounds,
            None,
            permit(),
            async {
                let _ = rx.await;
            }
        ),
        async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let _ = tx.send(());
        }
    );
    let RunOutcome::Finished(r) = out else {
        panic!()
    };
    assert!(r.value.unwrap_err().message.contains("went away"));
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// CI's minimal failing input: JavaScript writes this double as the 21-digit integer
/// `-228161176525290400000`, past 64 bits, which the client reading refuses; a script's
/// text is read as the double it was, to the host and back.
#[tokio::test]
async fn a_double_javascript_writes_as_a_long_integer_reaches_the_host_as_that_double() {
    let host = Fake::default();
    let code =
        "const r = await tools.echo({n: [-2.281611765252904e+20, 2 ** 64]}); return r.args.n;";
    let r = run_with(code, &host, &quick()).await;
    assert_eq!(
        r.value,
        Ok(json!([-2.281611765252904e20, 1.8446744073709552e19]))
    );
    assert_eq!(
        host.seen()[0].1["n"],
        json!([-2.281611765252904e20, 1.8446744073709552e19])
    );
}

fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-(1i64 << 53)..(1i64 << 53)).prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::String),
        "[\\u{0}-\\u{1f}\"\\\\\\u{2028}\\u{fffd}\\u{1F600}]{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::hash_map(".{0,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Whether an object anywhere in `v` has two member names Go's `encoding/json` takes for
/// one (the gateway's reader refuses such a value).
fn twin_names(v: &Value) -> bool {
    match v {
        Value::Array(items) => items.iter().any(twin_names),
        Value::Object(m) => {
            let names: Vec<&String> = m.keys().collect();
            names.iter().enumerate().any(|(i, a)| {
                names[i + 1..]
                    .iter()
                    .any(|b| crate::jsonrpc::fold::equal(a, b))
            }) || m.values().any(twin_names)
        }
        _ => false,
    }
}

/// Equal as JSON values, numbers by their value (JavaScript writes 1.0 as 1).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config { cases: 48, ..Default::default() })]

    #[test]
    fn arguments_round_trip_exactly_through_the_script(
        args in proptest::collection::hash_map(".{0,8}", json_value(), 0..5)
    ) {
        let args: Map<String, Value> = args.into_iter().collect();
        let code = format!("const r = await tools.echo({}); return r.args;", Value::Object(args.clone()));
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let host = Fake::default();
        let r = rt.block_on(run_with(&code, &host, &quick()));
        let seen = host.seen();
        if twin_names(&Value::Object(args.clone())) {
            // Two names one to Go's encoding/json ("T" and "t"): arguments a backend
            // would read another way are refused inside the script, never sent.
            proptest::prop_assert_eq!(seen.len(), 0, "{:?}", r.value);
            let refused = r.value.expect_err("refused");
            proptest::prop_assert!(refused.message.contains("cannot be read one way"), "{:?}", refused);
            return Ok(());
        }
        proptest::prop_assert_eq!(seen.len(), 1, "{:?}", r.value);
        proptest::prop_assert!(same(&Value::Object(seen[0].1.clone()), &Value::Object(args.clone())),
            "sent {:?}, host saw {:?}", args, seen[0].1);
        let back = r.value.unwrap();
        proptest::prop_assert!(same(&back, &Value::Object(args)));
    }

    #[test]
    fn random_source_text_never_panics_the_host(
        code in proptest::collection::vec(proptest::prop_oneof![
            proptest::strategy::Just("await ".to_string()), proptest::strategy::Just("tools.echo(".to_string()),
            proptest::strategy::Just("callTool(".to_string()), proptest::strategy::Just("{".to_string()),
            proptest::strategy::Just("}".to_string()), proptest::strategy::Just(")".to_string()),
            proptest::strategy::Just("return ".to_string()), proptest::strategy::Just("throw ".to_string()),
            proptest::strategy::Just("while(1)".to_string()), proptest::strategy::Just("`${".to_string()),
            proptest::strategy::Just("'".to_string()), proptest::strategy::Just("/*".to_string()),
            proptest::strategy::Just("})(".to_string()), proptest::strategy::Just("__proto__".to_string()),
            ".{0,4}",
        ], 0..24)
    ) {
        let code = code.concat();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let bounds = Bounds { timeout: Duration::from_millis(100), ..quick() };
        let r = rt.block_on(run_with(&code, &Fake::default(), &bounds));
        let result = r.to_result();
        proptest::prop_assert!(result["content"][0]["text"].is_string());
        proptest::prop_assert_eq!(result.get("isError").is_some(), r.value.is_err());
    }

    #[test]
    fn declarations_of_random_schemas_are_bounded(schema in json_value(), name in ".{0,20}") {
        let d = typescript::declaration(&name, &schema, Some(&schema));
        proptest::prop_assert!(d.chars().count() <= typescript::MAX_CHARS + 64);
    }
}
