"""Fixtures shared by every test level: the sample PDFs and a way to run the real local stack."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from ragline.localstack import LocalStack, StackPorts, free_port, http_ok
from ragline.tenancy import DEFAULT_TENANT, scope

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples" / "pdfs"
ARTIFACTS = REPO / "test-artifacts"
# The level of a test that names none itself, by its folder (pyproject.toml registers them).
LEVELS = ("unit", "api", "integration", "chart", "e2e", "images")
FOLDER_LEVELS = {
    "unit": "unit",
    "api": "api",
    "chart": "chart",
    "e2e": "e2e",
    "images": "images",
    **dict.fromkeys(("integration", "answers", "blobs", "faults", "observability", "performance", "security", "ui"), "integration"),
}
# Every stack a test starts, and Settings() in the test process, share one build of the int8 model.
os.environ.setdefault("RAGLINE_MODEL_CACHE_DIR", str(ARTIFACTS / "models"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give each test its folder's level unless it names one; a test in no known folder must name one."""
    for item in items:
        if any(item.get_closest_marker(level) for level in LEVELS):
            continue
        folder = Path(item.path).relative_to(REPO / "tests").parts[0]
        if folder not in FOLDER_LEVELS:
            raise pytest.UsageError(f"{item.nodeid}: mark it with one of {', '.join(LEVELS)}")
        item.add_marker(FOLDER_LEVELS[folder])


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


@dataclass
class ApiProcess:
    url: str
    log_path: Path


@contextmanager
def another_api(stack: LocalStack, name: str, env: dict[str, str]) -> Iterator[ApiProcess]:
    """Another API process (`python -m ragline.api`, as the stack runs its own) on the stack's Redis, Chroma
    and workers, with `env` on top of the stack's; its output goes to test-artifacts/logs/NAME.log."""
    port = free_port()
    log_path = ARTIFACTS / "logs" / f"{name}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "ragline.api", "--host", "127.0.0.1", "--port", str(port), "--no-access-log"],
            env={**stack.env(), **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            # A bound, not a timing: an API process imports for a while on a busy machine.
            wait_until(lambda: process.poll() is not None or http_ok(f"{url}/healthz"), 180, f"the {name} API")
            assert process.poll() is None, log_path.read_text()[-3000:]
            yield ApiProcess(url=url, log_path=log_path)
        finally:
            process.terminate()
            process.wait(timeout=30)


@contextmanager
def redis_server(directory: Path, password: str | None = None) -> Iterator[int]:
    """A real redis-server on a free loopback port, without persistence; yields its port."""
    binary = shutil.which("redis-server")
    assert binary, "redis-server is not installed (scripts/install-system-deps.sh)"
    port = free_port()
    auth = ["--requirepass", password] if password else []
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(directory), *auth],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port, password=password)

    def answers() -> bool:
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False

    try:
        wait_until(answers, 20, "redis-server to start")
        yield port
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def api_client(stack: LocalStack, api_key: str | None = None) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    with httpx.Client(base_url=stack.api_url, headers=headers, timeout=60) as client:
        yield client


def wait_for_job(api: httpx.Client, job_id: str, timeout: float = 300.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = api.get(f"/v1/jobs/{job_id}")
        assert response.status_code == 200, f"job {job_id}: {response.status_code} {response.text}"
        job = response.json()
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
