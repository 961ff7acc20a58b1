//! The run limiter, the journal (a suspended run resumed without calling again, a
//! journal that does not match), TypeScript declarations and `run_code`'s definition.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::*;

#[test]
fn the_limiter_bounds_runs_per_key_and_in_total() {
    let limiter = RunLimiter::new(2, 3);
    let a = crate::base::KeyId::parse("00000000000000aa");
    let b = crate::base::KeyId::parse("00000000000000bb");
    assert!(a.is_some() && b.is_some());
    let a1 = limiter.acquire(a).unwrap();
    let _a2 = limiter.acquire(a).unwrap();
    assert_eq!(limiter.acquire(a).err(), Some(Busy::Key(2)));
    let _b1 = limiter.acquire(b).unwrap();
    assert_eq!(limiter.acquire(None).err(), Some(Busy::Total(3)));
    assert_eq!(limiter.held(a), (3, 2));
    drop(a1);
    let _a3 = limiter.acquire(a).unwrap();
    assert_eq!(Busy::Key(2).setting(), "METAMCP_CODE_RUNS_PER_KEY");
}

#[tokio::test]
async fn many_runs_from_one_key_hold_at_most_its_places() {
    let limiter = RunLimiter::new(4, 64);
    let key = crate::base::KeyId::parse("00000000000000cc");
    let host = Fake::default();
    let view = tools(&["wait"]);
    let bounds = quick();
    let refused = AtomicUsize::new(0);
    let runs = (0..16).map(|_| async {
        let Ok(place) = limiter.acquire(key) else {
            refused.fetch_add(1, Ordering::SeqCst);
            return;
        };
        run(
            "return await tools.wait({})",
            &host,
            &view,
            &bounds,
            None,
            place,
            std::future::pending(),
        )
        .await;
    });
    futures_util::future::join_all(runs).await;
    assert_eq!(refused.load(Ordering::SeqCst), 12);
    assert_eq!(host.count("wait"), 4);
    assert_eq!(limiter.held(key), (0, 0));
}

const CONFIRMING: &str = "console.log(Date.now(), Math.random()); \
    const a = await tools.echo({step: 1}); const b = await tools.confirm({path: '/x'}); \
    return [a.args.step, b, Math.random() < 1];";

#[tokio::test]
async fn a_suspended_run_resumes_from_its_journal_without_calling_again() {
    let host = Fake::default();
    let view = tools(&["echo", "confirm"]);
    let out = run(
        CONFIRMING,
        &host,
        &view,
        &quick(),
        None,
        permit(),
        std::future::pending(),
    )
    .await;
    let RunOutcome::Suspended {
        journal,
        question,
        logs,
        calls,
    } = out
    else {
        panic!("not suspended")
    };
    assert_eq!(question, json!({"message": "Delete it?"}));
    assert_eq!(calls.len(), 1);
    assert_eq!(journal.entries.len(), 1);
    // Any replica can hold it.
    let journal: Journal = serde_json::from_str(&serde_json::to_string(&journal).unwrap()).unwrap();
    host.confirmed.store(true, Ordering::SeqCst);
    let out = run(
        CONFIRMING,
        &host,
        &view,
        &quick(),
        Some(journal),
        permit(),
        std::future::pending(),
    )
    .await;
    let RunOutcome::Finished(r) = out else {
        panic!("suspended again")
    };
    assert_eq!(r.value, Ok(json!([1, "deleted", true])));
    assert_eq!(host.count("echo"), 1, "echo ran again");
    assert_eq!(host.count("confirm"), 2);
    assert!(r.calls[0].replayed && !r.calls[1].replayed);
    assert_eq!(
        r.logs, logs,
        "the clock and randomness differ on resumption"
    );
}

