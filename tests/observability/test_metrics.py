"""Each process's /metrics after one round of traffic: the numbers match what happened, and promtool lints them."""

from __future__ import annotations

import math
import subprocess

import pytest

from ragline.config import Settings
from ragline.localstack import LocalStack
from tests.conftest import scrape, value
from tests.observability.conftest import Traffic

QUERY_ROUTE = "/v1/collections/{collection}/query"


def test_every_process_serves_metrics(stack: LocalStack, traffic: Traffic) -> None:
    assert set(stack.metrics_urls()) == {"api", "ingest-worker", "query-worker", "default-worker", "flower"}
    for name, url in stack.metrics_urls().items():
        assert scrape(url), name


@pytest.mark.parametrize("service", ["api", "ingest-worker", "query-worker", "default-worker"])
def test_promtool_accepts_the_exposition(stack: LocalStack, traffic: Traffic, service: str) -> None:
    import httpx

    body = httpx.get(stack.metrics_urls()[service], timeout=10).text
    result = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ingest_worker_counts_what_was_ingested_and_why_a_job_failed(stack: LocalStack, traffic: Traffic) -> None:
    samples = scrape(stack.metrics_urls()["ingest-worker"])
    jobs = (traffic.job, traffic.second_job)
    pages = sum(job["progress"]["pages_total"] for job in jobs)
    assert pages == 25
    assert value(samples, "ragline_ingested_pages_total") == pages
    assert value(samples, "ragline_ingested_chunks_total") == sum(job["progress"]["chunks_total"] for job in jobs)
    assert value(samples, "ragline_ingest_jobs_total", outcome="done") == 2
    assert value(samples, "ragline_ingest_jobs_total", outcome="failed") == 1
    assert value(samples, "ragline_ingest_failures_total", reason="encrypted_pdf") == 1
    # All three uploads were extracted; only the readable ones went on.
    stage_counts = {stage: value(samples, "ragline_ingest_stage_duration_seconds_count", stage=stage) for stage in ("extract", "split", "index")}
    assert stage_counts == {"extract": 3, "split": 2, "index": 2}
    assert value(samples, "ragline_task_duration_seconds_count", task="pdf_reader_task", outcome="success") == 2
    assert value(samples, "ragline_task_duration_seconds_count", task="pdf_reader_task", outcome="failure") == 1
    assert value(samples, "ragline_task_duration_seconds_count", task="vectorstore_task", outcome="success") == 2
    batches = sum(math.ceil(job["progress"]["chunks_total"] / Settings().embedding_batch_size) for job in jobs)
    assert value(samples, "ragline_model_call_duration_seconds_count", operation="embed_documents") == batches
    assert value(samples, "ragline_vector_store_duration_seconds_count", operation="upsert") == batches
    assert value(samples, "ragline_worker_processes", queue="ingest") == 1


def test_query_worker_measures_the_questions_it_answered(stack: LocalStack, traffic: Traffic) -> None:
    samples = scrape(stack.metrics_urls()["query-worker"])
    # Two computed answers: the second, identical question was answered from the cache by the API.
    assert value(samples, "ragline_task_duration_seconds_count", task="query_task", outcome="success") == 2
    assert value(samples, "ragline_model_call_duration_seconds_count", operation="embed_query") == 2
    assert value(samples, "ragline_vector_store_duration_seconds_count", operation="query") == 2
    assert value(samples, "ragline_worker_processes", queue="query") == 1


def test_query_worker_measures_answer_quality_per_collection(stack: LocalStack, traffic: Traffic) -> None:
    samples = scrape(stack.metrics_urls()["query-worker"])
    collection = "public__world"
    assert value(samples, "ragline_answers_total", collection=collection, outcome="grounded", mode="extractive") == 1
    assert value(samples, "ragline_answers_total", collection=collection, outcome="not_found", mode="extractive") == 1
    assert value(samples, "ragline_answer_citations_count", collection=collection) == 2
    cited = len(traffic.query.json()["citations"])
    assert value(samples, "ragline_answer_citations_sum", collection=collection) == cited
    best = max(citation["score"] for citation in traffic.query.json()["citations"])
    assert value(samples, "ragline_retrieval_best_score_count", collection=collection) == 2
    # The unanswered question's best score is a cosine too: the sum is the answered one's best plus it.
    assert -1.0 <= value(samples, "ragline_retrieval_best_score_sum", collection=collection) - best <= 1.0
    # Series at zero for every fallback reason, so a first fallback shows in rate().
    reasons = {s.labels["reason"] for s in samples if s.name == "ragline_answer_fallbacks_total" and s.labels["collection"] == collection}
    assert reasons == {"timeout", "unavailable", "error", "uncited", "not_configured"}


def test_default_worker_counts_the_failed_demo_task(stack: LocalStack, traffic: Traffic) -> None:
    samples = scrape(stack.metrics_urls()["default-worker"])
    assert value(samples, "ragline_task_duration_seconds_count", task="divide_numbers", outcome="failure") == 1
    assert value(samples, "ragline_worker_processes", queue="default") == 1


def test_api_measures_routes_cache_and_queues(stack: LocalStack, traffic: Traffic) -> None:
    samples = scrape(stack.metrics_urls()["api"])
    count = "ragline_http_request_duration_seconds_count"
    assert value(samples, count, method="POST", route=QUERY_ROUTE, status="200") == 3
    assert value(samples, count, method="GET", route="/v1/jobs/{job_id}", status="404") == 1
    assert value(samples, count, method="POST", route="/v1/collections/{collection}/documents", status="202") == 3
    routes = {s.labels.get("route") for s in samples if s.name == count}
    assert not routes & {"/healthz", "/readyz", "/metrics"}, "probes and scrapes are not counted"
    assert not any("world" in route for route in routes if route), "routes are templates, never raw paths"
    assert value(samples, "ragline_cache_requests_total", cache="answer", result="hit") == 1
    assert value(samples, "ragline_cache_requests_total", cache="answer", result="miss") == 2
    queues = {s.labels["queue"]: s.value for s in samples if s.name == "ragline_queue_length"}
    assert queues == {"ingest": 0, "query": 0, "default": 0}
