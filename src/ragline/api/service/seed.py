"""The seed's demo tasks (add, divide) and their status, for their owner only."""

from __future__ import annotations

import uuid

from celery.result import AsyncResult

from ragline.api.service.admission import Admission
from ragline.errors import ErrorCode, RaglineError
from ragline.stores import keys
from ragline.stores.bundle import Stores
from ragline.tasks import names

# As long as Celery keeps the task's result (celery_app's result_expires).
SEED_TASK_TTL_SECONDS = 24 * 3600
# The seed's status names: Celery's SUCCESS/FAILURE read as COMPLETED/FAILED.
SEED_STATUS = {"SUCCESS": "COMPLETED", "FAILURE": "FAILED", "REVOKED": "FAILED"}


class SeedTasks:
    def __init__(self, stores: Stores, admission: Admission, celery) -> None:  # noqa: ANN001 - celery.Celery
        self._redis = stores.redis
        self._admission = admission
        self._celery = celery

    def submit_demo_task(self, task_name: str, x: int, y: int, tenant: str) -> str:
        self._admission.admit(names.DEFAULT_QUEUE)
        task_id = str(uuid.uuid4())
        # Whose task it is, recorded before it exists: /task-status answers only its owner.
        self._redis.set(keys.seed_task(task_id), tenant, ex=SEED_TASK_TTL_SECONDS)
        return self._celery.send_task(task_name, args=[x, y], queue=names.DEFAULT_QUEUE, task_id=task_id).id

    def task_status(self, task_id: str, tenant: str) -> dict:
        """A demo task's state, for its owner only: another tenant's task, a query's or an ingest's
        task id (whose results hold answers and arguments) is unknown here."""
        owner = self._redis.get(keys.seed_task(task_id.lower()))
        if owner is None or owner.decode() != tenant:
            raise RaglineError(ErrorCode.NOT_FOUND, f"no task {task_id}")
        result = AsyncResult(task_id.lower(), app=self._celery)
        state = result.state
        status = {"task_id": task_id, "status": SEED_STATUS.get(state, state)}
        if state == "SUCCESS":
            status["result"] = result.result
        elif state == "FAILURE":
            status["error"] = f"{type(result.result).__name__}: {result.result}"
        return status
