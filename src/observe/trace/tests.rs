use super::*;
use std::sync::Arc;
use std::time::Duration;

fn config(sampler: Sampler) -> Tracing {
    Tracing {
        authority: "127.0.0.1:1".into(),
        path: "/v1/traces".into(),
        headers: vec![],
        service_name: "metamcp".into(),
        resource: vec![],
        sampler,
        queue: 2,
        batch: 2,
        delay: Duration::from_millis(10),
        timeout: Duration::from_millis(100),
    }
}

const PARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

#[test]
fn traceparent_is_parsed_and_written_back() {
    let c = SpanContext::parse(PARENT).unwrap();
    assert!(c.sampled);
    assert_eq!(c.traceparent().as_str(), PARENT);
    for bad in [
        "",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
        "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "00-00000000000000000000000000000000-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
        "00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319g-b7ad6b7169203331-01",
    ] {
        assert_eq!(SpanContext::parse(bad), None, "{bad}");
    }
    // A later version may add fields.
    assert!(
        SpanContext::parse("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-xyz").is_some()
    );
}

#[test]
fn sampling_follows_the_parent_or_the_root_rule() {
    let t = Tracer::new(config(Sampler::ParentBased(Root::AlwaysOff)));
    let r = t.start(Some(PARENT), Some("vendor=x"));
    assert!(r.ctx.sampled);
    assert_eq!(
        crate::crypto::to_hex(&r.ctx.trace_id),
        "0af7651916cd43dd8448eb211c80319c"
    );
    assert_eq!(
        r.parent.map(|p| crate::crypto::to_hex(&p)).as_deref(),
        Some("b7ad6b7169203331")
    );
    assert_eq!(r.tracestate.as_deref(), Some("vendor=x"));
    assert!(!t.start(None, None).ctx.sampled);
    let unsampled = PARENT.replace("-01", "-00");
    let t = Tracer::new(config(Sampler::ParentBased(Root::AlwaysOn)));
    assert!(!t.start(Some(&unsampled), None).ctx.sampled);
    assert!(t.start(None, None).ctx.sampled);
    let t = Tracer::new(config(Sampler::AlwaysOff));
    assert!(!t.start(Some(PARENT), None).ctx.sampled);
    let t = Tracer::new(config(Sampler::Ratio(0.25)));
    let n = (0..4000)
        .filter(|_| t.start(None, None).ctx.sampled)
        .count();
    assert!((800..1200).contains(&n), "{n}");
}

#[test]
fn a_request_s_headers_give_its_context_and_the_upstream_lines() {
    let t = Tracer::new(config(Sampler::ParentBased(Root::AlwaysOff)));
    let mut h = hyper::HeaderMap::new();
    h.insert(
        "tracestate",
        hyper::header::HeaderValue::from_static("vendor=x"),
    );
    // No parent: a root (not sampled here), and its tracestate means nothing.
    let root = t.start_for(&h);
    assert_eq!(
        (root.parent, root.tracestate, root.ctx.sampled),
        (None, None, false)
    );
    h.insert(
        "traceparent",
        hyper::header::HeaderValue::from_static(PARENT),
    );
    let r = t.start_for(&h);
    assert!(r.ctx.sampled);
    assert_eq!(r.tracestate.as_deref(), Some("vendor=x"));
    let child = r.child();
    let p = Propagation {
        traceparent: child.traceparent(),
        tracestate: r.tracestate.clone(),
    };
    let lines = String::from_utf8(p.after_lines(b"host: a\r\n")).unwrap();
    assert_eq!(
        lines,
        format!(
            "host: a\r\ntraceparent: {}\r\ntracestate: vendor=x\r\n",
            child.traceparent().as_str()
        )
    );
    assert_eq!(p.traceparent.as_bytes(), p.traceparent.as_str().as_bytes());
    assert_ne!(child.span_id, r.ctx.span_id);
    // One past W3C's 512 bytes is not passed on.
    let long = format!("v={}", "x".repeat(511));
    h.insert("tracestate", long.parse().unwrap());
    assert_eq!(t.start_for(&h).tracestate, None);
}

#[test]
fn a_full_queue_drops_and_counts() {
    let t = Tracer::new(config(Sampler::AlwaysOn));
    for _ in 0..3 {
        t.record(a_span(&t));
    }
    assert_eq!((t.queued(), t.dropped()), (2, (1, 0)));
}

#[tokio::test]
async fn an_unreachable_collector_drops_the_batch_and_counts_it() {
    let t = Tracer::new(config(Sampler::AlwaysOn));
    let mut span = a_span(&t);
    span.error = Some("boom");
    t.record(span);
    t.export_queued().await;
    assert_eq!((t.queued(), t.dropped(), t.exported()), (0, (0, 1), 0));
}

