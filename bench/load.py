"""Load: 50 concurrent clients asking questions for 60 s while uploads run in the background, then
uncached questions with one and with two query processes.

    .venv/bin/python bench/load.py                    # the CI-sized run: 60 s, 50 connections
    .venv/bin/python bench/load.py --duration 600     # the soak (outside CI): reports memory growth
    .venv/bin/python bench/load.py --duration 0 --uncached-seconds 30   # uncached throughput only

Starts a local stack on free ports, ingests the world population article, then drives
POST /v1/collections/{c}/query with wrk (questions rotate; repeats are answer-cache hits) while
a thread uploads fresh PDFs every few seconds. Prints throughput, p50/p95/p99, every non-2xx,
and the resident memory of the API and each worker before and after.

Then, for 1 and 2 query processes (a fresh stack each, --uncached-processes), wrk asks only questions
no one asked before (each text carries a counter, so none is an answer-cache hit or joins an
identical question in flight) with --uncached-connections connections, and prints the throughput,
latency and the CPU each service used per second of the run: what bounds the throughput.
Exits 1 on any error.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
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
WRK_DONE = """
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%d %%d %%d %%d %%d\\n", summary.requests, summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout, summary.errors.status, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), summary.duration))
end
"""
WRK_SCRIPT = """
local questions = {%s}
local n = 0
request = function()
  n = n + 1
  local body = '{"question": "' .. questions[(n %% #questions) + 1] .. '"}'
  return wrk.format("POST", "/v1/collections/load/query", {["Content-Type"] = "application/json"}, body)
end
""" + WRK_DONE
# Questions no one asked before: each thread numbers its own, so every text is new to the answer cache.
UNCACHED_SCRIPT = """
local questions = {%s}
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end
local n = 0
request = function()
  n = n + 1
  local body = '{"question": "' .. questions[(n %% #questions) + 1] .. ' (' .. id .. '.' .. n .. ')"}'
  return wrk.format("POST", "/v1/collections/load/query", {["Content-Type"] = "application/json"}, body)
end
""" + WRK_DONE


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


@dataclass(frozen=True)
class WrkResult:
    requests: int
    socket_errors: int
    status_errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    seconds: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


def run_wrk(url: str, script: Path, connections: int, seconds: int) -> WrkResult:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk (scripts/install-system-deps.sh does it)")
    run = subprocess.run(
        [wrk, f"-c{connections}", f"-t{min(2, connections)}", f"-d{seconds}s", "--timeout", "30s", "-s", str(script), url],
        capture_output=True, text=True, check=True,
    )
    match = re.search(r"RESULT (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)", run.stdout)
    if match is None:
        raise SystemExit(f"wrk printed no result:\n{run.stdout}\n{run.stderr}")
    requests, socket_errors, status_errors, p50, p95, p99, duration_us = map(int, match.groups())
    return WrkResult(requests, socket_errors, status_errors, p50 / 1000, p95 / 1000, p99 / 1000, duration_us / 1e6)


def ingest_sample(stack: LocalStack) -> None:
    with httpx.Client(base_url=stack.api_url, timeout=120) as api:
        job = wait_for_job(api, upload(api, "load", SAMPLE.name, SAMPLE.read_bytes()).json()["job_id"])
        assert job["state"] == "done", job


def mixed_load(duration: int, connections: int) -> bool:
    """Rotating questions (mostly answer-cache hits) with uploads alongside; True when all went well."""
    ports = StackPorts(api=free_port(), flower=free_port(), chroma=free_port(), redis=free_port())
    with tempfile.TemporaryDirectory() as data_dir, open(Path(data_dir) / "stack.log", "w") as log:
        with LocalStack(Path(data_dir), ports=ports, with_flower=False, log=log) as stack:
            ingest_sample(stack)
            memory_before = service_memory(stack)
            script = Path(data_dir) / "query.lua"
            script.write_text(WRK_SCRIPT % ", ".join(json.dumps(q) for q in QUESTIONS))
            stop, upload_statuses = threading.Event(), []
            uploader = threading.Thread(target=background_uploads, args=(stack.api_url, stop, upload_statuses))
            uploader.start()
            try:
                result = run_wrk(stack.api_url, script, connections, duration)
            finally:
                stop.set()
                uploader.join()
            memory_after = service_memory(stack)

    failed_uploads = [status for status in upload_statuses if status not in (200, 202)]
    print(f"queries: {result.requests} in {result.seconds:.1f} s = {result.per_second:.1f} req/s with {connections} connections")
    print(f"latency ms: p50 {result.p50_ms:.1f}  p95 {result.p95_ms:.1f}  p99 {result.p99_ms:.1f}")
    print(f"errors: socket {result.socket_errors}, non-2xx {result.status_errors}; background uploads {len(upload_statuses)}, refused {len(failed_uploads)}")
    print("memory (PSS) MiB, before -> after:")
    for name in memory_before:
        print(f"  {name:<15} {memory_before[name]:8.1f} -> {memory_after.get(name, 0):8.1f}")
    return not (result.socket_errors or result.status_errors or failed_uploads)


def cpu_seconds(stack: LocalStack) -> dict[str, float]:
    """CPU time (user + system) each service has used so far, its pool children included."""
    used = {}
    for service in stack.services:
        if service.process is None:
            continue
        tree = psutil.Process(service.process.pid)
        times = [p.cpu_times() for p in (tree, *tree.children(recursive=True)) if p.is_running()]
        used[service.name] = sum(t.user + t.system for t in times)
    return used


def uncached_load(query_processes: int, seconds: int, connections: int) -> bool:
    """Questions no one asked before, against a stack with this many query processes."""
    ports = StackPorts(api=free_port(), flower=free_port(), chroma=free_port(), redis=free_port())
    with tempfile.TemporaryDirectory() as data_dir, open(Path(data_dir) / "stack.log", "w") as log:
        with LocalStack(Path(data_dir), ports=ports, with_flower=False, log=log, query_processes=query_processes) as stack:
            ingest_sample(stack)
            script = Path(data_dir) / "uncached.lua"
            script.write_text(UNCACHED_SCRIPT % ", ".join(json.dumps(q) for q in QUESTIONS))
            # Warm-up: models loaded in every query process, the BM25 index built, the passages'
            # sentence vectors cached; as a running service has them.
            with httpx.Client(base_url=stack.api_url, timeout=120) as api:
                for question in QUESTIONS:
                    api.post("/v1/collections/load/query", json={"question": f"{question} (warm-up)"}).raise_for_status()
            run_wrk(stack.api_url, script, connections, 5)
            before, load_before = cpu_seconds(stack), os.getloadavg()[0]
            result = run_wrk(stack.api_url, script, connections, seconds)
            after = cpu_seconds(stack)
    busy = {name: (after[name] - before.get(name, 0.0)) / result.seconds for name in after}
    # CPU seconds per question: what a query process sustains when it has a core to itself, whatever
    # else shares this machine (a starved run is slow, but each question still costs the same work).
    per_question = {name: value / max(result.per_second, 1e-9) for name, value in busy.items()}
    print(
        f"uncached, {query_processes} query process{'es' if query_processes > 1 else ''}, {connections} connections: "
        f"{result.per_second:.1f} questions/s ({result.requests} in {result.seconds:.1f} s); latency ms p50 {result.p50_ms:.1f}  "
        f"p95 {result.p95_ms:.1f}  p99 {result.p99_ms:.1f}; errors: socket {result.socket_errors}, non-2xx {result.status_errors}"
    )
    print(
        f"  CPU cores busy per service (of {os.cpu_count()}; load average {load_before:.1f} before the run): "
        + ", ".join(f"{name} {value:.2f}" for name, value in sorted(busy.items(), key=lambda item: -item[1]))
        + f"; all services {sum(busy.values()):.2f}"
    )
    print(
        "  CPU ms per question: " + ", ".join(f"{name} {value * 1000:.1f}" for name, value in sorted(per_question.items(), key=lambda item: -item[1]))
        + f"; bounds: the query process{'es' if query_processes > 1 else ''} with a core each, about "
        + f"{query_processes / max(per_question.get('query-worker', 0), 1e-9):.0f} questions/s; all services on {os.cpu_count()} cores, "
        + f"about {os.cpu_count() / max(sum(per_question.values()), 1e-9):.0f}"
    )
    return not (result.socket_errors or result.status_errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=60, help="seconds of mixed load (0: skip it)")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--uncached-seconds", type=int, default=30, help="seconds of uncached questions per process count (0: skip)")
    parser.add_argument("--uncached-connections", type=int, default=8)
    parser.add_argument("--uncached-processes", type=int, nargs="+", default=[1, 2], help="query processes to measure")
    args = parser.parse_args()
    ok = True
    if args.duration:
        ok &= mixed_load(args.duration, args.connections)
    if args.uncached_seconds:
        for processes in args.uncached_processes:
            ok &= uncached_load(processes, args.uncached_seconds, args.uncached_connections)
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
