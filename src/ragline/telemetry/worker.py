"""Telemetry of a Celery worker: its main process and each prefork pool child.

    app = make_celery("ingest")
    install_worker_telemetry("ingest", tasks)   # at import: logs, metrics endpoint, task metrics

    @worker_process_init.connect
    def _load_model(**_):
        setup_worker_process("ingest")          # in each pool child, after the fork
        ...

The main process serves the pool's metrics on `RAGLINE_METRICS_PORT` (0: none) from `worker_init`
on, before the pool forks. Tracing starts in each child: the batch exporter's thread would not
survive a fork. Only Celery is instrumented, never the Redis client: the transport polls Redis every
second and would bury the spans that matter; ragline's own Redis calls carry spans of their own.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable

from celery import signals

from ragline.config import get_settings
from ragline.telemetry.logs import configure_logging
from ragline.telemetry.metrics import (
    forget_process,
    metrics,
    prepare_pool_directory,
    remove_pool_directory,
    serve_pool_metrics,
    use_pool_files,
)
from ragline.telemetry.tracing import setup_tracing, shutdown_tracing

logger = logging.getLogger(__name__)

# The queue of the worker this process belongs to and the tasks it runs, once its module installed telemetry.
_queue = ""
_tasks: tuple[str, ...] = ()
_task_started: dict[str, float] = {}


def service_name(queue: str) -> str:
    return os.environ.get("OTEL_SERVICE_NAME") or f"ragline-{queue}-worker"


def install_worker_telemetry(queue: str, tasks: Iterable[str]) -> None:
    """Connect the worker's signals; the first call in a process wins (one worker kind per process)."""
    global _queue, _tasks
    if _queue:
        return
    _queue, _tasks = queue, tuple(tasks)
    signals.setup_logging.connect(_setup_logging, weak=False)
    signals.worker_init.connect(_start_metrics_endpoint, weak=False)
    signals.task_prerun.connect(_task_started_at, weak=False)
    signals.task_postrun.connect(_task_finished, weak=False)
    signals.worker_process_shutdown.connect(_pool_process_exiting, weak=False)


def setup_worker_process(queue: str) -> None:
    """In a pool child: file-backed metrics, then tracing of the tasks it runs and sends."""
    use_pool_files(queue, _tasks)
    if setup_tracing(service_name(queue)):
        from opentelemetry.instrumentation.celery import CeleryInstrumentor

        CeleryInstrumentor().instrument()


def _setup_logging(loglevel: int | str | None = None, **_: object) -> None:
    # Answering this signal tells Celery to leave logging alone.
    configure_logging(service_name(_queue), loglevel or logging.INFO)


def _start_metrics_endpoint(**_: object) -> None:
    settings = get_settings()
    directory, created = prepare_pool_directory(_queue)
    if created:
        signals.worker_shutdown.connect(lambda **_: remove_pool_directory(directory), weak=False)
    if settings.metrics_port:
        try:
            serve_pool_metrics(settings.metrics_host, settings.metrics_port, directory)
        except OSError as exc:
            # Two workers on one machine with the same port: this one still works, unmeasured.
            logger.error("worker metrics not served, give RAGLINE_METRICS_PORT a free port port=%s error=%s", settings.metrics_port, exc)


def _task_started_at(task_id: str, **_: object) -> None:
    _task_started[task_id] = time.perf_counter()


def _task_finished(task_id: str, task, state: str | None = None, **_: object) -> None:  # noqa: ANN001 - celery.Task
    started = _task_started.pop(task_id, None)
    if started is not None:
        outcome = (state or "unknown").lower()
        metrics().task_duration.labels(task.name, outcome).observe(time.perf_counter() - started)


def _pool_process_exiting(**_: object) -> None:
    shutdown_tracing()
    forget_process(os.getpid())
