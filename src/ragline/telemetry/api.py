"""Telemetry of the API process: JSON logs, a server span per request, request metrics, `/metrics`."""

from __future__ import annotations

import os
import time

from fastapi import FastAPI
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, disable_created_metrics, generate_latest
from prometheus_client.registry import REGISTRY
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ragline.telemetry.logs import configure_logging
from ragline.telemetry.metrics import CombinedCollector, metrics
from ragline.telemetry.tracing import current_trace_id, setup_tracing

SERVICE_NAME = "ragline-api"
TRACE_ID_HEADER = "X-Trace-Id"
# Probes and scrapes are neither traced nor counted: they would outnumber the real traffic.
UNMEASURED_PATHS = ("/healthz", "/readyz", "/metrics")
DEFAULT_EXCLUDED_URLS = "healthz,readyz,metrics"


def install_api_telemetry(app: FastAPI, scraped: object) -> None:
    """Logs, traces (when an OTLP endpoint is configured) and metrics for this app.

    `scraped` is a collector of what is read at scrape time only (the queue lengths), served on `/metrics`
    with this process's own metrics.
    """
    configure_logging(os.environ.get("OTEL_SERVICE_NAME") or SERVICE_NAME)
    # `_created` samples double the series count and no dashboard reads them.
    disable_created_metrics()
    metrics().start_at_zero(queue=None)
    app.add_middleware(RequestTelemetryMiddleware)
    if setup_tracing(SERVICE_NAME):
        from opentelemetry.instrumentation.celery import CeleryInstrumentor
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(
            app,
            excluded_urls=os.environ.get("OTEL_PYTHON_FASTAPI_EXCLUDED_URLS", DEFAULT_EXCLUDED_URLS),
            # One span per request, not one per ASGI message on top of it.
            exclude_spans=["receive", "send"],
        )
        # Producer spans, and the trace context in each task message's headers.
        CeleryInstrumentor().instrument()

    exposed = CombinedCollector(REGISTRY, scraped)

    @app.get("/metrics", include_in_schema=False)
    def _metrics() -> Response:
        return Response(generate_latest(exposed), media_type=CONTENT_TYPE_LATEST)  # type: ignore[arg-type]


class RequestTelemetryMiddleware:
    """Times each request by route template and status, and returns the trace id in `X-Trace-Id`.

    Runs inside the OpenTelemetry middleware, so the request's server span is the current span.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._duration = metrics().http_request_duration

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNMEASURED_PATHS:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_trace_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                trace_id = current_trace_id()
                if trace_id is not None:
                    message["headers"] = [*message.get("headers", ()), (TRACE_ID_HEADER.lower().encode(), trace_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_trace_id)
        finally:
            route = scope.get("route")
            # The template, never the raw path: collection names and ids would make a series each.
            template = getattr(route, "path", None) or "unmatched"
            self._duration.labels(scope["method"], template, str(status)).observe(time.perf_counter() - started)
