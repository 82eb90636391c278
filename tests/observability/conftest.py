"""One traced stack for the observability tests: the local stack exporting spans to a real OTLP/HTTP
receiver, with Flower and a real Prometheus scraping every process each second, and one round of
traffic (an ingest, a failed ingest, a question asked twice, one the documents do not answer, a 404, a
failing demo task)."""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ragline.localstack import LocalStack, free_port
from tests.conftest import ARTIFACTS, free_ports, upload, wait_for_job
from tests.observability.otlp import OtlpReceiver

LOG_FILE = ARTIFACTS / "logs" / "observability.log"
QUESTION = "What is the median age of human beings?"
# Answered in none of the documents: a second computed answer, so the answer-quality panels see a rate.
UNANSWERED = "What is the boiling point of liquid nitrogen on Neptune?"
# `ragline up` prefixes each line of a process's output with its name.
_PREFIXED = re.compile(r"^\s*(?P<service>[\w-]+) \| (?P<line>.*)$")


@dataclass(frozen=True)
class Traffic:
    upload_trace_id: str
    job: dict
    # A one-page table ingested into the same collection after the article.
    second_job: dict
    failed_trace_id: str
    failed_job: dict
    query: httpx.Response
    cached_query: httpx.Response
    unanswered_query: httpx.Response


@pytest.fixture(scope="session")
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as running:
        yield running


@pytest.fixture(scope="session")
def stack(receiver: OtlpReceiver, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        # Export within a fifth of a second instead of five, so the tests need not wait.
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "RAGLINE_QUERY_TIMEOUT_SECONDS": "30",
    }
    ports = dataclasses.replace(free_ports(), prometheus=free_port())
    LOG_FILE.parent.mkdir(parents=True, exist_ok=True)
    with LOG_FILE.open("w") as log:
        running = LocalStack(
            tmp_path_factory.mktemp("observability"),
            ports=ports,
            with_flower=True,
            with_prometheus=True,
            scrape_interval_seconds=1,
            extra_env=env,
            log=log,
        )
        with running:
            yield running


@pytest.fixture(scope="session")
def api(stack: LocalStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.api_url, timeout=60) as client:
        yield client


@pytest.fixture(scope="session")
def traffic(stack: LocalStack, api: httpx.Client, samples: Path) -> Traffic:
    uploaded = upload(api, "world", "world_population_wikipedia.pdf", (samples / "world_population_wikipedia.pdf").read_bytes())
    assert uploaded.status_code == 202, uploaded.text
    failed = upload(api, "world", "locked.pdf", (samples / "encrypted_password_openpassword.pdf").read_bytes())
    assert failed.status_code == 202, failed.text
    job = wait_for_job(api, uploaded.json()["job_id"])
    failed_job = wait_for_job(api, failed.json()["job_id"])
    assert (job["state"], failed_job["state"]) == ("done", "failed")
    # As for the answers below: a second ingest once Prometheus holds the first one's series, so
    # rate() sees ingest work even when one ingest finishes between two scrapes.
    _wait_for_prometheus(stack, 'ragline_vector_store_duration_seconds_count{operation="upsert"}')
    more = upload(api, "world", "nics.pdf", (samples / "fbi_nics_checks_2015_11_table.pdf").read_bytes())
    second_job = wait_for_job(api, more.json()["job_id"])
    assert second_job["state"] == "done"

    query = api.post("/v1/collections/world/query", json={"question": QUESTION})
    # rate() sees no increase in a series whose first sample already counts the event: let Prometheus
    # record the first answer before the second, as steady traffic would.
    _wait_for_prometheus(stack, 'ragline_http_request_duration_seconds_count{route=~".+/query"}')
    cached_query = api.post("/v1/collections/world/query", json={"question": QUESTION})
    assert query.status_code == cached_query.status_code == 200, query.text
    # After Prometheus saw the first answer's series: it sees this one as an increase.
    _wait_for_prometheus(stack, 'ragline_answers_total{outcome="grounded"} > 0')
    unanswered_query = api.post("/v1/collections/world/query", json={"question": UNANSWERED})
    assert unanswered_query.status_code == 200 and unanswered_query.json()["grounded"] is False, unanswered_query.text
    assert api.get("/v1/jobs/" + "0" * 32).status_code == 404
    assert api.post("/divide/1/0").status_code == 200
    return Traffic(
        upload_trace_id=uploaded.headers["x-trace-id"],
        job=job,
        second_job=second_job,
        failed_trace_id=failed.headers["x-trace-id"],
        failed_job=failed_job,
        query=query,
        cached_query=cached_query,
        unanswered_query=unanswered_query,
    )


def _wait_for_prometheus(stack: LocalStack, query: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = httpx.get(f"{stack.prometheus_url}/api/v1/query", params={"query": query}, timeout=10)
        if response.json()["data"]["result"]:
            return
        time.sleep(0.2)
    raise AssertionError(f"Prometheus has no {query} after {timeout:g} s")


def log_lines(service: str) -> list[dict]:
    """The JSON log lines one process of the stack wrote so far (its banner and warnings are not JSON)."""
    lines = []
    for raw in LOG_FILE.read_text().splitlines():
        match = _PREFIXED.match(raw)
        if match and match["service"] == service and match["line"].startswith("{"):
            lines.append(json.loads(match["line"]))
    return lines

