"""Every Prometheus metric ragline exports, and how each kind of process exposes them.

- The API (one process per pod) serves its own registry at `/metrics`, plus the queue lengths read
  from Redis at scrape time.
- A Celery worker is a main process and a pool of forked children that run the tasks. Each child
  writes its samples to files in the worker's own `PROMETHEUS_MULTIPROC_DIR` (prometheus_client's
  multiprocess mode); the main process serves their sum on `RAGLINE_METRICS_PORT`, from before the
  pool starts to its shutdown, and forgets the live gauges of children that died.

The metric objects are built on first use, not at import: prometheus_client picks in-process or
file-backed values when a metric is created, and a worker only knows it is a pool child after the fork.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server, values
from prometheus_client.core import Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import REGISTRY

logger = logging.getLogger(__name__)

HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
TASK_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
# Cosine similarity of the best retrieved passage; the relevance threshold (0.4 by default) sits inside.
SCORE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
CITATION_BUCKETS = (0, 1, 2, 3, 4, 5, 7, 10)
# Why a generative answer was replaced by the extractive one (pipeline.answer.Answer.fallback_reason).
FALLBACK_REASONS = ("timeout", "unavailable", "error", "uncited", "not_configured")
ANSWER_OUTCOMES = ("grounded", "not_found")
# Collections named in answer-quality labels per process; the others share OTHER_COLLECTION.
MAX_COLLECTION_LABELS = 20
OTHER_COLLECTION = "other"
CALL_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# The stages of worker/ingest.py, the outcomes Celery reports, and the caches ragline keeps.
INGEST_STAGES = ("extract", "split", "index")
TASK_OUTCOMES = ("success", "failure", "retry")
ANSWER_CACHE = "answer"
EMBEDDING_CACHE = "embedding"
# Chroma operations each worker kind performs, by the queue it consumes (tasks/names.py).
INGEST_QUEUE = "ingest"
QUERY_QUEUE = "query"
VECTOR_STORE_OPERATIONS = {
    INGEST_QUEUE: ("get_collection", "upsert", "get", "delete"),
    QUERY_QUEUE: ("query", "get"),
}
_LIVE_GAUGE_FILE = re.compile(r"^gauge_live\w*_(\d+)\.db$")


class Metrics:
    """The metric objects. `registry=None` in pool children: their samples live in files only."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.http_request_duration = Histogram(
            "ragline_http_request_duration_seconds",
            "API requests by route template, method and status code (probes and scrapes excluded).",
            ["method", "route", "status"],
            buckets=HTTP_BUCKETS,
            registry=registry,
        )
        self.worker_processes = Gauge(
            "ragline_worker_processes",
            "Live worker pool processes consuming each queue.",
            ["queue"],
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.task_duration = Histogram(
            "ragline_task_duration_seconds",
            "Celery task run time by task name and outcome (success, failure, retry).",
            ["task", "outcome"],
            buckets=TASK_BUCKETS,
            registry=registry,
        )
        self.ingest_stage_duration = Histogram(
            "ragline_ingest_stage_duration_seconds",
            "Time per ingest stage (extract, split, index) of one document, failed attempts included.",
            ["stage"],
            buckets=TASK_BUCKETS,
            registry=registry,
        )
        self.ingested_pages = Counter(
            "ragline_ingested_pages", "Pages of documents whose ingest finished.", registry=registry
        )
        self.ingested_chunks = Counter(
            "ragline_ingested_chunks", "Chunks indexed by ingests that finished.", registry=registry
        )
        self.ingest_jobs = Counter(
            "ragline_ingest_jobs", "Ingest jobs that ended, by outcome (done, failed).", ["outcome"], registry=registry
        )
        self.ingest_failures = Counter(
            "ragline_ingest_failures",
            "Failed ingest jobs by reason: the job's error code (encrypted_pdf, dependency_unavailable, ...).",
            ["reason"],
            registry=registry,
        )
        self.cache_requests = Counter(
            "ragline_cache_requests", "Cache lookups by cache and result (hit, miss).", ["cache", "result"], registry=registry
        )
        self.model_call_duration = Histogram(
            "ragline_model_call_duration_seconds",
            "Latency of model calls by model and operation (embed_documents, embed_query, generate).",
            ["model", "operation"],
            buckets=CALL_BUCKETS,
            registry=registry,
        )
        self.answers = Counter(
            "ragline_answers",
            "Answers the query workers computed (cache hits excluded), by collection, outcome (grounded, not_found) "
            "and mode (extractive, generative, extractive_fallback).",
            ["collection", "outcome", "mode"],
            registry=registry,
        )
        self.answer_fallbacks = Counter(
            "ragline_answer_fallbacks",
            "Generative answers replaced by the extractive one, by collection and reason "
            "(timeout, unavailable, error, uncited, not_configured).",
            ["collection", "reason"],
            registry=registry,
        )
        self.answer_citations = Histogram(
            "ragline_answer_citations",
            "Citations per computed answer, by collection (0 for a not-found answer).",
            ["collection"],
            buckets=CITATION_BUCKETS,
            registry=registry,
        )
        self.retrieval_best_score = Histogram(
            "ragline_retrieval_best_score",
            "Cosine score of the best retrieved passage per computed answer, by collection.",
            ["collection"],
            buckets=SCORE_BUCKETS,
            registry=registry,
        )
        self.vector_store_duration = Histogram(
            "ragline_vector_store_duration_seconds",
            "Latency of Chroma calls by operation (upsert, query, get, delete).",
            ["operation"],
            buckets=CALL_BUCKETS,
            registry=registry,
        )
        self.lexical_segments_loaded = Counter(
            "ragline_lexical_segments_loaded",
            "Lexical index segments (one per document) query processes read from the blob store.",
            registry=registry,
        )
        self.lexical_index_bytes = Gauge(
            "ragline_lexical_index_bytes",
            "Memory the query processes' BM25 indexes hold (bounded by RAGLINE_LEXICAL_CACHE_BYTES each).",
            multiprocess_mode="livesum",
            registry=registry,
        )

    def start_at_zero(self, queue: str | None, tasks: Iterable[str] = ()) -> None:
        """Create the label sets this process will use, at zero, before any event.

        A series whose first sample already holds its first event shows no increase to `rate()`:
        without this, the first ingest after a start would be missing from every dashboard.
        `queue` is the worker's queue, or None in the API; `tasks` the names of the tasks it runs.
        """
        if queue is None:
            for result in ("hit", "miss"):
                self.cache_requests.labels(ANSWER_CACHE, result)
            return
        for task in tasks:
            for outcome in TASK_OUTCOMES:
                self.task_duration.labels(task, outcome)
        for operation in VECTOR_STORE_OPERATIONS.get(queue, ()):
            self.vector_store_duration.labels(operation)
        if queue == QUERY_QUEUE:
            self.start_collection_at_zero(OTHER_COLLECTION)
        if queue == INGEST_QUEUE:
            for result in ("hit", "miss"):
                self.cache_requests.labels(EMBEDDING_CACHE, result)
            for stage in INGEST_STAGES:
                self.ingest_stage_duration.labels(stage)
            for outcome in ("done", "failed"):
                self.ingest_jobs.labels(outcome)

    def start_collection_at_zero(self, collection: str) -> None:
        """The answer-quality series of one collection label, at zero (see start_at_zero)."""
        for outcome in ANSWER_OUTCOMES:
            self.answers.labels(collection, outcome, "extractive")
        for reason in FALLBACK_REASONS:
            self.answer_fallbacks.labels(collection, reason)
        self.answer_citations.labels(collection)
        self.retrieval_best_score.labels(collection)


class CollectionLabels:
    """A bounded `collection` label: the first `limit` collections this process answers for keep their
    name, every later one is OTHER_COLLECTION.

    Collections are created by users, so their names cannot be label values unbounded (each is a
    set of series in every Prometheus). The first ones a process sees are in practice the busy ones;
    the series of all replicas together stay below replicas x (limit + 1) per metric label set.

    >>> labels = CollectionLabels(limit=1)
    >>> labels.label("world"), labels.label("books"), labels.label("world")
    ('world', 'other', 'world')
    """

    def __init__(self, limit: int = MAX_COLLECTION_LABELS) -> None:
        self._limit = limit
        self._named: set[str] = set()
        self._lock = threading.Lock()

    def label(self, collection: str) -> str:
        with self._lock:
            if collection in self._named:
                return collection
            if len(self._named) < self._limit and collection != OTHER_COLLECTION:
                self._named.add(collection)
                return collection
        return OTHER_COLLECTION


collection_labels = CollectionLabels()

_metrics: Metrics | None = None
_metrics_lock = threading.Lock()
# The main process's metrics server, whose listening socket every pool child inherits.
_server = None


def metrics() -> Metrics:
    """This process's metrics, registered in the default registry unless `use_pool_files` came first."""
    global _metrics
    with _metrics_lock:
        if _metrics is None:
            _metrics = Metrics(REGISTRY)
        return _metrics


# ---- workers ---------------------------------------------------------------------------------


def prepare_pool_directory(queue: str) -> tuple[Path, bool]:
    """In a worker's main process, before the pool forks: an empty directory for the children's files.

    Uses `PROMETHEUS_MULTIPROC_DIR` when set (emptied: samples of an earlier run would be added to
    this one's), else a fresh temporary directory. Returns it and whether it was created here.
    """
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        directory = Path(given)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
    else:
        directory = Path(tempfile.mkdtemp(prefix=f"ragline-metrics-{queue}-"))
    # The pool children inherit the variable, so their values are file-backed from the start.
    os.environ[MULTIPROC_ENV] = str(directory)
    return directory, not given


def remove_pool_directory(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)


def use_pool_files(queue: str, tasks: Iterable[str] = ()) -> Metrics:
    """In a pool child, right after the fork: write every sample to this process's files."""
    global _metrics
    if _server is not None:
        # The port belongs to the main process: a child outliving it must not keep the port bound.
        _server.socket.close()
    # prometheus_client chose in-process values when it was imported, before this process was a child.
    values.ValueClass = values.MultiProcessValue()
    with _metrics_lock:
        _metrics = Metrics(registry=None)
    _metrics.start_at_zero(queue, tasks)
    _metrics.worker_processes.labels(queue).set(1)
    return _metrics


def forget_process(pid: int) -> None:
    """A pool child is exiting: its live gauges stop counting (its counters stay, as counters must)."""
    directory = os.environ.get(MULTIPROC_ENV)
    if directory:
        mark_process_dead(pid, directory)


class PoolCollector:
    """The sum of the pool children's files; live gauges of children that died unannounced are dropped."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._files = MultiProcessCollector(None, path=str(directory))

    def collect(self) -> Iterable[Metric]:
        for path in self._directory.glob("gauge_live*.db"):
            match = _LIVE_GAUGE_FILE.match(path.name)
            if match and not _alive(int(match.group(1))):
                mark_process_dead(int(match.group(1)), str(self._directory))
        return self._files.collect()


def serve_pool_metrics(host: str, port: int, directory: Path) -> None:
    """Serve the pool's metrics from this (main) process; returns once the socket listens."""
    global _server
    registry = CollectorRegistry()
    registry.register(PoolCollector(directory))
    _server, _ = start_http_server(port, addr=host, registry=registry)
    logger.info("worker metrics listening host=%s port=%s directory=%s", host, port, directory)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    return True


# ---- API -------------------------------------------------------------------------------------


class CombinedCollector:
    """Several collectors as one `registry` argument of `generate_latest`."""

    def __init__(self, *collectors: object) -> None:
        self._collectors = collectors

    def collect(self) -> Iterator[Metric]:
        for collector in self._collectors:
            yield from collector.collect()  # type: ignore[attr-defined]
