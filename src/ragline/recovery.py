"""Jobs whose task was lost are sent again instead of staying `running` forever.

A task that dies with its worker (killed, OOM, node lost), or whose worker lost Redis mid-task,
stays unacknowledged until the visibility timeout, which must outlive the longest task (hours).
Waiting that long is no answer for a user watching a progress bar, so the job record names the
worker instance running it and is refreshed on every progress write; workers announce themselves
on every heartbeat. A running job held by an instance nobody hears from, or that has not changed
for `stall_seconds`, is re-sent: every step is idempotent, so a late redelivery of the original
task only repeats the same writes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from ragline.errors import ErrorCode
from ragline.stores.jobs import Job, JobStore
from ragline.stores.workers import WorkerRegistry
from ragline.tasks import names

logger = logging.getLogger(__name__)

# A document that takes its worker down this many times is failed rather than retried forever.
MAX_ATTEMPTS = 3


Resend = Callable[[Job], None]
Fail = Callable[[Job, str, str], None]


def recover_if_orphaned(
    job: Job, jobs: JobStore, workers: WorkerRegistry, heartbeat_ttl: float, stall_seconds: float, resend: Resend, fail: Fail
) -> None:
    """Re-send the job, or fail it after MAX_ATTEMPTS, if its task is evidently lost."""
    if job.state != "running":
        return
    stalled = time.time() - (job.updated_at or job.created_at) > stall_seconds
    worker_gone = bool(job.worker) and job.worker not in workers.alive(names.INGEST_QUEUE, heartbeat_ttl)
    if not (stalled or worker_gone):
        return
    if not jobs.claim_recovery(job.job_id):
        return
    if job.attempts + 1 >= MAX_ATTEMPTS:
        fail(job, ErrorCode.WORKER_LOST.code, f"the worker ingesting this document stopped {job.attempts + 1} times")
        return
    logger.warning("re-sending lost job job_id=%s worker=%s stage=%s stalled=%s", job.job_id, job.worker, job.stage, stalled)
    jobs.requeue(job.job_id)
    resend(job)


def sweep(jobs: JobStore, workers: WorkerRegistry, heartbeat_ttl: float, stall_seconds: float, resend: Resend, fail: Fail) -> None:
    """Check every job not yet done or failed."""
    for job_id in jobs.active_ids():
        job = jobs.get(job_id)
        if job is not None:
            recover_if_orphaned(job, jobs, workers, heartbeat_ttl, stall_seconds, resend, fail)
