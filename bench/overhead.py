"""What tracing costs on query latency: the same questions against two local stacks, in one run.

    .venv/bin/python bench/overhead.py [--queries 200] [--pdf samples/pdfs/world_population_wikipedia.pdf]

Starts a local stack (Redis, Chroma, workers, API) on free ports, one after the other:
  1. telemetry on: every process exports its spans to a real OTLP/HTTP receiver
     (tests/observability/otlp.py decodes them), and serves its metrics;
  2. telemetry off: no OTLP endpoint, so no tracer provider at all; metrics stay on, as they
     always are (their cost is measured separately below, in-process).
Each stack ingests the PDF, answers a few warm-up questions, then `--queries` questions sent one
after another over HTTP, the answer cache off so that every one reaches a query worker. Prints
p50/p95/mean per stack and the on/off ratios. On a shared machine those ratios carry its noise, so it
also prints what telemetry costs per question measured in-process: one span (recorded and exported
in batches to the same receiver) times the spans a question made, and one metric update in a pool
child (file-backed, prometheus_client's multiprocess mode) times the updates a question makes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ragline.localstack import LocalStack, StackPorts, free_port  # noqa: E402
from ragline.telemetry.metrics import prepare_pool_directory, remove_pool_directory, use_pool_files  # noqa: E402
from ragline.telemetry.tracing import setup_tracing, shutdown_tracing, span  # noqa: E402
from tests.conftest import upload, wait_for_job  # noqa: E402
from tests.observability.otlp import OtlpReceiver  # noqa: E402

DEFAULT_PDF = REPO / "samples" / "pdfs" / "world_population_wikipedia.pdf"
QUESTIONS = (
    "What is the median age of human beings?",
    "Which countries have the largest populations?",
    "How fast is the world population growing?",
    "When did the world population reach eight billion?",
    "What share of people live in cities?",
    "How is the population expected to change by 2100?",
)
WARM_UP = 10
# Metric updates one question causes: API request and cache lookup; worker task, two model calls, one search.
UPDATES_PER_QUESTION = 6
METRIC_SAMPLES = 20_000
# Below the batch processor's queue (2048 spans), which would drop the rest and flatter the figure.
SPAN_SAMPLES = 2_000
QUERY_ROOT = "POST /v1/collections/{collection}/query"


def run_stack(pdf: Path, queries: int, env: dict[str, str], log: Path) -> list[float]:
    """Latencies in seconds of `queries` questions, after ingest and warm-up."""
    ports = StackPorts(api=free_port(), flower=free_port(), chroma=free_port(), redis=free_port())
    # Every question must reach a worker: a cached answer would measure Redis, not the pipeline.
    env = {**env, "RAGLINE_ANSWER_CACHE_TTL_SECONDS": "0"}
    with tempfile.TemporaryDirectory() as data_dir, log.open("w") as output:
        with LocalStack(Path(data_dir), ports=ports, with_flower=False, extra_env=env, log=output) as stack:
            with httpx.Client(base_url=stack.api_url, timeout=120) as api:
                response = upload(api, "bench", pdf.name, pdf.read_bytes())
                response.raise_for_status()
                job = wait_for_job(api, response.json()["job_id"], timeout=3600)
                if job["state"] != "done":
                    raise SystemExit(f"ingest failed: {job['error']}")
                for number in range(WARM_UP):
                    _ask(api, QUESTIONS[number % len(QUESTIONS)])
                return [_ask(api, QUESTIONS[number % len(QUESTIONS)]) for number in range(queries)]


def _ask(api: httpx.Client, question: str) -> float:
    started = time.perf_counter()
    response = api.post("/v1/collections/bench/query", json={"question": question})
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return elapsed


def in_fresh_process(function, *args: object) -> float:  # noqa: ANN001 - a picklable function
    """Run `function(*args)` in a new interpreter, untouched by this process's telemetry setup."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def _time_spans(endpoint: str, count: int) -> float:
    os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
    setup_tracing("ragline-bench")
    started = time.perf_counter()
    for number in range(count):
        with span("bench.step", collection="bench", number=number):
            pass
    elapsed = time.perf_counter() - started
    shutdown_tracing()
    return elapsed / count


def _time_pool_observations(count: int) -> float:
    directory, _ = prepare_pool_directory("bench")
    try:
        histogram = use_pool_files("bench").model_call_duration.labels("bench", "embed_query")
        started = time.perf_counter()
        for _ in range(count):
            histogram.observe(0.01)
        return (time.perf_counter() - started) / count
    finally:
        remove_pool_directory(directory)


def _summary(latencies: list[float]) -> tuple[float, float, float]:
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95, statistics.fmean(ordered)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pdf", type=Path, default=DEFAULT_PDF)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()

    logs = REPO / "test-artifacts" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with OtlpReceiver() as receiver:
        traced_env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint}
        on = run_stack(args.pdf, args.queries, traced_env, logs / "bench-overhead-on.log")
        time.sleep(2)  # the last batches of spans
        question_traces = {s.trace_id for s in receiver.spans if s.name == QUERY_ROOT}
        spans_per_question = sum(s.trace_id in question_traces for s in receiver.spans) / len(question_traces)
        per_span = in_fresh_process(_time_spans, receiver.endpoint, SPAN_SAMPLES)
    off = run_stack(args.pdf, args.queries, {}, logs / "bench-overhead-off.log")
    update = in_fresh_process(_time_pool_observations, METRIC_SAMPLES)

    print(f"document: {args.pdf.name}; {args.queries} questions per stack, one at a time, answer cache off")
    print(f"{'telemetry':<10} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8}")
    rows = {"on": _summary(on), "off": _summary(off)}
    for name, (p50, p95, mean) in rows.items():
        print(f"{name:<10} {p50 * 1000:8.1f} {p95 * 1000:8.1f} {mean * 1000:8.1f}")
    (p50_on, p95_on, mean_on), (p50_off, p95_off, mean_off) = rows["on"], rows["off"]
    print(f"on / off: p50 {p50_on / p50_off:.3f}, p95 {p95_on / p95_off:.3f}, mean {mean_on / mean_off:.3f}")
    tracing = spans_per_question * per_span
    print(
        f"tracing, in-process: {per_span * 1e6:.1f} us per span x {spans_per_question:.1f} spans per question "
        f"(decoded by the receiver) = {tracing * 1e6:.0f} us, {tracing / p50_off:.3%} of the p50 with it off"
    )
    print(
        f"metrics (on in both stacks): {update * 1e6:.1f} us per file-backed update x {UPDATES_PER_QUESTION} "
        f"per question = {UPDATES_PER_QUESTION * update * 1e6:.0f} us"
    )


if __name__ == "__main__":
    main()