/// A collector that answers every request 200 and counts connections and requests;
/// it closes each connection after `per_conn` requests.
async fn counting_collector(per_conn: usize) -> (String, Arc<(AtomicU64, AtomicU64)>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let counts = Arc::new((AtomicU64::new(0), AtomicU64::new(0)));
    let c = counts.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            c.0.fetch_add(1, Ordering::Relaxed);
            let c = c.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut served = 0;
                while served < per_conn {
                    let mut chunk = [0u8; 4096];
                    let Ok(n) = s.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    // One request: a head with Content-Length, then that many bytes.
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    if buf.len() < end + 4 + len {
                        continue;
                    }
                    buf.drain(..end + 4 + len);
                    served += 1;
                    c.1.fetch_add(1, Ordering::Relaxed);
                    let _ = s
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                        .await;
                }
            });
        }
    });
    (addr, counts)
}

fn a_span(t: &Tracer) -> SpanData<'static> {
    let r = t.start(None, None);
    SpanData {
        ctx: r.ctx,
        parent: None,
        name: "x",
        target: None,
        kind: Kind::Server,
        start: r.start,
        end: SystemTime::now(),
        attributes: &[("k", Value::Str("v"))],
        error: None,
    }
}

/// The span as nested messages would write it, each built on its own and moved into
/// its parent: the plain way, kept here to check the sized one-pass writer against.
fn nested(s: &SpanData<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    message(&mut out, 2, |out| {
        bytes_field(out, 1, &s.ctx.trace_id);
        bytes_field(out, 2, &s.ctx.span_id);
        if let Some(p) = &s.parent {
            bytes_field(out, 4, p);
        }
        let (name, target) = name_parts(s);
        let mut full = name.to_string();
        if let Some(t) = target {
            full = format!("{full} {t}");
        }
        bytes_field(out, 5, full.as_bytes());
        tag(out, 6, 0);
        varint(out, s.kind as u64);
        for (field, t) in [(7, unix_nanos(s.start)), (8, unix_nanos(s.end))] {
            tag(out, field, 1);
            out.extend_from_slice(&t.to_le_bytes());
        }
        for (k, v) in s.attributes {
            message(out, 9, |kv| {
                bytes_field(kv, 1, k.as_bytes());
                message(kv, 2, |any| match v {
                    Value::Int(i) => {
                        tag(any, 3, 0);
                        varint(any, *i as u64);
                    }
                    Value::Str(t) => bytes_field(any, 1, limited(t).as_bytes()),
                });
            });
        }
        if let Some(e) = s.error {
            message(out, 15, |st| {
                bytes_field(st, 2, limited(e).as_bytes());
                tag(st, 3, 0);
                varint(st, 2);
            });
        }
    });
    out
}

#[test]
fn a_span_written_in_one_pass_is_the_same_bytes_as_nested_messages() {
    let t = Tracer::new(config(Sampler::AlwaysOn));
    let long = "ü".repeat(400);
    let names: [(&str, Option<&str>); 4] = [
        ("tools/call", Some("get_weather")),
        ("initialize", None),
        ("tools/call", Some(&long)),
        (&long, Some("x")),
    ];
    for (name, target) in names {
        for error in [None, Some("error -32602"), Some(long.as_str())] {
            for parent in [None, Some([7u8; 8])] {
                let mut span = a_span(&t);
                span.name = name;
                span.target = target;
                span.error = error;
                span.parent = parent;
                let attrs = [
                    ("mcp.method.name", Value::Str("tools/call")),
                    ("rpc.jsonrpc.error_code", Value::Int(-32602)),
                    ("jsonrpc.request.id", Value::Int(1 << 40)),
                    ("gen_ai.tool.name", Value::Str(&long)),
                    ("empty", Value::Str("")),
                    ("a.key.and.value.of.127.bytes", Value::Str(&"v".repeat(93))),
                    ("a.key.and.value.of.128.bytes", Value::Str(&"v".repeat(94))),
                ];
                // With these attributes, with none, and with one (short spans, whose
                // length takes one byte).
                for n in [attrs.len(), 0, 1] {
                    span.attributes = &attrs[..n];
                    let mut out = vec![9u8];
                    assert!(append_span(&mut out, &span));
                    assert_eq!(out[1..], nested(&span), "{name} {target:?} {error:?} {n}");
                }
            }
        }
    }
}

