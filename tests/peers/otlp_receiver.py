"""A real OTLP/HTTP trace receiver for the tests: decodes each POST /v1/traces body with
the OpenTelemetry project's own protobuf definitions (PyPI `opentelemetry-proto`) and
prints one JSON line per span on stdout. The first line is the port it listens on.
`--status N` answers every export with that HTTP status instead of 200."""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

STATUS = int(sys.argv[sys.argv.index("--status") + 1]) if "--status" in sys.argv else 200


def value(any_value):
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(length)
        if STATUS == 200:
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            for rs in request.resource_spans:
                resource = {kv.key: value(kv.value) for kv in rs.resource.attributes}
                for ss in rs.scope_spans:
                    for span in ss.spans:
                        line = {
                            "path": self.path,
                            "content_type": self.headers.get("content-type"),
                            "auth": self.headers.get("x-test-auth"),
                            "resource": resource,
                            "scope": ss.scope.name,
                            "trace_id": span.trace_id.hex(),
                            "span_id": span.span_id.hex(),
                            "parent_span_id": span.parent_span_id.hex(),
                            "name": span.name,
                            "kind": span.kind,
                            "start": span.start_time_unix_nano,
                            "end": span.end_time_unix_nano,
                            "attributes": {kv.key: value(kv.value) for kv in span.attributes},
                            "status_code": span.status.code,
                        }
                        sys.stdout.write(json.dumps(line) + "\n")
            sys.stdout.flush()
        answer = ExportTraceServiceResponse().SerializeToString() if STATUS == 200 else b""
        self.send_response(STATUS)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
