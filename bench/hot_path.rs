//! The hot path's frame handling, each fast path beside a naive baseline in the same run.
//!
//! - `parse_route_rewrite_tools_call_150b` / `_20kb`: a client's `tools/call` → validate
//!   (simd-json), find the spans, look the tool up, splice in the upstream id and the
//!   backend's tool name. Baseline: `serde_json::Value` parse, modify, serialise.
//! - `restore_id_response_20kb`: the backend's answer → the client's id spliced back in
//!   as the bytes stream. Baseline: parse the answer into a `Value`, set the id, serialise.
//!
//! Run: `cargo bench --bench hot_path`. Report ratios (baseline time / metamcp time).

use std::collections::HashMap;
use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use metamcp::jsonrpc::frame::{self, string_value};
use metamcp::mcp::hop::splicer::ResponseSplicer;
use serde_json::{Value, json};

/// A routing table shaped like the gateway's: exposed name → index → (upstream name).
struct Routes {
    index: HashMap<String, usize>,
    upstream: Vec<Bytes>,
}

fn routes() -> Routes {
    let mut index = HashMap::new();
    let mut upstream = Vec::new();
    for s in 0..20 {
        for t in 0..50 {
            index.insert(format!("server{s}__tool_{t}"), upstream.len());
            upstream.push(Bytes::from(format!("\"tool_{t}\"")));
        }
    }
    Routes { index, upstream }
}

fn tools_call(arguments: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"jsonrpc": "2.0", "id": 42, "method": "tools/call",
        "params": {"name": "server7__tool_13", "arguments": arguments}}))
    .unwrap()
}

fn small() -> Vec<u8> {
    let body = tools_call(json!({"city": "Berlin", "units": "metric", "days": 3}));
    assert!((140..=170).contains(&body.len()), "{}", body.len());
    body
}

fn large() -> Vec<u8> {
    let rows: Vec<Value> = (0..220)
        .map(|i| json!({"id": i, "name": format!("row-{i}"), "tags": ["a", "b", "c"], "score": i as f64 * 0.5, "note": "lorem ipsum dolor sit"}))
        .collect();
    let body = tools_call(json!({"query": "select", "rows": rows}));
    assert!((19_000..=22_000).contains(&body.len()), "{}", body.len());
    body
}

/// metamcp's path: spans, lookup, splice.
fn gateway_rewrite(body: &[u8], routes: &Routes, upstream_id: &[u8]) -> Bytes {
    let f = frame::parse(body).expect("valid frame");
    let name_span = f.name.expect("a tool name");
    let name = string_value(body, name_span).expect("a string");
    let i = routes.index[name.as_ref()];
    let id_span = f.id.expect("an id");
    frame::splice(
        body,
        &mut [(id_span, upstream_id), (name_span, &routes.upstream[i])],
    )
}

/// The naive path: a whole Value tree.
fn value_rewrite(body: &[u8], routes: &Routes, upstream_id: &str) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(body).expect("valid JSON");
    let name = v["params"]["name"]
        .as_str()
        .expect("a tool name")
        .to_string();
    let i = routes.index[&name];
    let upstream: Value = serde_json::from_slice(&routes.upstream[i]).unwrap();
    v["params"]["name"] = upstream;
    v["id"] = Value::String(upstream_id.to_string());
    serde_json::to_vec(&v).unwrap()
}

fn bench_requests(c: &mut Criterion) {
    let routes = routes();
    for (label, body) in [("150b", small()), ("20kb", large())] {
        // Both paths must produce the same message.
        let a: Value = serde_json::from_slice(&gateway_rewrite(&body, &routes, b"\"g1\"")).unwrap();
        let b: Value = serde_json::from_slice(&value_rewrite(&body, &routes, "g1")).unwrap();
        assert_eq!(a, b);
        let mut g = c.benchmark_group(format!("parse_route_rewrite_tools_call_{label}"));
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_function("metamcp", |bench| {
            bench.iter(|| gateway_rewrite(black_box(&body), &routes, b"\"g1\""))
        });
        g.bench_function("serde_json_value", |bench| {
            bench.iter(|| value_rewrite(black_box(&body), &routes, "g1"))
        });
        g.finish();
    }
}

fn bench_responses(c: &mut Criterion) {
    let rows: Vec<Value> = (0..180)
        .map(|i| json!({"id": i, "name": format!("row-{i}"), "tags": ["a", "b", "c"], "score": i, "note": "lorem ipsum dolor sit"}))
        .collect();
    let text = serde_json::to_string(&rows).unwrap();
    // The TypeScript SDK's field order puts the id last: the splicer has to look at it all.
    let response = format!(
        r#"{{"result":{{"content":[{{"type":"text","text":{}}}],"isError":false}},"jsonrpc":"2.0","id":"g1"}}"#,
        serde_json::to_string(&text).unwrap()
    );
    let response = Bytes::from(response);
    let mut g = c.benchmark_group("restore_id_response_20kb");
    g.throughput(Throughput::Bytes(response.len() as u64));
    g.bench_function("metamcp", |bench| {
        bench.iter(|| {
            let mut s = ResponseSplicer::new(
                Bytes::from_static(b"\"g1\""),
                Bytes::from_static(b"42"),
                false,
            );
            let mut out = Vec::with_capacity(4);
            s.feed(black_box(response.clone()), &mut out);
            out
        })
    });
    g.bench_function("serde_json_value", |bench| {
        bench.iter(|| {
            let mut v: Value = serde_json::from_slice(black_box(&response)).unwrap();
            v["id"] = json!(42);
            serde_json::to_vec(&v).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench_requests, bench_responses);
criterion_main!(benches);
