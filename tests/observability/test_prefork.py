"""Worker metrics survive the pool: a child killed outright is replaced, its counters stay, its live gauge goes."""

from __future__ import annotations

import signal
import time

import psutil

from ragline.localstack import LocalStack
from tests.conftest import scrape, value
from tests.observability.conftest import Traffic


def test_killed_pool_child_is_forgotten_and_its_counts_kept(stack: LocalStack, traffic: Traffic) -> None:
    worker = stack.service("ingest-worker").process
    assert worker is not None
    url = stack.metrics_urls()["ingest-worker"]
    pages = value(scrape(url), "ragline_ingested_pages_total")
    (child,) = psutil.Process(worker.pid).children()
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        replacements = [c for c in psutil.Process(worker.pid).children() if c.pid != child.pid]
        samples = scrape(url)
        if replacements and value(samples, "ragline_worker_processes", queue="ingest") == 1:
            break
        assert value(samples, "ragline_worker_processes", queue="ingest") <= 1, "the dead child still counts"
        time.sleep(0.5)
    else:
        raise AssertionError("the pool child was not replaced, or the replacement did not report")
    assert value(samples, "ragline_ingested_pages_total") == pages == 25
