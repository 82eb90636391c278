"""Pure parts of the telemetry setup: when tracing is on, and what a log line looks like."""

import io
import json
import logging
import os
import subprocess
import sys

import pytest
from opentelemetry.sdk.trace import TracerProvider

from ragline.telemetry.logs import JsonFormatter, TextFormatter, configure_logging, message_fields
from ragline.localstack import free_port
from ragline.telemetry.tracing import DEFAULT_EXPORT_TIMEOUT_SECONDS, current_trace_id, tracing_configured


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("env", "on"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_TRACES_EXPORTER": "none"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SDK_DISABLED": "true"}, False),
    ],
)
def test_tracing_is_on_only_with_an_otlp_endpoint(monkeypatch: pytest.MonkeyPatch, env: dict, on: bool) -> None:
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_TRACES_EXPORTER", "OTEL_SDK_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert tracing_configured() is on


def test_no_trace_id_outside_a_recorded_span() -> None:
    assert current_trace_id() is None


def test_key_value_pairs_of_the_message_become_fields() -> None:
    record = logging.LogRecord("x", logging.INFO, "", 0, "upload accepted job_id=%s bytes=%d in %.1f s", ("j1", 42, 0.5), None)
    assert message_fields(record) == {"job_id": "j1", "bytes": 42}
    odd = logging.LogRecord("x", logging.INFO, "", 0, "100%% done job_id=%s", ("j1",), None)
    assert message_fields(odd) == {"job_id": "j1"}


def test_json_lines_carry_the_current_trace_and_span_ids() -> None:
    tracer = TracerProvider().get_tracer("test")
    record = logging.LogRecord("ragline.worker", logging.WARNING, "", 0, "ingest failed code=%s", ("encrypted_pdf",), None)
    with tracer.start_as_current_span("work") as span:
        line = json.loads(JsonFormatter("ragline-ingest-worker").format(record))
        context = span.get_span_context()
    assert line["trace_id"] == format(context.trace_id, "032x")
    assert line["span_id"] == format(context.span_id, "016x")
    assert (line["level"], line["service"], line["code"], line["message"]) == ("WARNING", "ragline-ingest-worker", "encrypted_pdf", "ingest failed code=encrypted_pdf")


def test_terminal_gets_text_and_a_pipe_gets_json() -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        for stream, formatter in ((_Tty(), TextFormatter), (io.StringIO(), JsonFormatter)):
            configure_logging("ragline-api", stream=stream)
            assert [type(handler.formatter) for handler in root.handlers] == [formatter]
            assert logging.getLogger("httpx").level == logging.WARNING
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def test_a_collector_that_is_gone_holds_shutdown_for_at_most_the_export_timeout() -> None:
    script = (
        "import time\n"
        "from ragline.telemetry.tracing import setup_tracing, shutdown_tracing, span\n"
        "assert setup_tracing('ragline-test')\n"
        "with span('work'):\n"
        "    pass\n"
        "started = time.perf_counter()\n"
        "shutdown_tracing()\n"
        "print(time.perf_counter() - started)\n"
    )
    env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{free_port()}"}
    env.pop("OTEL_EXPORTER_OTLP_TIMEOUT", None)
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    # One refused attempt, one backoff, then the 2 s deadline: not OTLP's default 10 s with retries.
    assert float(result.stdout) < DEFAULT_EXPORT_TIMEOUT_SECONDS + 1.5
