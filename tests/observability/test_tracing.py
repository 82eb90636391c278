"""One trace per request, from the API through every Celery task it causes, as a real OTLP receiver gets it."""

from __future__ import annotations

import math

import httpx

from ragline.config import Settings
from tests.observability.conftest import Traffic, log_lines
from tests.observability.otlp import OtlpReceiver, ReceivedSpan

INGEST_CHAIN = ["pdf_reader_task", "text_splitter_task", "vectorstore_task"]


def _by_id(spans: list[ReceivedSpan]) -> dict[str, ReceivedSpan]:
    return {span.span_id: span for span in spans}


def _root(spans: list[ReceivedSpan]) -> ReceivedSpan:
    """The trace's single root; every other span's parent must be in the trace too."""
    ids = _by_id(spans)
    roots = [span for span in spans if span.parent_id is None]
    orphans = [span.name for span in spans if span.parent_id is not None and span.parent_id not in ids]
    assert len(roots) == 1 and not orphans, (roots, orphans)
    return roots[0]


def _path_to_root(span: ReceivedSpan, spans: list[ReceivedSpan]) -> list[str]:
    ids = _by_id(spans)
    path = [span.name]
    while span.parent_id is not None:
        span = ids[span.parent_id]
        path.append(span.name)
    return path


def _only(spans: list[ReceivedSpan], name: str, cache: str | None = None) -> ReceivedSpan:
    """The one span named `name` (of that cache, where `cache` is given: answers and embeddings share span names)."""
    found = [span for span in spans if span.name == name and cache in (None, span.attributes.get("ragline.cache"))]
    assert len(found) == 1, (name, cache, [s.name for s in spans])
    return found[0]


def test_upload_is_one_trace_from_the_request_to_the_last_chroma_upsert(receiver: OtlpReceiver, traffic: Traffic) -> None:
    spans = receiver.wait_for(traffic.upload_trace_id, {"run/vectorstore_task", "chroma.upsert", "ingest.index"})
    root = _root(spans)
    assert (root.name, root.kind, root.service) == ("POST /v1/collections/{collection}/documents", "SERVER", "ragline-api")
    workers = {span.pid for span in spans if span.service == "ragline-ingest-worker"}
    assert len(workers) == 1 and root.pid not in workers, "the API and the worker child are different processes"

    last_upsert = max((span for span in spans if span.name == "chroma.upsert"), key=lambda span: span.end_ns)
    assert _path_to_root(last_upsert, spans) == [
        "chroma.upsert",
        "ingest.index",
        "run/vectorstore_task",
        "apply_async/vectorstore_task",
        "run/text_splitter_task",
        "apply_async/text_splitter_task",
        "run/pdf_reader_task",
        "apply_async/pdf_reader_task",
        "POST /v1/collections/{collection}/documents",
    ]
    assert _only(spans, "apply_async/pdf_reader_task").service == "ragline-api"
    for task in INGEST_CHAIN:
        assert _only(spans, f"run/{task}").kind == "CONSUMER"


def test_pipeline_spans_carry_the_document_and_its_counts(receiver: OtlpReceiver, traffic: Traffic) -> None:
    spans = receiver.wait_for(traffic.upload_trace_id, {"ingest.extract", "ingest.split", "ingest.index"})
    job = traffic.job
    chunks = job["progress"]["chunks_total"]
    for stage in ("extract", "split", "index"):
        attributes = _only(spans, f"ingest.{stage}").attributes
        assert attributes["ragline.document_id"] == job["document_id"]
        assert attributes["ragline.job_id"] == job["job_id"]
        assert attributes["ragline.collection"].endswith("world")
    assert _only(spans, "ingest.extract").attributes["ragline.pages"] == 24
    assert _only(spans, "ingest.split").attributes["ragline.chunks"] == chunks

    index = _only(spans, "ingest.index")
    batches = [span for span in spans if span.name == "model.embed_documents"]
    upserts = [span for span in spans if span.name == "chroma.upsert"]
    assert len(batches) == len(upserts) == math.ceil(chunks / Settings().embedding_batch_size)
    assert all(span.parent_id == index.span_id for span in batches + upserts)
    assert sum(span.attributes["ragline.texts"] for span in batches) == chunks
    assert sum(span.attributes["ragline.chunks"] for span in upserts) == chunks
    assert {span.attributes["ragline.model"] for span in batches} == {"local:all-MiniLM-L6-v2"}
    assert {span.attributes["db.system.name"] for span in upserts} == {"chromadb"}


