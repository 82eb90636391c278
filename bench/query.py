"""Query latency: the service's endpoint against the same retrieval and answer in one process, and cached
answers, in one run.

    .venv/bin/python bench/query.py [--queries 100] [--runtime onnx-int8|torch]

Starts a local stack on free ports, ingests the world population article, then
  1. service, uncached: POST /v1/collections/{c}/query (extractive, local model) with --queries
     distinct questions one after another, each new to the answer cache;
  2. in-process: the same questions through pipeline.query.answer_question with the same embedder
     runtime, the same Chroma collection and the same options, no API, no queue;
  3. service, cached: one question asked --queries times after a first answer.
Prints p50/p95/p99 per path and the ratios with their targets (service p50 <= 1.5x in-process;
cached p50 under 5 ms at the client). The machine is shared: compare ratios from the same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.ingest import DEFAULT_PDFS, ingest_through_service  # noqa: E402
from ragline.config import Settings  # noqa: E402
from ragline.localstack import LocalStack, StackPorts, free_port  # noqa: E402
from ragline.pipeline.query import QueryOptions, answer_question  # noqa: E402
from ragline.pipeline.retrieve import Retriever  # noqa: E402
from ragline.providers.embeddings import create_embedder  # noqa: E402
from ragline.stores.vectors import VectorIndex  # noqa: E402
from tests.conftest import stored  # noqa: E402

COLLECTION = "bench-query"
TOPICS = (
    "What is the median age of human beings?",
    "Which countries have the largest populations?",
    "When did the world population exceed eight billion?",
    "What was the highest population growth rate?",
    "How many people lived in cities in 2020?",
)


def questions(count: int) -> list[str]:
    """Distinct texts (so none is in the answer cache), on the article's topics."""
    return [f"{TOPICS[n % len(TOPICS)]} ({n})" for n in range(count)]


def percentiles(samples_ms: list[float]) -> tuple[float, float, float]:
    cuts = statistics.quantiles(samples_ms, n=100, method="inclusive")
    return statistics.median(samples_ms), cuts[94], cuts[98]


def timed(ask: Callable[[str], object], texts: list[str]) -> list[float]:
    samples = []
    for text in texts:
        started = time.perf_counter()
        ask(text)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runtime", choices=("onnx-int8", "torch"), default="onnx-int8", help="local embedding runtime")
    parser.add_argument("--queries", type=int, default=100)
    args = parser.parse_args()
    # The stack inherits this environment; Settings() in this process reads it too.
    os.environ["RAGLINE_LOCAL_EMBEDDING_RUNTIME"] = args.runtime
    os.environ["RAGLINE_MODEL_CACHE_DIR"] = str(Settings().model_cache_path.resolve())
    ports = StackPorts(api=free_port(), flower=free_port(), chroma=free_port(), redis=free_port())
    with tempfile.TemporaryDirectory() as data_dir, open(Path(data_dir) / "stack.log", "w") as log:
        with LocalStack(Path(data_dir), ports=ports, with_flower=False, log=log) as stack, httpx.Client(base_url=stack.api_url, timeout=60) as api:
            ingest_through_service(api, COLLECTION, DEFAULT_PDFS[1].name, DEFAULT_PDFS[1].read_bytes())

            def ask(question: str) -> None:
                response = api.post(f"/v1/collections/{COLLECTION}/query", json={"question": question})
                response.raise_for_status()

            timed(ask, questions(5))  # warm-up: model, lexical index, connections
            service = timed(ask, questions(args.queries))
            ask(TOPICS[0])
            cached = timed(ask, [TOPICS[0]] * args.queries)

            settings = Settings(chroma_url=stack.chroma_url)
            embedder = create_embedder(settings)
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
            timed(lambda q: answer_question(q, embedder, retriever, options), questions(5))
            in_process = timed(lambda q: answer_question(q, embedder, retriever, options), questions(args.queries))

    print(f"embedding runtime: {settings.local_embedding_runtime}; {args.queries} questions per path; "
          f"{os.cpu_count()} cores, shared machine (noisy)")
    print(f"{'path':<28} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    rows = {"service, uncached": service, "in-process": in_process, "service, cached answer": cached}
    for name, samples in rows.items():
        print(f"{name:<28} " + " ".join(f"{value:8.1f}" for value in percentiles(samples)))
    print(f"service / in-process p50: {statistics.median(service) / statistics.median(in_process):.2f} (target <= 1.5)")
    print(f"cached answer p50: {statistics.median(cached):.1f} ms (target < 5 ms)")


if __name__ == "__main__":
    main()
