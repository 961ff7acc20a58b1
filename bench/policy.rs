//! The policy phase of a `tools/call`, with and without policies, each beside a naive
//! baseline in the same group, and its heap allocations counted.
//!
//! - `policy_phase_none`: a view with no policy (the default). The phase is what the
//!   pipeline's `ViewPolicies` (`src/mcp/phases/policy.rs`) runs: one emptiness check
//!   of the view's list, then [`metamcp::policy::check`] is not even reached.
//!   Baseline: a phase that always describes the call for its policies (owned names, as
//!   a middleware chain that hands each layer its own copy would) and walks an empty
//!   boxed list.
//! - `policy_phase_validate_arguments_150b`: `validate_arguments` on, a 150-byte call
//!   checked against its tool's compiled `inputSchema` (the spans of `params.arguments`
//!   found in the bytes, only the arguments parsed). Baseline: the whole request parsed
//!   into a `serde_json::Value` and its arguments taken from it.
//!
//! - `policy_rules`: policies by identity ([`metamcp::policy::rules`], CEL): the
//!   decision on a call with the issue's four example rules, and with 100 (96 that do not
//!   match first). docs/guides/policies.md compares CEL with Cedar (`bench/policy-languages/`).
//!
//! Before criterion runs, each path is run 1,000 times under a counting allocator and its
//! allocations per call are printed; the no-policy phase must make none (the bench stops
//! with a message if it does).
//!
//! Run: `cargo bench --bench policy`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use criterion::{Criterion, criterion_group, criterion_main};
use metamcp::jsonrpc::frame;
use metamcp::policy::arguments::ValidateArguments;
use metamcp::policy::schema::Schema;
use metamcp::policy::{Call, Called, Policy, check};
use serde_json::{Value, json};

/// The system allocator, counting allocations (not frees).
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed to the system allocator unchanged; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations per call of `f`, over 1,000 calls.
fn allocations_per_call(mut f: impl FnMut()) -> f64 {
    f();
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..1000 {
        f();
    }
    (ALLOCATIONS.load(Ordering::Relaxed) - before) as f64 / 1000.0
}

fn request() -> Vec<u8> {
    let body = serde_json::to_vec(&json!({"jsonrpc": "2.0", "id": 42, "method": "tools/call",
        "params": {"name": "weather__forecast",
            "arguments": {"city": "Berlin", "units": "metric", "days": 3}}}))
    .expect("a JSON request");
    assert!((130..=170).contains(&body.len()), "{}", body.len());
    body
}

fn schema() -> Schema {
    Schema::compile(
        &json!({"type": "object", "required": ["city"], "properties": {
        "city": {"type": "string", "minLength": 1},
        "units": {"type": "string", "enum": ["metric", "imperial"]},
        "days": {"type": "integer", "minimum": 1, "maximum": 14}}}),
    )
    .expect("the schema compiles")
}

/// The gateway's phase, as `ViewPolicies` runs it: the call is described (on the
/// stack, borrowing the request) and checked only when the view has policies.
fn gateway_phase(
    policies: &[Arc<dyn Policy>],
    body: &[u8],
    f: &frame::Frame,
    schema: Option<&Schema>,
) -> bool {
    if policies.is_empty() {
        return true;
    }
    let call = Call {
        called: Called {
            namespace: Some("weather"),
            server: "weather",
            tool: "weather__forecast",
            caller: None,
        },
        body,
        arguments: metamcp::policy::arguments(body, f).ok().flatten(),
        schema,
    };
    check(policies, &call).is_none()
}

/// A call as a naive chain describes it to its layers: server, tool, arguments, owned.
type Described = (String, String, Value);
/// A layer of the naive chain.
type Layer = Box<dyn Fn(&Described) -> bool>;

/// What a naive middleware chain pays: the call described with owned names for every
/// layer, walked through a boxed list whether or not it holds anything.
fn naive_phase(layers: &[Layer], body: &[u8]) -> bool {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let described = (
        "weather".to_string(),
        v["params"]["name"].as_str().unwrap_or_default().to_string(),
        v["params"]["arguments"].clone(),
    );
    layers.iter().all(|l| l(&described))
}

