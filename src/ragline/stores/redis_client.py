"""Redis connections from settings, with timeouts short enough that an outage is reported, not waited out."""

from __future__ import annotations

import redis
import redis.asyncio

from ragline.config import Settings

CONNECT_TIMEOUT_SECONDS = 2.0
COMMAND_TIMEOUT_SECONDS = 10.0


def connect(settings: Settings) -> redis.Redis:
    return redis.Redis.from_url(
        str(settings.redis_url),
        socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
        socket_timeout=COMMAND_TIMEOUT_SECONDS,
        health_check_interval=30,
    )


def connect_async(settings: Settings) -> redis.asyncio.Redis:
    """For waits that must not hold a thread, such as a blocking pop on a reply list."""
    return redis.asyncio.Redis.from_url(
        str(settings.redis_url),
        socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
        # A blocking pop waits up to the query timeout for its reply; reading must outlast it.
        socket_timeout=settings.query_timeout_seconds + COMMAND_TIMEOUT_SECONDS,
        health_check_interval=30,
    )


UNAVAILABLE_ERRORS = (redis.ConnectionError, redis.TimeoutError)
