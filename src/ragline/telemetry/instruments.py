"""A span and a metric together, for each kind of work ragline measures: ingest stages, Chroma calls,
model calls and cache lookups. The code doing the work calls these and knows nothing of either library.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol, TypeVar

from opentelemetry.trace import SpanKind

from ragline.telemetry.metrics import collection_labels, metrics
from ragline.telemetry.tracing import annotate, detached_span, span

F = TypeVar("F", bound=Callable[..., object])
T = TypeVar("T")


@contextmanager
def ingest_stage(stage: str, **attributes: object) -> Iterator[None]:
    """Span `ingest.<stage>` and `ragline_ingest_stage_duration_seconds{stage}`, failures included."""
    started = time.perf_counter()
    try:
        with span(f"ingest.{stage}", stage=stage, **attributes):
            yield
    finally:
        metrics().ingest_stage_duration.labels(stage).observe(time.perf_counter() - started)


def record_ingest_done(pages: int, chunks: int) -> None:
    measured = metrics()
    measured.ingest_jobs.labels("done").inc()
    measured.ingested_pages.inc(pages)
    measured.ingested_chunks.inc(chunks)
    annotate(pages=pages, chunks=chunks)


def record_ingest_failure(reason: str) -> None:
    measured = metrics()
    measured.ingest_jobs.labels("failed").inc()
    measured.ingest_failures.labels(reason).inc()
    annotate(failure_reason=reason)


def record_answer(
    collection: str, grounded: bool, mode: str, fallback_reason: str | None, citations: int, best_score: float | None
) -> None:
    """The answer-quality metrics of one computed answer, under a bounded collection label."""
    measured = metrics()
    label = collection_labels.label(collection)
    # Every series of the label exists from its first answer on, so ratios and rate() see the next ones.
    measured.start_collection_at_zero(label)
    measured.answers.labels(label, "grounded" if grounded else "not_found", mode).inc()
    if fallback_reason is not None:
        measured.answer_fallbacks.labels(label, fallback_reason).inc()
    measured.answer_citations.labels(label).observe(citations)
    if best_score is not None:
        measured.retrieval_best_score.labels(label).observe(best_score)
    annotate(grounded=grounded, citations=citations, best_score=best_score if best_score is not None else -1.0)


def record_lexical_follow(segments_loaded: int, index_bytes: int) -> None:
    """A query process brought its lexical indexes in step with the manifests: what it read, what it holds."""
    measured = metrics()
    measured.lexical_segments_loaded.inc(segments_loaded)
    measured.lexical_index_bytes.set(index_bytes)
    annotate(lexical_segments_loaded=segments_loaded, lexical_index_bytes=index_bytes)


def vector_store_call(operation: str) -> Callable[[F], F]:
    """Decorate a vector store method whose first argument is the collection: a client span and
    `ragline_vector_store_duration_seconds{operation}` per call."""

    def decorate(method: F) -> F:
        @functools.wraps(method)
        def measured(self: object, collection: str, *args: object, **kwargs: object) -> object:
            started = time.perf_counter()
            try:
                with span(
                    f"chroma.{operation}",
                    kind=SpanKind.CLIENT,
                    collection=collection,
                    **{"db.system.name": "chromadb", "db.operation.name": operation},
                ):
                    return method(self, collection, *args, **kwargs)
            finally:
                metrics().vector_store_duration.labels(operation).observe(time.perf_counter() - started)

        return measured  # type: ignore[return-value]

    return decorate


@contextmanager
def model_call(model: str, operation: str, **attributes: object) -> Iterator[None]:
    """Span `model.<operation>` and `ragline_model_call_duration_seconds{model, operation}`."""
    started = time.perf_counter()
    try:
        with span(f"model.{operation}", kind=SpanKind.CLIENT, model=model, **attributes):
            yield
    finally:
        metrics().model_call_duration.labels(model, operation).observe(time.perf_counter() - started)


def measured_generation(model: str, generate: Callable[[T], Iterator[str]]) -> Callable[[T], Iterator[str]]:
    """A streaming chat model call measured from the request to its last token (`model.generate`)."""

    def measured(messages: T) -> Iterator[str]:
        started = time.perf_counter()
        try:
            with detached_span("model.generate", kind=SpanKind.CLIENT, model=model):
                yield from generate(messages)
        finally:
            metrics().model_call_duration.labels(model, "generate").observe(time.perf_counter() - started)

    return measured


class _Embedder(Protocol):
    name: str

    def embed_documents(self, texts: list[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


class MeasuredEmbedder:
    """Any embedder, with a span and a latency sample per call (one call embeds one batch)."""

    def __init__(self, inner: _Embedder) -> None:
        self._inner = inner
        self.name = inner.name
        for operation in ("embed_documents", "embed_query"):
            # At zero from the start, so the first call shows in rate() (see Metrics.start_at_zero).
            metrics().model_call_duration.labels(self.name, operation)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        with model_call(self.name, "embed_documents", texts=len(texts), characters=sum(map(len, texts))):
            return self._inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        with model_call(self.name, "embed_query", characters=len(text)):
            return self._inner.embed_query(text)


@dataclass
class CacheLookup:
    hit: bool = False


@contextmanager
def cache_lookup(cache: str, **attributes: object) -> Iterator[CacheLookup]:
    """Span `cache.get` and `ragline_cache_requests_total{cache, result}`; set `.hit` in the block.

        with cache_lookup("answer", collection=collection) as lookup:
            cached = store.get(key)
            lookup.hit = cached is not None
    """
    lookup = CacheLookup()
    with span("cache.get", kind=SpanKind.CLIENT, cache=cache, **attributes):
        try:
            yield lookup
        finally:
            annotate(**{"cache.hit": lookup.hit})
            metrics().cache_requests.labels(cache, "hit" if lookup.hit else "miss").inc()


@contextmanager
def cache_store(cache: str, **attributes: object) -> Iterator[None]:
    """Span `cache.set` around writing an entry."""
    with span("cache.set", kind=SpanKind.CLIENT, cache=cache, **attributes):
        yield
