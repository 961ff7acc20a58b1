//! The traces of one forwarded call, recorded and exported two ways in one run:
//!
//! - `metamcp`: the gateway's own tracer (`observe::trace`): the call's trace started
//!   from the client's `traceparent`, its server span (nine attributes) and client span
//!   (four) encoded when recorded, and exported in batches over HTTP.
//! - `otel-sdk`: the OpenTelemetry Rust SDK 0.31 with the same spans and attributes: the
//!   W3C propagator, `SdkTracerProvider`, `BatchSpanProcessor`, and an exporter that
//!   encodes with the OpenTelemetry project's protobuf definitions (`opentelemetry-proto`,
//!   prost), as `opentelemetry-otlp` does, and POSTs the bytes.
//!
//! Both export every 256 calls (512 spans) to the same local sink, and the time measured
//! includes the export; the figure is the whole cost of tracing one call.
//!
//!   cd bench/otel-sdk && cargo bench        (its own Cargo project: the SDK is built only here)

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use metamcp::config::{Sampler, Tracing};
use metamcp::observe::trace::{Attrs, Kind, SpanData, Tracer};
use opentelemetry::KeyValue;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{SpanKind, TraceContextExt, Tracer as _, TracerProvider as _};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider, SpanData as SdkSpan, SpanExporter,
};
use prost::Message;

const CALLS_PER_EXPORT: u64 = 256;
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// What one call's spans say, as the gateway would know it.
struct Call {
    method: &'static str,
    tool: &'static str,
    upstream_tool: &'static str,
    server: &'static str,
    request_id: &'static str,
    session: &'static str,
    version: &'static str,
    key: &'static str,
}

const CALL: Call = Call {
    method: "tools/call",
    tool: "github__create_issue",
    upstream_tool: "create_issue",
    server: "github",
    request_id: "1234",
    session: "9f0c2a8e4b7d4e1f8a6b3c5d7e9f1a2b",
    version: "2025-06-18",
    key: "k_3f9a2c7e",
};

/// An OTLP/HTTP collector that reads each request whole and answers 200: the same for both.
fn sink() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
    let addr = listener.local_addr().expect("its address").to_string();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || serve(conn));
        }
    });
    addr
}

fn serve(conn: TcpStream) {
    let mut out = conn.try_clone().expect("a second handle");
    let mut r = BufReader::new(conn);
    let mut body = Vec::new();
    loop {
        let mut len = 0usize;
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                len = v.trim().parse().unwrap_or(0);
            }
        }
        body.resize(len, 0);
        if r.read_exact(&mut body).is_err() {
            return;
        }
        if out
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n")
            .is_err()
        {
            return;
        }
    }
}

fn metamcp_tracer(authority: &str) -> Tracer {
    Tracer::new(Tracing {
        authority: authority.to_string(),
        path: "/v1/traces".into(),
        headers: Vec::new(),
        service_name: "metamcp".into(),
        resource: Vec::new(),
        sampler: Sampler::AlwaysOn,
        queue: 4096,
        batch: 512,
        delay: Duration::from_secs(3600),
        timeout: Duration::from_secs(10),
    })
}

/// One call's trace through metamcp's tracer, as `mcp::server_span` and the forwarder
/// record it.
fn metamcp_call(tracer: &Tracer) {
    let c = &CALL;
    let trace = tracer.start(Some(TRACEPARENT), None);
    let start = std::time::SystemTime::now();
    let client_ctx = trace.child();
    let client_start = std::time::SystemTime::now();
    let mut attrs = Attrs::default();
    attrs.str("mcp.method.name", c.method);
    attrs.str("metamcp.server", c.server);
    attrs.str("network.transport", "tcp");
    attrs.str("gen_ai.tool.name", c.upstream_tool);
    tracer.record(SpanData {
        ctx: client_ctx,
        parent: Some(trace.ctx.span_id),
        name: c.method,
        target: Some(c.upstream_tool),
        kind: Kind::Client,
        start: client_start,
        end: std::time::SystemTime::now(),
        attributes: attrs.as_slice(),
        error: None,
    });
    let mut attrs = Attrs::default();
    attrs.str("mcp.method.name", c.method);
    attrs.str("network.transport", "tcp");
    attrs.str("network.protocol.name", "http");
    attrs.str("gen_ai.tool.name", c.tool);
    attrs.str("metamcp.server", c.server);
    attrs.str("jsonrpc.request.id", c.request_id);
    attrs.str("mcp.session.id", c.session);
    attrs.str("mcp.protocol.version", c.version);
    attrs.str("metamcp.key.id", c.key);
    tracer.record(SpanData {
        ctx: trace.ctx,
        parent: trace.parent,
        name: c.method,
        target: Some(c.tool),
        kind: Kind::Server,
        start,
        end: std::time::SystemTime::now(),
        attributes: attrs.as_slice(),
        error: None,
    });
}

/// The SDK's exporter as `opentelemetry-otlp` builds its HTTP/protobuf request: spans
/// grouped by resource and scope into the generated messages, encoded with prost, POSTed.
#[derive(Debug)]
struct ProtoExporter {
    authority: String,
    conn: Mutex<Option<BufReader<TcpStream>>>,
    resource: ResourceAttributesWithSchema,
}