def test_failed_ingest_marks_its_stage_span_with_the_reason(receiver: OtlpReceiver, traffic: Traffic) -> None:
    spans = receiver.wait_for(traffic.failed_trace_id, {"ingest.extract"})
    extract = _only(spans, "ingest.extract")
    assert extract.error
    assert extract.attributes["ragline.failure_reason"] == traffic.failed_job["error_code"] == "encrypted_pdf"
    assert "run/text_splitter_task" not in {span.name for span in spans}


def test_query_trace_id_is_returned_and_spans_the_query_worker(receiver: OtlpReceiver, traffic: Traffic) -> None:
    trace_id = traffic.query.headers["x-trace-id"]
    assert traffic.query.json()["trace_id"] == trace_id
    spans = receiver.wait_for(trace_id, {"run/query_task", "model.embed_query", "chroma.query", "cache.get"})
    root = _root(spans)
    assert root.name == "POST /v1/collections/{collection}/query"
    assert {span.service for span in spans} == {"ragline-api", "ragline-query-worker"}

    lookup = _only(spans, "cache.get", cache="answer")
    assert (lookup.service, lookup.attributes["cache.hit"]) == ("ragline-api", False)
    # The worker reads the vectors of the passages' sentences from the embedding cache.
    assert _only(spans, "cache.get", cache="embedding").service == "ragline-query-worker"
    assert _path_to_root(_only(spans, "chroma.query"), spans) == [
        "chroma.query",
        "run/query_task",
        "apply_async/query_task",
        "POST /v1/collections/{collection}/query",
    ]
    assert _only(spans, "model.embed_query").attributes["ragline.model"] == "local:all-MiniLM-L6-v2"
    assert _only(spans, "cache.set", cache="answer").service == "ragline-query-worker"


def test_cached_answer_is_traced_without_a_worker(receiver: OtlpReceiver, traffic: Traffic) -> None:
    body = traffic.cached_query.json()
    assert body["cached"] is True
    spans = receiver.wait_for(body["trace_id"], {"cache.get"})
    assert _only(spans, "cache.get").attributes["cache.hit"] is True
    assert {span.service for span in spans} == {"ragline-api"}


def test_log_lines_carry_the_trace_id_of_their_request(traffic: Traffic) -> None:
    accepted = [line for line in log_lines("api") if line["message"].startswith("upload accepted") and line["job_id"] == traffic.job["job_id"]]
    done = [line for line in log_lines("ingest-worker") if line["message"].startswith("ingest done") and line.get("job_id") == traffic.job["job_id"]]
    assert len(accepted) == len(done) == 1
    assert accepted[0]["trace_id"] == done[0]["trace_id"] == traffic.upload_trace_id
    assert done[0]["service"] == "ragline-ingest-worker" and done[0]["chunks"] == traffic.job["progress"]["chunks_total"]
    failed = [line for line in log_lines("ingest-worker") if line["message"].startswith("ingest failed")]
    assert [(line["trace_id"], line["code"]) for line in failed] == [(traffic.failed_trace_id, "encrypted_pdf")]


def test_health_checks_and_scrapes_are_not_traced(api: httpx.Client, receiver: OtlpReceiver, traffic: Traffic) -> None:
    for path in ("/healthz", "/readyz", "/metrics"):
        assert "x-trace-id" not in api.get(path).headers
    targets = {span.attributes.get("http.target") for span in receiver.spans if span.kind == "SERVER"}
    assert targets and not targets & {"/healthz", "/readyz", "/metrics"}
