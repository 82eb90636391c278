"""One Celery configuration shared by every worker kind and by the API, which only sends tasks.

Task messages carry a redacted `argsrepr`/`kwargsrepr` (what Celery shows in events, logs and
Flower) unless the task's arguments are opaque ids: a question, a chat history or a collection
name never reaches Flower's task pages. Broker and result backend sockets have timeouts.
"""

from __future__ import annotations

from celery import Celery
from celery.app.amqp import AMQP
from celery.backends.redis import RedisBackend
from kombu import Queue

from ragline.config import Settings, get_settings
from ragline.stores.redis_client import COMMAND_TIMEOUT_SECONDS, CONNECT_TIMEOUT_SECONDS
from ragline.tasks import names

REDACTED = "'<redacted>'"


def make_celery(role: str, settings: Settings | None = None, include: tuple[str, ...] = ()) -> Celery:
    """Build the Celery app for one process role ("api", "ingest", "query", "default").

    Every role shares the queues, routes and reliability settings, so a task sent by the API
    lands on the queue its worker consumes.
    """
    settings = settings or get_settings()
    redis_url = str(settings.redis_url)
    backend = f"{__name__}:UnawaitedRedisBackend+{redis_url}" if role == "api" else redis_url
    app = Celery(
        f"ragline-{role}", broker=redis_url, backend=backend, include=list(include), amqp=f"{__name__}:RedactingAMQP"
    )
    transport_options = {
        # Redis re-delivers a task nobody acknowledged after this long; it must outlive any task
        # or a long ingest would run twice in parallel.
        "visibility_timeout": settings.visibility_timeout_seconds,
        # Without these a publish to a stalled Redis waits for as long as it stalls.
        "socket_timeout": COMMAND_TIMEOUT_SECONDS,
        "socket_connect_timeout": CONNECT_TIMEOUT_SECONDS,
    }
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        timezone="UTC",
        enable_utc=True,
        result_expires=24 * 3600,
        result_extended=True,
        task_acks_late=True,
        # A worker killed mid-task (OOM, kill -9) gives its task back to the queue instead of losing it.
        task_reject_on_worker_lost=True,
        task_track_started=True,
        worker_prefetch_multiplier=1,
        task_time_limit=settings.task_time_limit_seconds,
        task_soft_time_limit=max(settings.task_time_limit_seconds - 30, 5),
        broker_transport_options=transport_options,
        result_backend_transport_options=transport_options,
        redis_socket_timeout=COMMAND_TIMEOUT_SECONDS,
        redis_socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
        broker_connection_retry_on_startup=True,
        task_queues=[Queue(queue) for queue in names.QUEUES],
        task_default_queue=names.DEFAULT_QUEUE,
        task_routes={task: {"queue": queue} for task, queue in names.TASK_QUEUES.items()},
        worker_send_task_events=True,
        task_send_sent_event=True,
        worker_hijack_root_logger=False,
        # Pool processes load the embedding model in worker_process_init before reporting up;
        # Celery's default 4 s is shorter than a cold model load on a busy machine.
        worker_proc_alive_timeout=120,
    )
    return app


class RedactingAMQP(AMQP):
    """Every task message is built here: tasks whose arguments may hold tenant data get a redacted
    repr of them (the arguments themselves are untouched), in the message headers and in the
    `task-sent` event alike."""

    def as_task_v2(self, task_id: str, name: str, *args: object, **kwargs: object):  # noqa: ANN201 - Celery's task_message
        if name not in names.OPAQUE_ARGUMENT_TASKS:
            kwargs["argsrepr"] = kwargs["kwargsrepr"] = REDACTED
        return super().as_task_v2(task_id, name, *args, **kwargs)


class UnawaitedRedisBackend(RedisBackend):
    """The API's result backend: it reads task states (/task-status) but never waits on a result,
    so it skips the pub/sub subscription Celery's Redis backend makes for every task sent (as much
    Redis work per request as the publish itself)."""

    def on_task_call(self, producer, task_id) -> None:  # noqa: ANN001 - Celery's signature
        return None
