"""A stack with API keys for two tenants, a rate limit, a short queue limit and fast worker expiry."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from ragline.localstack import LocalStack
from tests.conftest import api_client, stack_fixture

KEYS = {
    "acme": "acme-key-0123456789abcdef",
    "globex": "globex-key-0123456789abcdef",
    "hammer": "hammer-key-0123456789abcdef",
}
RATE_LIMIT = 300
MAX_QUEUE = 2


secured = stack_fixture(
    "security",
    {
        "RAGLINE_API_KEYS": ",".join(f"{key}={tenant}" for tenant, key in KEYS.items()),
        "RAGLINE_RATE_LIMIT_PER_MINUTE": str(RATE_LIMIT),
        "RAGLINE_MAX_QUEUE_LENGTH": str(MAX_QUEUE),
        "RAGLINE_WORKER_HEARTBEAT_TTL_SECONDS": "5",
    },
)


@pytest.fixture(scope="session")
def acme(secured: LocalStack) -> Iterator[httpx.Client]:
    with api_client(secured, KEYS["acme"]) as client:
        yield client


@pytest.fixture(scope="session")
def globex(secured: LocalStack) -> Iterator[httpx.Client]:
    with api_client(secured, KEYS["globex"]) as client:
        yield client


@pytest.fixture(scope="session")
def anonymous(secured: LocalStack) -> Iterator[httpx.Client]:
    with api_client(secured) as client:
        yield client


@pytest.fixture(scope="session")
def hammer(secured: LocalStack) -> Iterator[httpx.Client]:
    with api_client(secured, KEYS["hammer"]) as client:
        yield client
