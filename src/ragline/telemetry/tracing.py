"""OpenTelemetry tracing, configured by the standard `OTEL_*` variables and off unless an endpoint is set.

With `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) set, spans go to that
OTLP/HTTP endpoint in batches. Without it no provider is installed: spans are the API's no-op spans,
nothing is exported, nothing waits.

    with span("ingest.extract", collection="books", document_id=document_id) as current:
        ...
        annotate(pages=42)
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

TRACER_NAME = "ragline"
# OTLP's default is 10 s per export, retried: a collector that is gone would hold every shutdown that long.
DEFAULT_EXPORT_TIMEOUT_SECONDS = 2.0
ATTRIBUTE_PREFIX = "ragline."

_provider = None


def tracing_configured() -> bool:
    """True when the environment asks for OTLP traces and says where to send them."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = {name.strip() for name in os.environ.get("OTEL_TRACES_EXPORTER", "otlp").split(",")}
    if "otlp" not in exporters:
        return False
    return bool(os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))


def setup_tracing(service_name: str) -> bool:
    """Install this process's tracer provider with a batching OTLP/HTTP exporter, once.

    `service_name` is the default; `OTEL_SERVICE_NAME` overrides it. Returns whether tracing is on.
    Call it in the process that will record spans: a batch exporter's thread does not survive a fork.
    """
    global _provider
    if _provider is not None:
        return True
    if not tracing_configured():
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create(
        {
            "service.name": os.environ.get("OTEL_SERVICE_NAME") or service_name,
            # Prefork pool processes share a service name; the pid tells them apart in a trace.
            "process.pid": os.getpid(),
        }
    )
    timeout_set = any(name in os.environ for name in ("OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"))
    exporter = OTLPSpanExporter() if timeout_set else OTLPSpanExporter(timeout=DEFAULT_EXPORT_TIMEOUT_SECONDS)
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _provider = provider
    return True


def shutdown_tracing() -> None:
    """Export what is buffered; for processes that exit without running atexit hooks (pool children)."""
    if _provider is not None:
        _provider.shutdown()


@contextmanager
def span(name: str, kind: SpanKind = SpanKind.INTERNAL, **attributes: object) -> Iterator[Span]:
    """A child of the current span; keyword attributes are recorded as `ragline.<key>`.

    An exception leaving the block is recorded on the span, which is marked as an error.
    """
    tracer = trace.get_tracer(TRACER_NAME)
    with tracer.start_as_current_span(name, kind=kind, attributes=_attributes(attributes)) as current:
        yield current


@contextmanager
def detached_span(name: str, kind: SpanKind = SpanKind.INTERNAL, **attributes: object) -> Iterator[Span]:
    """Like `span`, but never made the current span: safe around a generator's `yield`, where the
    caller's code runs between two resumptions and must not become the span's children."""
    current = trace.get_tracer(TRACER_NAME).start_span(name, kind=kind, attributes=_attributes(attributes))
    try:
        yield current
    except Exception as exc:
        current.record_exception(exc)
        current.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
        raise
    finally:
        current.end()


def annotate(**attributes: object) -> None:
    """Add `ragline.<key>` attributes to the current span (known only once work is done: pages, chunks)."""
    current = trace.get_current_span()
    if current.is_recording():
        current.set_attributes(_attributes(attributes))


def current_trace_id() -> str | None:
    """The current trace id as 32 hex digits, or None when no trace is being recorded."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def _attributes(attributes: dict[str, object]) -> dict[str, str | bool | int | float]:
    """Prefix plain keys; keep dotted semantic-convention keys (db.system.name) as they are."""
    return {
        (key if "." in key else ATTRIBUTE_PREFIX + key): value if isinstance(value, str | bool | int | float) else str(value)
        for key, value in attributes.items()
        if value is not None
    }
