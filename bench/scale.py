"""Scale: one collection grown to --chunks through the real write path, asked through the real query path.

    .venv/bin/python bench/scale.py                    # 100,000 chunks (about 12 min on 2 idle cores)
    .venv/bin/python bench/scale.py --chunks 5000      # a short run

Starts a local stack on free ports (redis-server, `chroma run`, the Celery ingest and query workers, the
API) and generates synthetic PDFs: one page per chunk, ~900 characters of pseudo-words drawn with
Zipf's law. Then, in one run:
  1. ingest: every PDF is uploaded to the API and goes through the ingest worker as any upload does
     (extract, split, embedding cache, Chroma upsert, lexical segment). **Vectors are cheap, not
     MiniLM's**: before uploading, this script extracts and splits each PDF the worker's way and puts
     a seeded random unit vector per chunk text into the embedding cache, so the worker embeds
     nothing (MiniLM at ~30 chunks/s would need an hour per 100,000 chunks on 2 cores). Throughput is
     that of everything but the model;
  2. a baseline collection of --baseline-chunks the same way;
  3. at --checkpoints sizes of the large collection (it grows between them): uncached hybrid questions
     (every one distinct, so the answer cache never answers), alternating between the baseline and
     the large collection, with the real embedder on the query path; the query worker's, Chroma's
     and Redis' memory. The growth is fitted and projected to 1,000,000 chunks;
  4. the first question after an upload: a small new PDF into the large collection, then at once a
     question on its words (its answer must cite it), several times;
Answers are extractive with the relevance threshold off (random vectors would make every answer
"not found" and skip the answer step).
  5. the first question in a fresh query worker process (it loads every segment of the collection);
  6. GET /v1/models p50 before and after --noise-keys unrelated keys are written to Redis, and the
     SCAN calls Redis counted meanwhile (none expected).
Prints the figures, the ratios with their targets and every 5xx seen. The machine is shared: compare
ratios from one run.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import psutil
import pymupdf
import redis

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ragline.config import Settings  # noqa: E402
from ragline.localstack import LocalStack, StackPorts, free_port  # noqa: E402
from ragline.pipeline.extract import read_pages  # noqa: E402
from ragline.pipeline.split import split_pages  # noqa: E402
from ragline.stores.cache_redis import CacheRedis  # noqa: E402
from ragline.stores.embeddings import EmbeddingCache  # noqa: E402
from tests.conftest import upload, wait_for_job  # noqa: E402

LARGE, BASELINE = "scale-large", "scale-baseline"
SYLLABLES = "ka ro min tel vas dor pre lun gat sem ori bex tuv nal quo zer fin hal mek sod pim rax ulo".split()
WORDS_PER_PAGE = 130
DIMENSION = 384
FIRST_QUESTION_ROUNDS = 5
MODELS_REQUESTS = 200
# Targets from issue 15.
QUERY_P50_RATIO_TARGET = 2.0


class Counters:
    """Every response the bench got, by status: a 5xx anywhere is a failure of the run."""

    def __init__(self) -> None:
        self.statuses: dict[int, int] = {}

    def hook(self, response: httpx.Response) -> None:
        self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1

    @property
    def server_errors(self) -> int:
        return sum(count for status, count in self.statuses.items() if status >= 500)


class Corpus:
    """Pseudo-words (MiniLM tokenizes them into word pieces) with Zipf frequencies, and pages of them."""

    def __init__(self, seed: int = 15) -> None:
        rng = random.Random(seed)
        words = {"".join(rng.choices(SYLLABLES, k=rng.randint(2, 4))) for _ in range(60_000)}
        self.words = sorted(words)
        rng.shuffle(self.words)
        self.weights = [1 / (rank + 1) for rank in range(len(self.words))]

    def page(self, rng: random.Random) -> str:
        return " ".join(rng.choices(self.words, self.weights, k=WORDS_PER_PAGE)).capitalize() + "."

    def question(self, rng: random.Random) -> str:
        # Words of middling frequency: BM25 has postings to walk, and every question is new.
        picked = rng.sample(self.words[200:20_000], 4)
        return f"What does the text say about {picked[0]} and {picked[1]}, or {picked[2]} {picked[3]}?"


def make_pdf(pages: list[str]) -> bytes:
    document = pymupdf.open()
    for text in pages:
        page = document.new_page(width=595, height=842)
        if page.insert_textbox(pymupdf.Rect(36, 36, 559, 806), text, fontsize=9) < 0:
            raise SystemExit("a synthetic page did not fit its text box")
    return document.tobytes()


def cache_cheap_vectors(data: bytes, settings: Settings, cache: EmbeddingCache, rng: np.random.Generator) -> int:
    """The chunks the ingest worker will cut from `data`, each with a random unit vector in its cache."""
    chunks = split_pages(read_pages(data), settings.chunk_size, settings.chunk_overlap)
    vectors = rng.standard_normal((len(chunks), DIMENSION)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    cache.put_many(settings.embedding_model_name, [chunk.text for chunk in chunks], vectors)
    return len(chunks)


def fill(api: httpx.Client, collection: str, pdfs: list[bytes], tag: str) -> float:
    """Upload every PDF, wait for all; returns the seconds from the first upload to the last `done`."""
    started = time.perf_counter()
    jobs = []
    for number, data in enumerate(pdfs):
        response = upload(api, collection, f"{tag}-{number}.pdf", data)
        response.raise_for_status()
        jobs.append(response.json()["job_id"])
    for job_id in jobs:
        job = wait_for_job(api, job_id, timeout=7200)
        if job["state"] != "done":
            raise SystemExit(f"ingest failed: {job['error']}")
        if job["progress"]["chunks_embedded"]:
            raise SystemExit(f"the ingest worker embedded {job['progress']['chunks_embedded']} chunks: its split differs from this script's")
    return time.perf_counter() - started


def ask(api: httpx.Client, collection: str, question: str) -> tuple[float, dict]:
    started = time.perf_counter()
    response = api.post(f"/v1/collections/{collection}/query", json={"question": question, "retrieval": "hybrid"})
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise SystemExit(f"query answered {response.status_code}: {response.text}")
    return elapsed, response.json()


def percentile(samples: list[float], cut: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[cut - 1]


def rss(process: psutil.Process) -> int:
    """Resident memory of a process and its children (a worker's pool), in bytes."""
    return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)])


