"""Query latency: the service's endpoint against the same retrieval and answer in one process, and cached
answers, in one run.

    .venv/bin/python bench/query.py [--queries 100] [--runtime auto|openvino-int8|onnx-int8|torch] [--enqueue-seconds 10]

Starts a local stack on free ports, ingests the world population article, then
  1. service, uncached: POST /v1/collections/{c}/query (extractive, local model) with --queries
     distinct questions one after another, each new to the answer cache, by vectors and hybrid;
     the reply's own `timings` give the profile (embed the question, retrieve, answer);
  2. service, uncached, cold sentence vectors: the same, with the embedding cache emptied before
     each question, so the answer embeds every sentence of its passages as the first question on
     those passages does;
  3. in-process: the same questions through pipeline.query.answer_question with the same embedder
     runtime, the same embedding cache, the same Chroma collection and the same options, no API,
     no queue;
  4. service, cached: one question asked --queries times after a first answer;
  5. enqueue throughput with wrk (50 connections): the API's POST /add/{x}/{y} against
     bench/bare_enqueue.py, a FastAPI endpoint that only sends the same Celery task to the same Redis,
     alternating three times so both see the same machine (medians), with the queue's worker paused.
Prints p50/p95/p99 per path and the ratios with their targets (uncached service p50 <= 50 ms and p95
<= 100 ms; service p50 <= 1.5x in-process; cached p50 under 5 ms at the client; enqueue throughput
>= 0.8x the bare endpoint's). The in-process path retrieves by vectors only (it has no BM25 index).
The machine is shared: compare ratios from the same run, and read the load average printed with them.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import get_args
from pathlib import Path

import httpx
import redis

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.ingest import DEFAULT_PDFS, RUNTIME_FIELD, ingest_through_service  # noqa: E402
from ragline.config import Settings  # noqa: E402
from ragline.localstack import LocalStack, StackPorts, free_port, http_ok  # noqa: E402
from ragline.pipeline.query import QueryOptions, answer_question  # noqa: E402
from ragline.pipeline.retrieve import Retriever  # noqa: E402
from ragline.providers.cached import CachedEmbedder  # noqa: E402
from ragline.providers.embeddings import create_embedder, local_runtime  # noqa: E402
from ragline.stores import keys  # noqa: E402
from ragline.stores.cache_redis import CacheRedis  # noqa: E402
from ragline.stores.embeddings import EmbeddingCache  # noqa: E402
from ragline.stores.vectors import VectorIndex  # noqa: E402
from ragline.tasks import names  # noqa: E402
from ragline.tasks.celery_app import make_celery  # noqa: E402
from tests.conftest import stored, wait_until  # noqa: E402

COLLECTION = "bench-query"
TOPICS = (
    "What is the median age of human beings?",
    "Which countries have the largest populations?",
    "When did the world population exceed eight billion?",
    "What was the highest population growth rate?",
    "How many people lived in cities in 2020?",
)


def questions(count: int, offset: int = 0) -> list[str]:
    """Distinct texts (so none is in the answer cache), on the article's topics."""
    return [f"{TOPICS[n % len(TOPICS)]} ({n})" for n in range(offset, offset + count)]


def empty_embedding_cache(client: redis.Redis) -> None:
    """Forget every cached vector, so the next answer embeds its sentences as a first question does."""
    cached = list(client.scan_iter(match=keys.embedding_cache("*", "*"), count=1000))
    for start in range(0, len(cached), 1000):
        client.delete(*cached[start : start + 1000])


def percentiles(samples_ms: list[float]) -> tuple[float, float, float]:
    cuts = statistics.quantiles(samples_ms, n=100, method="inclusive")
    return statistics.median(samples_ms), cuts[94], cuts[98]


def timed(ask: Callable[[str], object], texts: list[str]) -> list[float]:
    return timed_after(ask, texts, before=lambda: None)


def timed_after(ask: Callable[[str], object], texts: list[str], before: Callable[[], None]) -> list[float]:
    """Milliseconds of each `ask`, with `before` run (untimed) ahead of each."""
    samples = []
    for text in texts:
        before()
        started = time.perf_counter()
        ask(text)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


WRK_POST = 'wrk.method = "POST"\n'


def wrk_requests_per_second(url: str, seconds: int, script: Path) -> float:
    """Throughput of POST `url` under 50 connections; any non-2xx answer fails the benchmark."""
    run = subprocess.run(
        ["wrk", "-c50", "-t2", f"-d{seconds}s", "-s", str(script), url], capture_output=True, text=True, check=True
    )
    if "Non-2xx" in run.stdout:
        raise SystemExit(f"wrk saw errors from {url}:\n{run.stdout}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", run.stdout).group(1))  # type: ignore[union-attr]


