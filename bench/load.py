"""Load: 50 concurrent clients asking questions for 60 s while uploads run in the background.

    .venv/bin/python bench/load.py                    # the CI-sized run: 60 s, 50 connections
    .venv/bin/python bench/load.py --duration 600     # the soak (outside CI): reports memory growth

Starts a local stack on free ports, ingests the world population article, then drives
POST /v1/collections/{c}/query with wrk (questions rotate; repeats are answer-cache hits) while
a thread uploads fresh PDFs every few seconds. Prints throughput, p50/p95/p99, every non-2xx,
and the resident memory of the API and each worker before and after. Exits 1 on any error.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import httpx
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ragline.localstack import LocalStack, StackPorts, free_port  # noqa: E402
from tests.conftest import upload, wait_for_job  # noqa: E402

SAMPLE = REPO / "samples" / "pdfs" / "world_population_wikipedia.pdf"
QUESTIONS = [
    "What is the median age of human beings?",
    "When did the world population reach one billion?",
    "Which country has the largest population?",
    "How fast is the world population growing?",
    "What was the world population in 1950?",
    "What is the population of Africa?",
    "When will the world population reach 10 billion?",
    "What is the fertility rate?",
]
WRK_SCRIPT = """
local questions = {%s}
local n = 0
request = function()
  n = n + 1
  local body = '{"question": "' .. questions[(n %% #questions) + 1] .. '"}'
  return wrk.format("POST", "/v1/collections/load/query", {["Content-Type"] = "application/json"}, body)
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%d %%d %%d %%d %%d\\n", summary.requests, summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout, summary.errors.status, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), summary.duration))
end
"""


def service_memory(stack: LocalStack) -> dict[str, float]:
    """Proportional set size in MiB of each service, its pool children included (pages a child
    shares with its parent since the fork count once, not once per process)."""
    sizes = {}
    for service in stack.services:
        if service.process is None or service.name in ("redis", "chroma"):
            continue
        tree = psutil.Process(service.process.pid)
        processes = [tree, *tree.children(recursive=True)]
        sizes[service.name] = sum(p.memory_full_info().pss for p in processes if p.is_running()) / 2**20
    return sizes


def background_uploads(api_url: str, stop: threading.Event, outcomes: list[int]) -> None:
    data = SAMPLE.read_bytes()
    with httpx.Client(base_url=api_url, timeout=60) as api:
        n = 0
        while not stop.wait(3.0):
            n += 1
            response = upload(api, "load-uploads", f"copy-{n}.pdf", data + f"\n%load {n}".encode())
            outcomes.append(response.status_code)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=60, help="seconds of load")
    parser.add_argument("--connections", type=int, default=50)
    args = parser.parse_args()
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk (scripts/install-system-deps.sh does it)")

    ports = StackPorts(api=free_port(), flower=free_port(), chroma=free_port(), redis=free_port())
    with tempfile.TemporaryDirectory() as data_dir, open(Path(data_dir) / "stack.log", "w") as log:
        with LocalStack(Path(data_dir), ports=ports, with_flower=False, log=log) as stack:
            with httpx.Client(base_url=stack.api_url, timeout=120) as api:
                job = wait_for_job(api, upload(api, "load", SAMPLE.name, SAMPLE.read_bytes()).json()["job_id"])
                assert job["state"] == "done", job
            memory_before = service_memory(stack)

            script = Path(data_dir) / "query.lua"
            script.write_text(WRK_SCRIPT % ", ".join(json.dumps(q) for q in QUESTIONS))
            stop, upload_statuses = threading.Event(), []
            uploader = threading.Thread(target=background_uploads, args=(stack.api_url, stop, upload_statuses))
            uploader.start()
            try:
                run = subprocess.run(
                    [wrk, f"-c{args.connections}", "-t2", f"-d{args.duration}s", "--timeout", "30s", "-s", str(script), stack.api_url],
                    capture_output=True, text=True, check=True,
                )
            finally:
                stop.set()
                uploader.join()
            memory_after = service_memory(stack)

    match = re.search(r"RESULT (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)", run.stdout)
    if match is None:
        raise SystemExit(f"wrk printed no result:\n{run.stdout}\n{run.stderr}")
    requests, socket_errors, status_errors, p50, p95, p99, duration_us = map(int, match.groups())
    failed_uploads = [status for status in upload_statuses if status not in (200, 202)]
    print(f"queries: {requests} in {duration_us / 1e6:.1f} s = {requests / (duration_us / 1e6):.1f} req/s with {args.connections} connections")
    print(f"latency ms: p50 {p50 / 1000:.1f}  p95 {p95 / 1000:.1f}  p99 {p99 / 1000:.1f}")
    print(f"errors: socket {socket_errors}, non-2xx {status_errors}; background uploads {len(upload_statuses)}, refused {len(failed_uploads)}")
    print("memory (PSS) MiB, before -> after:")
    for name in memory_before:
        print(f"  {name:<15} {memory_before[name]:8.1f} -> {memory_after.get(name, 0):8.1f}")
    if socket_errors or status_errors or failed_uploads:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