#[tokio::test]
async fn a_suspension_waits_for_the_calls_in_flight_and_keeps_them() {
    let host = Fake::default();
    let view = tools(&["wait", "confirm"]);
    let code =
        "const [a, b] = await Promise.all([tools.wait({}), tools.confirm({})]); return [a, b];";
    let RunOutcome::Suspended { journal, .. } = run(
        code,
        &host,
        &view,
        &quick(),
        None,
        permit(),
        std::future::pending(),
    )
    .await
    else {
        panic!("not suspended")
    };
    assert_eq!(journal.entries.len(), 1);
    assert_eq!(journal.entries[0].tool, "wait");
    host.confirmed.store(true, Ordering::SeqCst);
    let RunOutcome::Finished(r) = run(
        code,
        &host,
        &view,
        &quick(),
        Some(journal),
        permit(),
        std::future::pending(),
    )
    .await
    else {
        panic!()
    };
    assert_eq!(r.value, Ok(json!(["waited", "deleted"])));
    assert_eq!(host.count("wait"), 1);
}

#[tokio::test]
async fn a_wait_for_the_user_is_excused_from_the_time_bound_and_a_slow_call_is_not() {
    let bounds = Bounds {
        timeout: Duration::from_millis(400),
        ..quick()
    };
    let asking = || Fake {
        user: Some((
            std::sync::Arc::new(UserWaits::new(Duration::from_secs(60))),
            Duration::from_millis(1_000),
        )),
        ..Fake::default()
    };
    let r = run_with("return await tools.ask_user({})", &asking(), &bounds).await;
    assert_eq!(
        r.value,
        Ok(json!("answered")),
        "the user's second is excused"
    );
    let r = run_with("return await tools.slow({})", &asking(), &bounds).await;
    assert_eq!(
        r.value.unwrap_err().bound,
        Some(Bound::Time),
        "a tool's is not"
    );
    // The allowance caps what is excused.
    let stingy = Fake {
        user: Some((
            std::sync::Arc::new(UserWaits::new(Duration::from_millis(100))),
            Duration::from_millis(1_000),
        )),
        ..Fake::default()
    };
    let r = run_with("return await tools.ask_user({})", &stingy, &bounds).await;
    assert_eq!(r.value.unwrap_err().bound, Some(Bound::Time));
}

#[tokio::test]
async fn a_journal_that_does_not_match_fails_and_calls_nothing() {
    let host = Fake::default();
    let view = tools(&["echo", "confirm"]);
    let RunOutcome::Suspended { journal, .. } = run(
        CONFIRMING,
        &host,
        &view,
        &quick(),
        None,
        permit(),
        std::future::pending(),
    )
    .await
    else {
        panic!()
    };
    let mut other_args = journal.clone();
    other_args.entries[0].digest = journal::digest(&Map::new());
    let mut other_tool = journal.clone();
    other_tool.entries[0].tool = "confirm".into();
    for j in [other_args, other_tool] {
        let RunOutcome::Finished(r) = run(
            CONFIRMING,
            &host,
            &view,
            &quick(),
            Some(j),
            permit(),
            std::future::pending(),
        )
        .await
        else {
            panic!()
        };
        assert!(r.value.unwrap_err().message.contains("another course"));
    }
    let RunOutcome::Finished(r) = run(
        "return 1",
        &host,
        &view,
        &quick(),
        Some(journal),
        permit(),
        std::future::pending(),
    )
    .await
    else {
        panic!()
    };
    assert!(r.value.unwrap_err().message.contains("another script"));
    assert_eq!(host.count("echo"), 1);
    assert_eq!(host.count("confirm"), 1);
}

