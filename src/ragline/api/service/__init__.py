"""What the API does, below the routers, one concern per module: admission (rate limits, blocked
clients, queue and worker checks), documents (uploads, deletes, jobs), questions (the answer cache
and the query workers), archives (collection export and import) and the seed's demo tasks. Health is
the dependency probe's (stores/health.py).

`RaglineService` is one per API process: it builds each concern once, over the connections every
request shares.
"""

from __future__ import annotations

from functools import cached_property

import redis.asyncio

from ragline.api.service.admission import Admission
from ragline.api.service.archives import ArchiveService
from ragline.api.service.documents import DocumentService
from ragline.api.service.questions import QuestionService
from ragline.api.service.seed import SeedTasks
from ragline.config import Settings, get_settings
from ragline.stores.answers import AnswerCache
from ragline.stores.bundle import Stores
from ragline.stores.redis_client import connect_async
from ragline.tasks.celery_app import make_celery

REQUEST_THREADS = 40


class RaglineService:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self.stores = Stores(self.settings)

    @cached_property
    def redis_async(self) -> redis.asyncio.Redis:
        return connect_async(self.settings)

    @cached_property
    def celery(self):  # noqa: ANN201 - celery.Celery
        app = make_celery("api", self.settings)
        # Fail a request fast when Redis is away instead of retrying the publish for seconds.
        app.conf.task_publish_retry_policy = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2}
        # A `task-sent` event per request cost more than the publish itself (py-spy under wrk); Flower
        # still follows every task from the workers' events (received, started, succeeded).
        app.conf.task_send_sent_event = False
        # One broker connection per thread of the request thread pool (anyio's 40), not Celery's 10 to
        # queue for under load.
        app.conf.broker_pool_limit = REQUEST_THREADS
        return app

    @cached_property
    def admission(self) -> Admission:
        return Admission(self.stores)

    @cached_property
    def documents(self) -> DocumentService:
        return DocumentService(self.stores, self.admission, self.celery)

    @cached_property
    def questions(self) -> QuestionService:
        answers = AnswerCache(self.stores.redis, self.stores.cache, self.settings.answer_cache_ttl_seconds)
        return QuestionService(self.stores, self.admission, self.celery, self.redis_async, answers)

    @cached_property
    def archives(self) -> ArchiveService:
        return ArchiveService(self.stores, self.admission, self.celery)

    @cached_property
    def seed(self) -> SeedTasks:
        return SeedTasks(self.stores, self.admission, self.celery)