impl ProtoExporter {
    fn post(&self, body: &[u8]) -> std::io::Result<()> {
        let mut conn = self.conn.lock().expect("not poisoned");
        if conn.is_none() {
            *conn = Some(BufReader::new(TcpStream::connect(&self.authority)?));
        }
        let r = conn.as_mut().expect("just set");
        let head = format!(
            "POST /v1/traces HTTP/1.1\r\nhost: {}\r\ncontent-type: application/x-protobuf\r\ncontent-length: {}\r\n\r\n",
            self.authority,
            body.len()
        );
        let s = r.get_mut();
        s.write_all(head.as_bytes())?;
        s.write_all(body)?;
        // The answer: a status line and headers, no body.
        let mut line = String::new();
        loop {
            line.clear();
            if r.read_line(&mut line)? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            if line == "\r\n" {
                return Ok(());
            }
        }
    }
}

impl SpanExporter for ProtoExporter {
    async fn export(&self, batch: Vec<SdkSpan>) -> OTelSdkResult {
        let request = ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(batch, &self.resource),
        };
        let body = request.encode_to_vec();
        self.post(&body)
            .map_err(|e| opentelemetry_sdk::error::OTelSdkError::InternalFailure(e.to_string()))
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = resource.into();
    }
}

fn sdk_provider(authority: &str) -> SdkTracerProvider {
    let resource = Resource::builder_empty()
        .with_service_name("metamcp")
        .with_attributes([KeyValue::new("service.version", "0.1.0")])
        .build();
    let exporter = ProtoExporter {
        authority: authority.to_string(),
        conn: Mutex::new(None),
        resource: (&resource).into(),
    };
    let processor = BatchSpanProcessor::builder(exporter)
        .with_batch_config(
            BatchConfigBuilder::default()
                .with_max_queue_size(4096)
                .with_max_export_batch_size(512)
                .with_scheduled_delay(Duration::from_secs(3600))
                .build(),
        )
        .build();
    SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_resource(resource)
        .build()
}

struct Headers<'a>(&'a HashMap<&'static str, &'static str>);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).copied()
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().copied().collect()
    }
}

/// One call's trace through the SDK: the same spans and attributes (values the gateway
/// reads from the request are owned strings for the SDK).
fn sdk_call(
    tracer: &opentelemetry_sdk::trace::SdkTracer,
    propagator: &TraceContextPropagator,
    headers: &HashMap<&'static str, &'static str>,
) {
    let c = &CALL;
    let parent = propagator.extract(&Headers(headers));
    let server = tracer
        .span_builder(format!("{} {}", c.method, c.tool))
        .with_kind(SpanKind::Server)
        .with_attributes([
            KeyValue::new("mcp.method.name", c.method),
            KeyValue::new("network.transport", "tcp"),
            KeyValue::new("network.protocol.name", "http"),
            KeyValue::new("gen_ai.tool.name", c.tool.to_string()),
            KeyValue::new("metamcp.server", c.server.to_string()),
            KeyValue::new("jsonrpc.request.id", c.request_id.to_string()),
            KeyValue::new("mcp.session.id", c.session.to_string()),
            KeyValue::new("mcp.protocol.version", c.version.to_string()),
            KeyValue::new("metamcp.key.id", c.key.to_string()),
        ])
        .start_with_context(tracer, &parent);
    let cx = parent.with_span(server);
    let mut client = tracer
        .span_builder(format!("{} {}", c.method, c.upstream_tool))
        .with_kind(SpanKind::Client)
        .with_attributes([
            KeyValue::new("mcp.method.name", c.method),
            KeyValue::new("metamcp.server", c.server.to_string()),
            KeyValue::new("network.transport", "tcp"),
            KeyValue::new("gen_ai.tool.name", c.upstream_tool.to_string()),
        ])
        .start_with_context(tracer, &cx);
    opentelemetry::trace::Span::end(&mut client);
    cx.span().end();
}

fn spans(c: &mut Criterion) {
    let authority = sink();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mut g = c.benchmark_group("trace_one_call");
    g.throughput(criterion::Throughput::Elements(1));

    let ours = metamcp_tracer(&authority);
    g.bench_function("metamcp", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for i in 1..=iters {
                metamcp_call(&ours);
                if i % CALLS_PER_EXPORT == 0 {
                    rt.block_on(ours.export_queued());
                }
            }
            rt.block_on(ours.export_queued());
            start.elapsed()
        });
    });
    let (dropped_full, dropped_export) = ours.dropped();
    assert_eq!(
        (dropped_full, dropped_export),
        (0, 0),
        "metamcp's tracer dropped spans: the figure would flatter it"
    );

    let provider = sdk_provider(&authority);
    let tracer = provider.tracer("metamcp");
    let propagator = TraceContextPropagator::new();
    let headers = HashMap::from([("traceparent", TRACEPARENT)]);
    g.bench_function("otel-sdk", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for i in 1..=iters {
                sdk_call(&tracer, &propagator, &headers);
                if i % CALLS_PER_EXPORT == 0 {
                    provider.force_flush().expect("exported");
                }
            }
            provider.force_flush().expect("exported");
            start.elapsed()
        });
    });
    g.finish();
    provider.shutdown().expect("shut down");
}

criterion_group!(benches, spans);
criterion_main!(benches);