def memory(stack: LocalStack, client: redis.Redis) -> dict[str, float]:
    def process(name: str) -> psutil.Process:
        return psutil.Process(stack.service(name).process.pid)  # type: ignore[union-attr]

    worker = process("query-worker")
    info = client.info("memory")
    return {
        "query worker RSS": rss(worker) / 2**20,
        "of which its pool processes": sum(child.memory_info().rss for child in worker.children(recursive=True)) / 2**20,
        "its BM25 indexes (ragline_lexical_index_bytes)": lexical_index_bytes(stack) / 2**20,
        "chroma RSS": rss(process("chroma")) / 2**20,
        "redis used_memory": info["used_memory"] / 2**20,
        "redis RSS": info["used_memory_rss"] / 2**20,
    }


def lexical_index_bytes(stack: LocalStack) -> float:
    """What the query processes report their BM25 indexes hold, from the worker's own metrics."""
    text = httpx.get(stack.metrics_urls()["query-worker"], timeout=10).text
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith("ragline_lexical_index_bytes"))


def timed_questions(api: httpx.Client, corpus: Corpus, rng: random.Random, count: int) -> tuple[list[float], list[float]]:
    """Uncached hybrid questions, alternating baseline and large so both see the same machine."""
    baseline, large = [], []
    for _ in range(count):
        baseline.append(ask(api, BASELINE, corpus.question(rng))[0])
        large.append(ask(api, LARGE, corpus.question(rng))[0])
    return baseline, large


