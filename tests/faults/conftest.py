"""A stack whose processes the fault tests kill and restart. Workers count as gone after 6 s of silence,
and a running job that has not changed for 30 s is sent again."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ragline.config import Settings
from ragline.domain import chunk_id
from ragline.localstack import LocalStack
from ragline.pipeline.extract import read_pages
from ragline.pipeline.split import split_pages
from tests.conftest import api_client, stack_fixture

HEARTBEAT_TTL = 6
STALL = 30


faulty = stack_fixture("faults", {"RAGLINE_WORKER_HEARTBEAT_TTL_SECONDS": str(HEARTBEAT_TTL), "RAGLINE_JOB_STALL_SECONDS": str(STALL)})


@pytest.fixture(scope="session")
def api(faulty: LocalStack) -> Iterator[httpx.Client]:
    with api_client(faulty) as client:
        yield client


def kill(stack: LocalStack, name: str, sig: signal.Signals = signal.SIGKILL) -> None:
    """Signal the whole process group (a worker's pool children die with it) and reap it."""
    process = stack.service(name).process
    assert process is not None and process.poll() is None
    os.killpg(process.pid, sig)
    process.wait(timeout=60)


def clean_run_ids(pdf: Path, document_id: str) -> list[str]:
    """The chunk ids an undisturbed ingest produces: the same extract and split, in-process."""
    settings = Settings()
    chunks = split_pages(read_pages(pdf.read_bytes()), settings.chunk_size, settings.chunk_overlap)
    return sorted(chunk_id(document_id, chunk) for chunk in chunks)
