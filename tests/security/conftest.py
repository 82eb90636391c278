"""A stack with API keys for several tenants, a rate limit, a short queue limit and fast worker expiry;
and a second API process on it with tight request bounds (timeouts, quotas, failed-auth limit)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from ragline.localstack import LocalStack
from tests.conftest import ApiProcess, another_api, api_client, stack_fixture

KEYS = {
    "acme": "acme-key-0123456789abcdef",
    "globex": "globex-key-0123456789abcdef",
    "hammer": "hammer-key-0123456789abcdef",
    # Tenants of the limits tests, so their quotas and races touch nobody else's counts.
    "quota": "quota-key-0123456789abcdef",
    "racer": "racer-key-0123456789abcdef",
    "fuzz": "fuzz-key-0123456789abcdef",
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
        # Every test client is 127.0.0.1; the bounded API below tests this limit from other addresses.
        "RAGLINE_AUTH_FAILURES_PER_MINUTE": "1000",
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
def fuzzer(secured: LocalStack) -> Iterator[httpx.Client]:
    with api_client(secured, KEYS["fuzz"]) as client:
        yield client


@pytest.fixture(scope="session")
def hammer(secured: LocalStack) -> Iterator[httpx.Client]:
    with api_client(secured, KEYS["hammer"]) as client:
        yield client


# The bounded API's limits: small enough to reach in a test, each its own RAGLINE_* setting.
BOUNDS = {
    "RAGLINE_HEADER_TIMEOUT_SECONDS": "2",
    "RAGLINE_BODY_TIMEOUT_SECONDS": "2",
    "RAGLINE_AUTH_FAILURES_PER_MINUTE": "5",
    "RAGLINE_TENANT_MAX_DOCUMENTS": "2",
    "RAGLINE_TENANT_MAX_PAGES": "3",
    "RAGLINE_TENANT_MAX_BYTES": "400000",
}


@pytest.fixture(scope="session")
def bounded(secured: LocalStack) -> Iterator[ApiProcess]:
    """Another API process on the secured stack's Redis, Chroma and workers, with the tight limits of BOUNDS."""
    with another_api(secured, "security-bounded-api", BOUNDS) as api:
        yield api