#[test]
fn the_largest_span_fits_its_two_byte_length() {
    let t = Tracer::new(config(Sampler::AlwaysOn));
    let long = "x".repeat(4 * VALUE_LIMIT);
    let key = "k".repeat(KEY_LIMIT);
    let key: &'static str = Box::leak(key.into_boxed_str());
    let attrs = [(key, Value::Str(&long)); MAX_ATTRIBUTES + 4];
    let mut span = a_span(&t);
    span.name = &long;
    span.target = Some(&long);
    span.error = Some(&long);
    span.parent = Some([1; 8]);
    span.attributes = &attrs;
    let mut out = Vec::new();
    assert!(append_span(&mut out, &span));
    assert!(out.len() < SPAN_LIMIT, "{}", out.len());
    // Attributes beyond the limit, and keys over KEY_LIMIT, are left out.
    span.attributes = &attrs[..MAX_ATTRIBUTES];
    assert_eq!(out, nested(&span));
    let longer = [(
        "k".repeat(KEY_LIMIT + 1).leak() as &'static str,
        Value::Str("v"),
    )];
    span.attributes = &longer;
    let mut out = Vec::new();
    assert!(append_span(&mut out, &span));
    span.attributes = &[];
    assert_eq!(out, nested(&span));
}

#[test]
fn long_values_are_cut_at_a_character_boundary() {
    let long = "é".repeat(VALUE_LIMIT);
    let cut = limited(&long);
    assert!(cut.len() <= VALUE_LIMIT && cut.len() >= VALUE_LIMIT - 1);
    assert!(long.starts_with(cut));
    assert_eq!(limited("short"), "short");
    // A span holding a huge value queues at most a few kilobytes.
    let t = Tracer::new(config(Sampler::AlwaysOn));
    let huge = "x".repeat(1 << 20);
    let mut span = a_span(&t);
    let attrs = [("gen_ai.tool.name", Value::Str(&huge))];
    span.attributes = &attrs;
    span.name = &huge;
    t.record(span);
    let batch = t.lock().take().unwrap();
    assert!(batch.bytes.len() - t.head.head_len() < 2 * VALUE_LIMIT + 200);
}

#[tokio::test]
async fn batches_share_one_connection_and_survive_its_closing() {
    let (addr, counts) = counting_collector(2).await;
    let mut cfg = config(Sampler::AlwaysOn);
    cfg.authority = addr;
    cfg.timeout = Duration::from_secs(5);
    let t = Tracer::new(cfg);
    let mut exporter = Exporter::default();
    for _ in 0..5 {
        t.record(a_span(&t));
        t.export_with(&mut exporter).await;
    }
    // Five batches over three connections: the collector closes each after two, and
    // the closed one is noticed and replaced without losing a batch.
    assert_eq!(t.exported(), 5);
    assert_eq!(t.dropped(), (0, 0));
    assert_eq!(counts.1.load(Ordering::Relaxed), 5);
    assert_eq!(counts.0.load(Ordering::Relaxed), 3);
    // The batch's buffer came back for the next batch.
    assert_eq!(t.lock().spare(), 1);
}

#[test]
fn trace_context_goes_into_meta() {
    let p = Propagation {
        traceparent: SpanContext::parse(PARENT).unwrap().traceparent(),
        tracestate: None,
    };
    let meta = |b: &str| -> serde_json::Value {
        let out = p.in_meta(&Bytes::from(b.to_string()));
        serde_json::from_slice(&out).unwrap()
    };
    for body in [
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"_meta":{}}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"_meta":{"progressToken":1}}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"_meta":{"traceparent":"00-11111111111111111111111111111111-2222222222222222-01"}}}"#,
    ] {
        let v = meta(body);
        assert_eq!(v["params"]["_meta"]["traceparent"], PARENT, "{body} -> {v}");
        assert_eq!(v["id"], 1);
    }
    assert_eq!(
        meta(r#"{"jsonrpc":"2.0","id":1,"method":"x","params":{"_meta":{"progressToken":7}}}"#)["params"]
            ["_meta"]["progressToken"],
        7
    );
}

#[test]
fn varints_are_little_endian_base_128() {
    let mut v = Vec::new();
    varint(&mut v, 300);
    assert_eq!(v, [0xac, 0x02]);
    for n in [0u64, 1, 127, 128, 300, 16_383, 16_384, u64::MAX] {
        let mut v = Vec::new();
        varint(&mut v, n);
        assert_eq!(v.len(), varint_len(n), "{n}");
    }
}

#[test]
fn an_attribute_is_sized_as_a_nested_message_would_be() {
    for value in [Value::Str("tools/call"), Value::Int(-32602), Value::Int(7)] {
        let mut direct = Vec::new();
        put_attribute(&mut direct, tags::ATTRIBUTE, b"mcp.method.name", &value);
        let mut nested = Vec::new();
        message(&mut nested, 9, |kv| {
            bytes_field(kv, 1, b"mcp.method.name");
            message(kv, 2, |any| match &value {
                Value::Int(i) => {
                    tag(any, 3, 0);
                    varint(any, *i as u64);
                }
                Value::Str(t) => bytes_field(any, 1, t.as_bytes()),
            });
        });
        assert_eq!(direct, nested);
    }
}
