"""How work is sent, by task name only: the API and the recovery sweep share it, no worker code needed."""

from __future__ import annotations

from celery import Celery, chain

from ragline.stores.jobs import Job
from ragline.tasks import names
from ragline.tasks.messages import ImportJob, IngestJob, QueryTask

INGEST_STEPS = (names.PDF_READER_TASK, names.TEXT_SPLITTER_TASK, names.VECTORSTORE_TASK)


def send_ingest(app: Celery, message: IngestJob) -> None:
    """The seed's chain per document. Every step is idempotent, so sending it again is always safe."""
    task = message.to_task()
    chain(*(app.signature(step, args=(task,), immutable=True, queue=names.INGEST_QUEUE) for step in INGEST_STEPS)).apply_async()


def send_import(app: Celery, message: ImportJob) -> None:
    """One task fills the collection from the staged archive; it too is safe to send again."""
    app.send_task(names.IMPORT_ARCHIVE_TASK, args=[message.to_task()], queue=names.INGEST_QUEUE)


def resend(app: Celery, job: Job, request: str) -> None:
    """Send a job's work again, whichever kind it is, with the message first sent (`request`, the job's
    record of it): the recovery sweep."""
    if job.kind == "import":
        send_import(app, ImportJob.model_validate_json(request))
    else:
        send_ingest(app, IngestJob.model_validate_json(request))


def send_query(app: Celery, message: QueryTask, request_id: str) -> None:
    """The task's id is the request's: the worker pushes its answer to that request's reply list."""
    app.send_task(names.QUERY_TASK, args=[message.to_task()], task_id=request_id, queue=names.QUERY_QUEUE)
