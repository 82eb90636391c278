"""Fixtures shared by every test level: the sample PDFs and a way to run the real local stack."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from ragline.localstack import LocalStack, StackPorts, free_port

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples" / "pdfs"
ARTIFACTS = REPO / "test-artifacts"


@pytest.fixture(scope="session")
def samples() -> Path:
    return SAMPLES


def free_ports() -> StackPorts:
    return StackPorts(api=free_port(), flower=free_port(), chroma=free_port(), redis=free_port())


@contextmanager
def running_stack(name: str, data_dir: Path, extra_env: dict[str, str] | None = None, with_flower: bool = False) -> Iterator[LocalStack]:
    """The whole local stack on free ports; its output goes to test-artifacts/logs/NAME.log."""
    (ARTIFACTS / "logs").mkdir(parents=True, exist_ok=True)
    with (ARTIFACTS / "logs" / f"{name}.log").open("w") as log:
        stack = LocalStack(data_dir=data_dir, ports=free_ports(), with_flower=with_flower, extra_env=extra_env, log=log)
        with stack:
            yield stack


def wait_for_job(api: httpx.Client, job_id: str, timeout: float = 300.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = api.get(f"/v1/jobs/{job_id}").json()
        if job["state"] in ("done", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish within {timeout:g} s: {job}")


def upload(api: httpx.Client, collection: str, filename: str, data: bytes) -> httpx.Response:
    return api.post(f"/v1/collections/{collection}/documents", files={"file": (filename, data, "application/pdf")})
