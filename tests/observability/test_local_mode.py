"""`ragline up --prometheus`, as a user runs it: a real Prometheus scrapes every process of the stack."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import httpx

from ragline.localstack import free_port
from tests.conftest import ARTIFACTS, free_ports, wait_until
from tests.e2e.running import RAGLINE, port_args, wait_ready

SCRAPED = {"api", "ingest-worker", "query-worker", "default-worker", "flower"}


def healthy_targets(prometheus: str) -> set[str]:
    targets = httpx.get(f"{prometheus}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
    return {target["labels"]["service"] for target in targets if target["health"] == "up"}


def worker_queues(prometheus: str) -> set[str]:
    query = {"query": "sum by (queue) (ragline_worker_processes)"}
    workers = httpx.get(f"{prometheus}/api/v1/query", params=query, timeout=5).json()
    return {sample["metric"]["queue"] for sample in workers["data"]["result"]}


def test_up_with_prometheus_scrapes_every_process(tmp_path: Path) -> None:
    ports, prometheus_port = free_ports(), free_port()
    prometheus = f"http://127.0.0.1:{prometheus_port}"
    log = ARTIFACTS / "logs" / "observability-up.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as output:
        command = [*RAGLINE, "up", "--data-dir", str(tmp_path), *port_args(ports), "--prometheus", "--prometheus-port", str(prometheus_port)]
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        try:
            wait_ready([f"http://127.0.0.1:{ports.api}/readyz", f"{prometheus}/-/ready"], process)
            wait_until(lambda: healthy_targets(prometheus) == SCRAPED, 60, f"every process scraped healthy ({SCRAPED})")
            # A pool child counts itself after its fork, which may come after the first healthy scrape.
            wait_until(lambda: worker_queues(prometheus) == {"ingest", "query", "default"}, 60, "a worker process on every queue")
            # Services start in parallel: the addresses are printed once the slowest (the UI) is ready too.
            wait_until(lambda: f"Prometheus: {prometheus}/targets" in log.read_text(), 120, "ragline up to print its addresses")
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=60) == 0
    printed = log.read_text()
    assert f"Prometheus: {prometheus}/targets" in printed
    assert printed.count("Metrics:  http://127.0.0.1:") == len(SCRAPED)