fn bench_policy(c: &mut Criterion) {
    let body = request();
    let f = frame::parse(&body).expect("a valid frame");
    let schema = schema();
    let none: Vec<Arc<dyn Policy>> = Vec::new();
    let validating: Vec<Arc<dyn Policy>> = vec![Arc::new(ValidateArguments)];
    // Both paths admit the call; a broken check would refuse it.
    assert!(gateway_phase(&validating, &body, &f, Some(&schema)));
    let bad = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"weather__forecast","arguments":{"days":30}}}"#;
    let bad_frame = frame::parse(bad).expect("a valid frame");
    assert!(!gateway_phase(&validating, bad, &bad_frame, Some(&schema)));

    let none_allocs = allocations_per_call(|| {
        black_box(gateway_phase(&none, black_box(&body), &f, Some(&schema)));
    });
    let validate_allocs = allocations_per_call(|| {
        black_box(gateway_phase(
            &validating,
            black_box(&body),
            &f,
            Some(&schema),
        ));
    });
    let empty: Vec<Layer> = Vec::new();
    let naive_allocs = allocations_per_call(|| {
        black_box(naive_phase(&empty, black_box(&body)));
    });
    eprintln!(
        "allocations per call: no policy {none_allocs}, validate_arguments {validate_allocs}, \
         naive chain with no layer {naive_allocs}"
    );
    assert_eq!(
        none_allocs, 0.0,
        "the policy phase of a view with no policy must not allocate"
    );

    let mut g = c.benchmark_group("policy_phase_none");
    g.bench_function("metamcp", |b| {
        b.iter(|| gateway_phase(&none, black_box(&body), &f, Some(&schema)))
    });
    g.bench_function("naive_chain", |b| {
        b.iter(|| naive_phase(&empty, black_box(&body)))
    });
    g.finish();

    let mut g = c.benchmark_group("policy_phase_validate_arguments_150b");
    g.bench_function("metamcp", |b| {
        b.iter(|| gateway_phase(&validating, black_box(&body), &f, Some(&schema)))
    });
    g.bench_function("serde_json_value", |b| {
        b.iter(|| {
            let v: Value = serde_json::from_slice(black_box(&body)).unwrap_or(Value::Null);
            schema.check(&v["params"]["arguments"]).is_ok()
        })
    });
    g.finish();

    bench_rules(c);
}

/// The issue's four examples, after `filler` rules that do not match.
fn rule_set(filler: usize) -> metamcp::policy::rules::RuleSet {
    use metamcp::policy::rules::{Policy as Rules, RuleSet};
    let mut rules: Vec<Value> = (0..filler)
        .map(|i| json!({"effect": "deny", "when": format!("principal.name == 'nobody_{i}' && tool.server == 'srv_{i}'")}))
        .collect();
    rules.extend([
        json!({"effect": "deny", "when": "action == 'call' && 'contractors' in principal.groups"}),
        json!({"effect": "deny", "when": "'interns' in principal.groups && tool.name.contains('delete_')"}),
        json!({"effect": "deny", "when": "tool.name == 'github__create_issue' && arguments.org != 'acme'"}),
        json!({"effect": "confirm", "when": "principal.scope == 'client' && tool.annotations.destructiveHint == true"}),
    ]);
    let text = Value::Array(rules).to_string();
    RuleSet::new(vec![
        Rules::compile("bench", None, &text).expect("the rules compile"),
    ])
}

fn bench_rules(c: &mut Criterion) {
    use metamcp::policy::rules::{Action, Effect, Subject, Target};
    let who = Subject {
        id: "k".into(),
        name: "bob".into(),
        scope: "client".into(),
        kind: "key",
        ..Subject::default()
    };
    let annotations = json!({"destructiveHint": true});
    let tool = Target {
        name: "files__remove",
        server: "files",
        annotations: &annotations,
    };
    let arguments = json!({"path": "/tmp/a", "recursive": false});
    let mut g = c.benchmark_group("policy_rules");
    for filler in [0, 96] {
        let set = rule_set(filler);
        let d = set.decide(&who, Action::Call, None, &tool, Some(&arguments));
        assert_eq!(d.effect, Effect::Confirm);
        g.bench_function(format!("cel_{}_rules", filler + 4), |b| {
            b.iter(|| set.decide(&who, Action::Call, None, &tool, Some(black_box(&arguments))))
        });
    }
    g.finish();
}

criterion_group!(benches, bench_policy);
criterion_main!(benches);