def enqueue_throughput(stack: LocalStack, seconds: int, work_dir: Path) -> tuple[float, float]:
    """(API, bare endpoint) requests/s, each the median of three runs taken in turn.

    The default worker stops consuming meanwhile: draining the tasks would take CPU from both
    endpoints, by however many tasks the previous run left.
    """
    script = work_dir / "post.lua"
    script.write_text(WRK_POST)
    port = free_port()
    env = {**os.environ, "BARE_ENQUEUE_REDIS_URL": stack.redis_url}
    bare = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bench.bare_enqueue:app", "--port", str(port), "--no-access-log", "--log-level", "warning"],
        cwd=REPO, env=env,
    )
    control = make_celery("bench", Settings(redis_url=stack.redis_url)).control
    workers = [node for reply in control.ping(timeout=2) for node in reply if node.startswith(f"{names.DEFAULT_QUEUE}@")]
    control.cancel_consumer(names.DEFAULT_QUEUE, destination=workers, reply=True, timeout=5)
    try:
        wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/docs"), 60, "the bare endpoint to start")
        api, baseline = [], []
        for _ in range(3):
            api.append(wrk_requests_per_second(f"{stack.api_url}/add/1/2", seconds, script))
            baseline.append(wrk_requests_per_second(f"http://127.0.0.1:{port}/add/1/2", seconds, script))
    finally:
        bare.terminate()
        bare.wait()
    return statistics.median(api), statistics.median(baseline)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--runtime", choices=get_args(RUNTIME_FIELD.annotation), default=RUNTIME_FIELD.default, help="local embedding runtime"
    )
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--enqueue-seconds", type=int, default=10, help="length of each wrk run")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk (scripts/install-system-deps.sh does it)")
    # The stack inherits this environment; Settings() in this process reads it too.
    os.environ["RAGLINE_LOCAL_EMBEDDING_RUNTIME"] = args.runtime
    # wrk enqueues far faster than the demo worker drains: admission control would answer 503.
    os.environ["RAGLINE_MAX_QUEUE_LENGTH"] = str(10**9)
    os.environ["RAGLINE_MODEL_CACHE_DIR"] = str(Settings().model_cache_path.resolve())
    load_before = f"{os.getloadavg()[0]:.1f}"
    ports = StackPorts(api=free_port(), flower=free_port(), chroma=free_port(), redis=free_port())
    with tempfile.TemporaryDirectory() as data_dir, open(Path(data_dir) / "stack.log", "w") as log:
        with LocalStack(Path(data_dir), ports=ports, with_flower=False, log=log) as stack, httpx.Client(base_url=stack.api_url, timeout=60) as api:
            ingest_through_service(api, COLLECTION, DEFAULT_PDFS[1].name, DEFAULT_PDFS[1].read_bytes())

            stage_timings: list[dict[str, float]] = []

            def ask(question: str, retrieval: str = "vector") -> None:
                response = api.post(f"/v1/collections/{COLLECTION}/query", json={"question": question, "retrieval": retrieval})
                response.raise_for_status()
                stage_timings.append(response.json()["timings"])

            cache = redis.Redis.from_url(stack.redis_url)
            # Warm-up (model, lexical index, connections, the passages' sentence vectors), with texts
            # none of the timed runs asks again.
            timed(ask, questions(5, offset=10**6))
            stage_timings.clear()
            service = timed(ask, questions(args.queries))
            profile = {stage: statistics.median(t[stage] * 1000 for t in stage_timings) for stage in ("embed", "retrieve", "answer", "total")}
            hybrid = timed(lambda q: ask(q, "hybrid"), questions(args.queries, offset=args.queries))
            cold = timed_after(ask, questions(args.queries, offset=2 * args.queries), before=lambda: empty_embedding_cache(cache))
            ask(TOPICS[0])
            cached = timed(ask, [TOPICS[0]] * args.queries)

            settings = Settings(chroma_url=stack.chroma_url, redis_url=stack.redis_url)
            embedder = CachedEmbedder(create_embedder(settings), EmbeddingCache(CacheRedis(cache), settings.embedding_cache_ttl_seconds))
            index = VectorIndex(stack.chroma_url)
            collection = stored(COLLECTION)
            retriever = Retriever(
                vector_search=lambda vector, n, passage_filter: index.query(collection, embedder.name, vector, n, passage_filter),
                lexical_search=lambda question, n, passage_filter: [],
                score=lambda chunk_ids, vector: index.score(collection, chunk_ids, vector),
            )
            options = QueryOptions(
                top_k=settings.default_top_k,
                threshold=settings.relevance_threshold,
                max_sentences=settings.answer_sentences,
                retrieval="vector",
                mode="extractive",
            )
            timed(lambda q: answer_question(q, embedder, retriever, options), questions(5, offset=10**6))
            in_process = timed(lambda q: answer_question(q, embedder, retriever, options), questions(args.queries))
            cache.close()
            api_enqueue, bare_enqueue = enqueue_throughput(stack, args.enqueue_seconds, Path(data_dir))

    print(f"embedding runtime: {local_runtime(settings)}; {args.queries} questions per path; "
          f"{os.cpu_count()} cores, shared machine; load average {load_before} before, {os.getloadavg()[0]:.1f} after")
    print(f"{'path':<44} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    rows = {
        "service, uncached (vector)": service,
        "service, uncached (hybrid)": hybrid,
        "service, uncached, cold sentence vectors": cold,
        "in-process (vector)": in_process,
        "service, cached answer": cached,
    }
    for name, samples in rows.items():
        print(f"{name:<44} " + " ".join(f"{value:8.1f}" for value in percentiles(samples)))
    print("service, uncached (vector): median ms per stage in the query worker: "
          + ", ".join(f"{stage} {value:.1f}" for stage, value in profile.items()))
    p50, p95, _ = percentiles(service)
    print(f"service uncached: p50 {p50:.1f} ms (target <= 50), p95 {p95:.1f} ms (target <= 100); "
          f"cold sentence vectors / warm p50: {statistics.median(cold) / p50:.2f}")
    print(f"service / in-process p50: {statistics.median(service) / statistics.median(in_process):.2f} (target <= 1.5)")
    print(f"cached answer p50: {statistics.median(cached):.1f} ms (target < 5 ms)")
    ratio = f"{api_enqueue / bare_enqueue:.2f}" if bare_enqueue else "n/a"
    print(f"enqueue, req/s with 50 connections: API POST /add {api_enqueue:.0f}, bare FastAPI + Celery {bare_enqueue:.0f}; "
          f"ratio {ratio} (target >= 0.8)")


if __name__ == "__main__":
    main()
