"""`ragline up --prometheus`, as a user runs it: a real Prometheus scrapes every process of the stack."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import httpx

from ragline.localstack import free_port
from tests.conftest import ARTIFACTS, free_ports, wait_until
from tests.e2e.running import RAGLINE, port_args, wait_ready

SCRAPED = {"api", "ingest-worker", "query-worker", "default-worker", "flower"}


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
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                targets = httpx.get(f"{prometheus}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
                healthy = {target["labels"]["service"] for target in targets if target["health"] == "up"}
                if healthy == SCRAPED:
                    break
                time.sleep(1)
            assert healthy == SCRAPED
            workers = httpx.get(f"{prometheus}/api/v1/query", params={"query": "sum by (queue) (ragline_worker_processes)"}, timeout=5).json()
            assert {sample["metric"]["queue"] for sample in workers["data"]["result"]} == {"ingest", "query", "default"}
            # Services start in parallel: the addresses are printed once the slowest (the UI) is ready too.
            wait_until(lambda: f"Prometheus: {prometheus}/targets" in log.read_text(), 120, "ragline up to print its addresses")
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=60) == 0
    printed = log.read_text()
    assert f"Prometheus: {prometheus}/targets" in printed
    assert printed.count("Metrics:  http://127.0.0.1:") == len(SCRAPED)
