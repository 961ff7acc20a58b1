//! Code mode's sandbox (`src/codemode/`), each path beside a naive baseline in its group:
//!
//! - `codemode_start_return_1`: a whole run of `return 1` through
//!   [`metamcp::codemode::run`]: a limiter's place, its thread, a QuickJS runtime and context with a 64 MiB
//!   heap bound, the prelude (globals, fixed clock), the script compiled and run, its
//!   result read. Baselines: a bare `rquickjs` runtime and context evaluating `1` on the
//!   calling thread, and a thread spawned and joined.
//! - `codemode_100_calls_sequential`: a script awaiting 100 inner calls one after
//!   another, against a host that answers at once; less the start, over 100, it is the
//!   sandbox's overhead per inner call (the pipeline's own cost is the host's, not
//!   measured here). Baseline: the same 100 host calls awaited from Rust.
//! - `codemode_100_calls_parallel`: the same 100 through `Promise.all` (8 in flight).
//!
//! Before criterion runs, the engine's heap after a run (runtime, context and prelude
//! included) is printed for `return 1` and for the 100-call script.
//!
//! Run: `cargo bench --bench codemode_sandbox`; docs/guides/code-mode.md holds the
//! figures. `bench/codemode/` is the benchmark of the whole, through the gateway.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use metamcp::codemode::budget::Pool;
use metamcp::codemode::{Bounds, Charge, Host, HostFuture, RunLimiter, RunOutcome, Tool, run};
use serde_json::{Map, Value, json};

/// A host that answers every call at once with a small structured result.
struct Instant;

impl Host for Instant {
    fn call(&self, _name: String, arguments: Map<String, Value>, _: Charge) -> HostFuture<'_> {
        Box::pin(async move {
            Ok(json!({"content": [{"type": "text", "text": "ok"}],
                      "structuredContent": {"n": arguments.get("i").cloned().unwrap_or(Value::Null)}}))
        })
    }
    fn search(&self, _query: String, _limit: Option<u64>) -> HostFuture<'_> {
        Box::pin(async { Ok(json!({"content": []})) })
    }
}

const SEQUENTIAL: &str =
    "let s = 0; for (let i = 0; i < 100; i++) { s += (await tools.echo({i})).n; } return s;";
const PARALLEL: &str = "const r = await Promise.all(Array.from({length: 100}, (_, i) => tools.echo({i}))); \
     return r.reduce((a, b) => a + b.n, 0);";

fn tools() -> Vec<Tool> {
    vec![Tool {
        name: "echo".into(),
        input_schema: json!({"type": "object"}),
        output_schema: None,
    }]
}

fn once(rt: &tokio::runtime::Runtime, code: &str) -> metamcp::codemode::Report {
    let tools = tools();
    let bounds = Bounds::default();
    let place = RunLimiter::new(1, 1).acquire(None).expect("a place");
    match rt.block_on(run(
        code,
        &Instant,
        &tools,
        &bounds,
        None,
        place,
        std::future::pending(),
    )) {
        RunOutcome::Finished(r) => r,
        RunOutcome::Suspended { .. } => panic!("suspended"),
    }
}

fn bench_codemode(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let empty = once(&rt, "return 1");
    assert_eq!(empty.value, Ok(json!(1)));
    let sequential = once(&rt, SEQUENTIAL);
    assert_eq!(sequential.value, Ok(json!(4950)), "{:?}", sequential.value);
    assert_eq!(once(&rt, PARALLEL).value, Ok(json!(4950)));
    eprintln!(
        "codemode: engine heap after `return 1`: {} KiB; after 100 sequential calls: {} KiB",
        empty.memory / 1024,
        sequential.memory / 1024
    );

    let mut g = c.benchmark_group("codemode_start_return_1");
    g.measurement_time(Duration::from_secs(3));
    g.bench_function("run", |b| b.iter(|| black_box(once(&rt, "return 1"))));
    g.bench_function("baseline_bare_runtime_context_eval", |b| {
        b.iter(|| {
            let r = rquickjs::Runtime::new().expect("runtime");
            let ctx = rquickjs::Context::full(&r).expect("context");
            let v: i32 = ctx.with(|ctx| ctx.eval("1")).expect("eval");
            black_box(v)
        })
    });
    g.bench_function("baseline_thread_spawn_join", |b| {
        b.iter(|| std::thread::spawn(|| black_box(1)).join().expect("joined"))
    });
    g.finish();

    let mut g = c.benchmark_group("codemode_100_calls");
    g.measurement_time(Duration::from_secs(4));
    g.bench_function("sequential", |b| {
        b.iter(|| black_box(once(&rt, SEQUENTIAL)))
    });
    g.bench_function("parallel_promise_all", |b| {
        b.iter(|| black_box(once(&rt, PARALLEL)))
    });
    let results = Pool::unbounded().run();
    g.bench_function("baseline_host_calls_from_rust", |b| {
        b.iter(|| {
            rt.block_on(async {
                let mut s = 0;
                for i in 0..100 {
                    let mut a = Map::new();
                    a.insert("i".into(), json!(i));
                    let charge = Charge::new(&results);
                    let r = Instant.call("echo".into(), a, charge).await.expect("ok");
                    s += r["structuredContent"]["n"].as_i64().unwrap_or(0);
                }
                black_box(s)
            })
        })
    });
    g.finish();
}

criterion_group!(benches, bench_codemode);
criterion_main!(benches);
