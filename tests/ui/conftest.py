"""One real local stack with the web UI, behind an API key, shared by the CLI and browser tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ragline.client import RaglineClient
from ragline.localstack import LocalStack
from tests.conftest import running_stack

# The API refuses keys shorter than 16 characters.
API_KEY = "ui-tests-key-5f0c2a9e"
TENANT = "ui-tests"


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    # The torch runtime, so the stack also runs end to end on the one that is not the default.
    env = {"RAGLINE_API_KEYS": f"{API_KEY}={TENANT}", "RAGLINE_LOCAL_EMBEDDING_RUNTIME": "torch"}
    with running_stack("ui", tmp_path_factory.mktemp("ui-stack"), extra_env=env, with_ui=True) as running:
        yield running


@pytest.fixture(scope="session")
def client(stack: LocalStack) -> Iterator[RaglineClient]:
    with RaglineClient(stack.api_url, API_KEY) as api:
        yield api
