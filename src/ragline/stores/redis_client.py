"""Redis connections from settings, with timeouts short enough that an outage is reported, not waited out.

Every connection has a connect and a read timeout, and a command is retried once at most, on a
broken connection only (redis-py's default is ten retries, timeouts included: a stalled server
held a request for minutes). The pools consult the REDIS breaker (stores/health.py): in the API,
while the health probe finds Redis down, a command fails at once with ConnectionError (rendered
as 503 dependency_unavailable) instead of holding a request thread for the whole timeout.
"""

from __future__ import annotations

from functools import cache

import redis
import redis.asyncio
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from ragline.config import Settings
from ragline.stores.health import REDIS

CONNECT_TIMEOUT_SECONDS = 2.0
COMMAND_TIMEOUT_SECONDS = 10.0

UNAVAILABLE_ERRORS = (redis.ConnectionError, redis.TimeoutError)
# Redis at its maxmemory: it refuses writes (policy noeviction, see the chart) and stays up for reads.
FULL_ERROR = redis.exceptions.OutOfMemoryError


def _retry(kind: type[Retry] | type[AsyncRetry] = Retry) -> Retry | AsyncRetry:
    # A pooled connection broken by a Redis restart fails once, then reconnects; a timeout is never
    # repeated: the server is stalled, and waiting again only doubles the wait.
    return kind(ExponentialBackoff(cap=0.5, base=0.05), 1, supported_errors=(redis.ConnectionError,))


def connect(settings: Settings) -> redis.Redis:
    pool = GuardedConnectionPool.from_url(
        str(settings.redis_url),
        socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
        socket_timeout=COMMAND_TIMEOUT_SECONDS,
        health_check_interval=30,
        retry=_retry(),
    )
    return redis.Redis.from_pool(pool)


def connect_plain(url: str, connect_timeout: float, command_timeout: float) -> redis.Redis:
    """A Redis outside the REDIS breaker, for a server whose failure is not Redis's (the cache Redis)."""
    pool = redis.ConnectionPool.from_url(
        url, socket_connect_timeout=connect_timeout, socket_timeout=command_timeout, health_check_interval=30, retry=_retry()
    )
    return redis.Redis.from_pool(pool)


def connect_async(settings: Settings) -> redis.asyncio.Redis:
    """For waits that must not hold a thread, such as a blocking pop on a reply list."""
    pool = GuardedAsyncConnectionPool.from_url(
        str(settings.redis_url),
        socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
        # A blocking pop waits up to the query timeout for its reply; reading must outlast it.
        socket_timeout=settings.query_timeout_seconds + COMMAND_TIMEOUT_SECONDS,
        health_check_interval=30,
        retry=_retry(AsyncRetry),
    )
    return redis.asyncio.Redis.from_pool(pool)


def _refuse_if_down() -> None:
    if (reason := REDIS.refusal()) is not None:
        raise redis.ConnectionError(f"Redis is unavailable ({reason}); not waiting for it")


class GuardedConnectionPool(redis.ConnectionPool):
    """Hands out no connection while the breaker is open; its connections report stalls to it."""

    def __init__(self, connection_class: type[redis.Connection] = redis.Connection, **kwargs: object) -> None:
        super().__init__(connection_class=_observed(connection_class), **kwargs)

    def get_connection(self, *args: object, **kwargs: object) -> redis.Connection:
        _refuse_if_down()
        return super().get_connection(*args, **kwargs)


class GuardedAsyncConnectionPool(redis.asyncio.ConnectionPool):
    async def get_connection(self, *args: object, **kwargs: object) -> redis.asyncio.Connection:
        _refuse_if_down()
        return await super().get_connection(*args, **kwargs)


@cache
def _observed(connection_class: type[redis.Connection]) -> type[redis.Connection]:
    """`connection_class` (plain, TLS or Unix socket, as the URL says) reporting to the breaker when a
    connect fails or a read times out. A write to a connection broken by a restart is not reported:
    the retry reconnects it, and that reconnect is what tells whether Redis is really gone."""

    class Observed(connection_class):  # type: ignore[misc, valid-type]
        def connect(self, *args: object, **kwargs: object) -> None:
            try:
                super().connect(*args, **kwargs)
            except UNAVAILABLE_ERRORS as exc:
                REDIS.failed(exc)
                raise

        def read_response(self, *args: object, **kwargs: object) -> object:
            try:
                return super().read_response(*args, **kwargs)
            except redis.TimeoutError as exc:
                REDIS.failed(exc)
                raise

    Observed.__name__ = Observed.__qualname__ = f"Observed{connection_class.__name__}"
    return Observed