def fit(sizes: list[int], values: list[float], at: int) -> str:
    if len(sizes) < 2:
        return "n/a (one checkpoint)"
    slope, intercept = np.polyfit(sizes, values, 1)
    return f"{slope * at + intercept:,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=100_000, help="chunks of the large collection")
    parser.add_argument("--baseline-chunks", type=int, default=1_000)
    parser.add_argument("--chunks-per-document", type=int, default=1_000)
    parser.add_argument("--checkpoints", type=int, default=4, help="sizes at which the large collection is measured")
    parser.add_argument("--queries", type=int, default=40, help="questions per collection at each checkpoint")
    parser.add_argument("--noise-keys", type=int, default=1_000_000)
    parser.add_argument("--ingest-processes", type=int, default=2)
    args = parser.parse_args()
    # The stack inherits this environment; Settings() here reads it too.
    os.environ["RAGLINE_MAX_QUEUE_LENGTH"] = str(10**6)
    # One tenant holds every synthetic page: the default quotas (100,000 pages, 1 GiB) would refuse the
    # uploads past them with 429.
    os.environ["RAGLINE_TENANT_MAX_PAGES"] = "0"
    os.environ["RAGLINE_TENANT_MAX_BYTES"] = "0"
    # Random vectors score ~0 against any question: with the default threshold every answer would be
    # "not found" and skip the answer step. Every retrieved chunk counts as evidence here instead.
    os.environ["RAGLINE_RELEVANCE_THRESHOLD"] = "-1"
    os.environ["RAGLINE_MODEL_CACHE_DIR"] = str(Settings().model_cache_path.resolve())
    settings = Settings()
    corpus = Corpus()
    rng, vector_rng = random.Random(1), np.random.default_rng(1)
    counters = Counters()

    def documents(chunks: int, tag: str) -> list[bytes]:
        sizes = [args.chunks_per_document] * (chunks // args.chunks_per_document) + ([chunks % args.chunks_per_document] if chunks % args.chunks_per_document else [])
        return [make_pdf([corpus.page(rng) for _ in range(size)]) for size in sizes]

    ports = StackPorts(api=free_port(), flower=free_port(), chroma=free_port(), redis=free_port())
    with tempfile.TemporaryDirectory() as data_dir, open(Path(data_dir) / "stack.log", "w") as log:
        stack = LocalStack(Path(data_dir), ports=ports, with_flower=False, ingest_processes=args.ingest_processes, log=log)
        with stack, httpx.Client(base_url=stack.api_url, timeout=600, event_hooks={"response": [counters.hook]}) as api:
            client = redis.Redis.from_url(stack.redis_url)
            cache = EmbeddingCache(CacheRedis(client), settings.embedding_cache_ttl_seconds)
            print(f"stack up; generating {args.chunks:,} + {args.baseline_chunks:,} synthetic pages", flush=True)

            baseline_pdfs = documents(args.baseline_chunks, "baseline")
            for data in baseline_pdfs:
                cache_cheap_vectors(data, settings, cache, vector_rng)
            fill(api, BASELINE, baseline_pdfs, "baseline")

            stage_chunks = [round(args.chunks * (n + 1) / args.checkpoints) for n in range(args.checkpoints)]
            held, ingest_seconds, rows = 0, 0.0, []
            for target in stage_chunks:
                pdfs = documents(target - held, f"large-{held}")
                for data in pdfs:
                    cache_cheap_vectors(data, settings, cache, vector_rng)
                ingest_seconds += fill(api, LARGE, pdfs, f"large-{held}")
                held = target
                timed_questions(api, corpus, rng, 2)  # the query worker follows the new segments
                baseline, large = timed_questions(api, corpus, rng, args.queries)
                rows.append((held, baseline, large, memory(stack, client)))
                print(
                    f"  {held:>9,} chunks: p50 {statistics.median(large):7.1f} ms (baseline {statistics.median(baseline):6.1f}), "
                    f"ingest so far {held / ingest_seconds:6.1f} chunks/s",
                    flush=True,
                )

            first, steady = first_questions(api, corpus, rng, settings, cache, vector_rng)
            cold_ms = fresh_worker_question(stack, api, corpus, rng)
            models_before, models_after, scans = models_latency(api, client, args.noise_keys)

    held, baseline, large, used = rows[-1]
    p50_base, p50_large = statistics.median(baseline), statistics.median(large)
    print(f"\n== bench/scale.py: {held:,} chunks (baseline {args.baseline_chunks:,}), {args.chunks_per_document:,} chunks per document")
    print(f"ingest through the service (cached cheap vectors, {args.ingest_processes} ingest processes): {held / ingest_seconds:,.0f} chunks/s")
    print("\nuncached hybrid questions (real MiniLM on the query path), ms:")
    print(f"  {'chunks':>9} {'p50':>8} {'p95':>8} {'base p50':>9} {'ratio':>6} {'worker MiB':>11} {'chroma MiB':>11} {'redis MiB':>10}")
    for size, base, big, mem in rows:
        print(
            f"  {size:>9,} {statistics.median(big):8.1f} {percentile(big, 95):8.1f} {statistics.median(base):9.1f} "
            f"{statistics.median(big) / statistics.median(base):6.2f} {mem['query worker RSS']:11.0f} {mem['chroma RSS']:11.0f} "
            f"{mem['redis used_memory']:10.0f}"
        )
    sizes = [row[0] for row in rows]
    print(
        f"  projected to 1,000,000 chunks (linear fit): p50 {fit(sizes, [statistics.median(r[2]) for r in rows], 10**6)} ms, "
        f"query worker {fit(sizes, [r[3]['query worker RSS'] for r in rows], 10**6)} MiB, "
        f"chroma {fit(sizes, [r[3]['chroma RSS'] for r in rows], 10**6)} MiB, "
        f"redis {fit(sizes, [r[3]['redis used_memory'] for r in rows], 10**6)} MiB"
    )
    print(f"  memory at {held:,}: " + ", ".join(f"{name} {value:,.0f} MiB" for name, value in used.items()))
    print(f"\nfirst question after an upload, ms: {', '.join(f'{ms:.0f}' for ms in first)} (median {statistics.median(first):.1f}); "
          f"the questions around them: p50 {statistics.median(steady):.1f}, p95 {percentile(steady, 95):.1f}")
    print(f"first question in a fresh query worker process (loads every segment): {cold_ms:,.0f} ms")
    print(f"GET /v1/models p50: {models_before:.2f} ms, with {args.noise_keys:,} more keys in Redis {models_after:.2f} ms; SCAN calls meanwhile: {scans}")
    print("\nratios (targets):")
    print(f"  query p50 {held:,} / {args.baseline_chunks:,} chunks: {p50_large / p50_base:.2f} (<= {QUERY_P50_RATIO_TARGET})")
    print(f"  first question after an upload / p50 of the others: {statistics.median(first) / statistics.median(steady):.2f} (<= 1, within noise)")
    print(f"  /v1/models p50 with / without {args.noise_keys:,} keys: {models_after / models_before:.2f} (about 1; SCAN calls 0)")
    print(f"  5xx answers: {counters.server_errors} (0) of {sum(counters.statuses.values())} requests")


def first_questions(
    api: httpx.Client, corpus: Corpus, rng: random.Random, settings: Settings, cache: EmbeddingCache, vector_rng: np.random.Generator
) -> tuple[list[float], list[float]]:
    """Latency of the first question after each of a few uploads (on the new document's own words, which it
    must cite), and of plain questions asked between them."""
    first, steady = [], []
    for round_number in range(FIRST_QUESTION_ROUNDS):
        marker = f"zzmarker{round_number}qq"
        pages = [f"{corpus.page(rng)} {marker} {marker}" for _ in range(5)]
        data = make_pdf(pages)
        cache_cheap_vectors(data, settings, cache, vector_rng)
        fill(api, LARGE, [data], f"fresh-{round_number}")
        elapsed, body = ask(api, LARGE, f"Where is {marker} mentioned?")
        if not any(marker in citation["text"] for citation in body["citations"]):
            raise SystemExit(f"the first question after an upload did not find the new document's words: {body['citations']}")
        first.append(elapsed)
        steady.extend(ask(api, LARGE, corpus.question(rng))[0] for _ in range(6))
    return first, steady


def fresh_worker_question(stack: LocalStack, api: httpx.Client, corpus: Corpus, rng: random.Random) -> float:
    process = stack.service("query-worker").process
    assert process is not None
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    stack.restart("query-worker")
    return ask(api, LARGE, corpus.question(rng))[0]


def models_latency(api: httpx.Client, client: redis.Redis, noise_keys: int) -> tuple[float, float, int]:
    def p50() -> float:
        samples = []
        for _ in range(MODELS_REQUESTS):
            started = time.perf_counter()
            api.get("/v1/models").raise_for_status()
            samples.append((time.perf_counter() - started) * 1000)
        return statistics.median(samples)

    def scans() -> int:
        return int(client.info("commandstats").get("cmdstat_scan", {}).get("calls", 0))

    before = p50()
    # Unrelated keys shaped like the embedding cache's, which dominates a real keyspace.
    with client.pipeline(transaction=False) as pipe:
        for number in range(noise_keys):
            pipe.set(f"ragline:emb:noise:{number:016x}", b"v" * 32)
            if number % 10_000 == 9_999:
                pipe.execute()
        pipe.execute()
    scans_before = scans()
    after = p50()
    return before, after, scans() - scans_before


if __name__ == "__main__":
    main()
