"""The length of each Celery queue, read from Redis when Prometheus scrapes the API."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

from prometheus_client.core import GaugeMetricFamily, Metric

from ragline.stores.redis_client import UNAVAILABLE_ERRORS as REDIS_UNAVAILABLE

logger = logging.getLogger(__name__)


class QueueLengthCollector:
    """`ragline_queue_length`: each Celery queue's backlog, read from Redis when Prometheus scrapes.

    Celery's Redis transport keeps a queue's waiting tasks in a list named after the queue; tasks a
    worker has taken are no longer in it. With Redis unreachable the metric is left out of the scrape.
    """

    def __init__(self, client, queues: Iterable[str]) -> None:  # noqa: ANN001 - redis.Redis
        self._redis = client
        self._queues = tuple(queues)

    def collect(self) -> Iterator[Metric]:
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                for queue in self._queues:
                    pipe.llen(queue)
                lengths = pipe.execute()
        except REDIS_UNAVAILABLE as exc:
            logger.warning("queue lengths unavailable error=%s", exc)
            return
        family = GaugeMetricFamily("ragline_queue_length", "Tasks waiting in each Celery queue, read at scrape time.", labels=["queue"])
        for queue, length in zip(self._queues, lengths, strict=True):
            family.add_metric([queue], int(length))
        yield family
