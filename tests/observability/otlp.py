"""A real OTLP/HTTP trace receiver: the exporters in ragline's processes send protobuf over a socket,
this decodes it with opentelemetry-proto and keeps every span (used by the tests and bench/overhead.py).

    with OtlpReceiver() as receiver:
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint}
        ...
        spans = receiver.trace(trace_id)
"""

from __future__ import annotations

import gzip
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest, ExportTraceServiceResponse
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

TRACES_PATH = "/v1/traces"
KINDS = {0: "UNSPECIFIED", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}


@dataclass(frozen=True)
class ReceivedSpan:
    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    kind: str
    service: str
    pid: int | None
    attributes: dict[str, object]
    start_ns: int
    end_ns: int
    error: bool


@dataclass
class OtlpReceiver:
    host: str = "127.0.0.1"
    spans: list[ReceivedSpan] = field(default_factory=list)
    requests: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((self.host, 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        """The value for OTEL_EXPORTER_OTLP_ENDPOINT (exporters append /v1/traces)."""
        return f"http://{self.host}:{self._server.server_address[1]}"

    def __enter__(self) -> OtlpReceiver:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def accept(self, body: bytes) -> None:
        request = ExportTraceServiceRequest.FromString(body)
        received = []
        for resource_spans in request.resource_spans:
            resource = _attributes(resource_spans.resource.attributes)
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(
                        ReceivedSpan(
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_id=span.parent_span_id.hex() or None,
                            name=span.name,
                            kind=KINDS[span.kind],
                            service=str(resource.get("service.name")),
                            pid=resource.get("process.pid"),  # type: ignore[arg-type]
                            attributes=_attributes(span.attributes),
                            start_ns=span.start_time_unix_nano,
                            end_ns=span.end_time_unix_nano,
                            error=span.status.code == 2,
                        )
                    )
        with self._lock:
            self.spans.extend(received)
            self.requests += 1

    def trace(self, trace_id: str) -> list[ReceivedSpan]:
        with self._lock:
            return [span for span in self.spans if span.trace_id == trace_id]

    def wait_for(self, trace_id: str, names: set[str], timeout: float = 30.0) -> list[ReceivedSpan]:
        """The trace's spans once every name in `names` arrived (exporters send in batches)."""
        deadline = time.monotonic() + timeout
        while True:
            spans = self.trace(trace_id)
            missing = names - {span.name for span in spans}
            if not missing:
                return spans
            if time.monotonic() > deadline:
                raise AssertionError(f"trace {trace_id} lacks {sorted(missing)} after {timeout:g} s; has {sorted({s.name for s in spans})}")
            time.sleep(0.2)


def _handler(receiver: OtlpReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            if self.path != TRACES_PATH or self.headers.get("Content-Type") != "application/x-protobuf":
                self.send_error(404 if self.path != TRACES_PATH else 415)
                return
            receiver.accept(body)
            reply = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *_: object) -> None:
            return None

    return Handler


def _attributes(pairs) -> dict[str, object]:  # noqa: ANN001 - repeated KeyValue
    return {pair.key: _value(pair.value) for pair in pairs}


def _value(value: AnyValue) -> object:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(item) for item in value.array_value.values]
    return getattr(value, kind) if kind else None
