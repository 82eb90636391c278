"""The API in-process (FastAPI's TestClient: the real app, its middleware and handlers) against a real
redis-server, with no worker and no Chroma: what a route does with Redis alone is tested in seconds.

Chroma's address is a closed port, so the dependency probe finds it down, as it would in production.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import redis
from fastapi.testclient import TestClient

from ragline.api.app import create_app
from ragline.config import Settings
from ragline.localstack import free_port
from tests.conftest import redis_server

KEYS = {"acme": "acme-key-0123456789abcdef", "globex": "globex-key-0123456789abcdef"}


@pytest.fixture(scope="session")
def redis_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with redis_server(tmp_path_factory.mktemp("api-redis")) as port:
        yield port


@pytest.fixture
def settings(redis_port: int) -> Settings:
    """Every test starts from an empty Redis."""
    redis.Redis(port=redis_port).flushall()
    return Settings(redis_url=f"redis://127.0.0.1:{redis_port}/0", chroma_url=f"http://127.0.0.1:{free_port()}")


@pytest.fixture
def make_client(settings: Settings) -> Iterator[Callable[..., TestClient]]:
    """An app with these settings changed, served in-process; its lifespan (the dependency probe) runs."""
    clients: list[TestClient] = []

    def make(**changes: object) -> TestClient:
        client = TestClient(create_app(settings.model_copy(update=changes)), raise_server_exceptions=False)
        clients.append(client.__enter__())
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()
