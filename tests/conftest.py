"""Fixtures shared by every test level: the sample PDFs and a way to run the real local stack."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from ragline.localstack import LocalStack, StackPorts, free_port
from ragline.tenancy import DEFAULT_TENANT, scope

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples" / "pdfs"
ARTIFACTS = REPO / "test-artifacts"
# Every stack a test starts, and Settings() in the test process, share one build of the int8 model.
os.environ.setdefault("RAGLINE_MODEL_CACHE_DIR", str(ARTIFACTS / "models"))


@pytest.fixture(scope="session")
def samples() -> Path:
    return SAMPLES


def free_ports() -> StackPorts:
    return StackPorts(api=free_port(), flower=free_port(), chroma=free_port(), redis=free_port(), ui=free_port(), llm=free_port())


@contextmanager
def running_stack(
    name: str, data_dir: Path, extra_env: dict[str, str] | None = None, with_flower: bool = False, **options: object
) -> Iterator[LocalStack]:
    """The whole local stack on free ports (`options`: LocalStack's); its output goes to test-artifacts/logs/NAME.log."""
    (ARTIFACTS / "logs").mkdir(parents=True, exist_ok=True)
    with (ARTIFACTS / "logs" / f"{name}.log").open("w") as log:
        stack = LocalStack(data_dir=data_dir, ports=free_ports(), with_flower=with_flower, extra_env=extra_env, log=log, **options)  # type: ignore[arg-type]
        with stack:
            yield stack


def stack_fixture(name: str, env: dict[str, str] | None = None, **options: object):  # noqa: ANN201 - a pytest fixture
    """A session-scoped fixture that runs the whole local stack as `name` with `env` on top."""

    @pytest.fixture(scope="session")
    def _stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
        with running_stack(name, tmp_path_factory.mktemp(name), extra_env=env, **options) as stack:
            yield stack

    return _stack


@contextmanager
def api_client(stack: LocalStack, api_key: str | None = None) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    with httpx.Client(base_url=stack.api_url, headers=headers, timeout=60) as client:
        yield client


def wait_for_job(api: httpx.Client, job_id: str, timeout: float = 300.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = api.get(f"/v1/jobs/{job_id}").json()
        if job["state"] in ("done", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish within {timeout:g} s: {job}")


def stored(collection: str) -> str:
    """The internal (tenant-scoped) name of a collection created without API keys."""
    return scope(DEFAULT_TENANT, collection)


def upload(api: httpx.Client, collection: str, filename: str, data: bytes) -> httpx.Response:
    return api.post(f"/v1/collections/{collection}/documents", files={"file": (filename, data, "application/pdf")})


def scrape(url: str) -> list[Sample]:
    """Every sample of one Prometheus endpoint, parsed by prometheus_client's own parser."""
    response = httpx.get(url, timeout=10)
    response.raise_for_status()
    return [sample for family in text_string_to_metric_families(response.text) for sample in family.samples]


def value(samples: list[Sample], name: str, **labels: str) -> float:
    """The sum of the samples named `name` whose labels include `labels` (0 when there is none)."""
    return sum(s.value for s in samples if s.name == name and labels.items() <= s.labels.items())


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