#[test]
fn typescript_declarations_render_schemas() {
    let input = json!({
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "units": {"enum": ["c", "f"]},
            "days": {"type": "array", "items": {"type": "integer"}},
            "where": {"$ref": "#/$defs/point"},
            "when-at": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "tags": {"type": "object", "additionalProperties": {"type": "boolean"}}
        },
        "required": ["city"],
        "$defs": {"point": {"type": "object", "properties": {"lat": {"type": "number"}, "next": {"$ref": "#/$defs/point"}}}}
    });
    let output =
        json!({"type": "object", "properties": {"temp": {"type": "number"}}, "required": ["temp"]});
    let d = typescript::declaration("get_weather", &input, Some(&output));
    assert_eq!(
        d,
        "tools.get_weather(args: { city: string; days?: number[]; tags?: { [key: string]: boolean }; \
         units?: (\"c\" | \"f\"); \"when-at\"?: (string | null); \
         where?: { lat?: number; next?: unknown } }): Promise<{ temp: number }>"
    );
    assert_eq!(
        typescript::declaration("my-tool", &json!({"type": "object"}), None),
        "tools[\"my-tool\"](args: { [key: string]: unknown }): Promise<unknown>"
    );
    let listed = json!({"name": "get_weather", "inputSchema": input, "outputSchema": output});
    assert_eq!(typescript::declaration_of(&listed), Some(d.clone()));
    assert_eq!(
        typescript::declaration_of(&json!({"inputSchema": {}})),
        None
    );
    // A wide, deep schema is cut to fit.
    let mut wide = json!({"type": "string"});
    for _ in 0..4 {
        let props: Map<String, Value> = (0..12).map(|i| (format!("p{i}"), wide.clone())).collect();
        wide = json!({"type": "object", "properties": props});
    }
    let d = typescript::declaration("w", &wide, Some(&wide));
    assert!(d.chars().count() <= typescript::MAX_CHARS, "{}", d.len());
}

#[test]
fn gateway_names_and_reserved_names_are_left_out_of_tools() {
    let names = script_names(&tools(&["a", "then", "run_code", "search_tools", "b"]));
    assert_eq!(names, ["a", "b"]);
}

#[tokio::test]
async fn a_dropped_busy_run_ends_its_thread_and_gives_its_place_back() {
    let limiter = RunLimiter::new(1, 1);
    let bounds = Bounds {
        timeout: Duration::from_secs(60),
        ..quick()
    };
    let host = Fake::default();
    let view = tools(&[]);
    let place = limiter.acquire(None).unwrap();
    let busy = run(
        "while (true) {}",
        &host,
        &view,
        &bounds,
        None,
        place,
        std::future::pending(),
    );
    // Poll it a while (the thread starts and spins), then drop it.
    let _ = tokio::time::timeout(Duration::from_millis(100), busy).await;
    assert_eq!(
        limiter.acquire(None).err(),
        Some(Busy::Key(1)),
        "the place is held"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while limiter.held(None) != (0, 0) {
        assert!(Instant::now() < deadline, "the engine's thread still runs");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[test]
fn run_code_reads_its_code_and_describes_its_bounds() {
    let d = tool::definition(&Bounds::default());
    assert_eq!(d["inputSchema"]["required"], json!(["code"]));
    assert_eq!(d["inputSchema"]["properties"]["code"]["maxLength"], 65536);
    let text = d["description"].as_str().unwrap();
    assert!(
        text.contains("30000 ms") && text.contains("100 inner calls"),
        "{text}"
    );
    let args = |v: Value| v.as_object().unwrap().clone();
    assert_eq!(
        tool::code_argument(&args(json!({"code": "return 1"}))),
        Ok("return 1")
    );
    for bad in [json!({}), json!({"code": 1}), json!({"code": null})] {
        assert_eq!(tool::code_argument(&args(bad)).unwrap_err().code, -32602);
    }
}

/// The pipeline awaits a run inside spawned tasks: its future must be `Send`.
#[test]
fn a_run_is_a_send_future() {
    fn send<T: Send>(_: &T) {}
    let host = Fake::default();
    let view = tools(&[]);
    let bounds = quick();
    let f = run(
        "return 1",
        &host,
        &view,
        &bounds,
        None,
        permit(),
        std::future::pending(),
    );
    send(&f);
}
