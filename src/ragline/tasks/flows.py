"""How work is sent, by task name only: the API and the recovery sweep share it, no worker code needed."""

from __future__ import annotations

from celery import Celery, chain

from ragline.stores.jobs import Job
from ragline.tasks import names

INGEST_STEPS = (names.PDF_READER_TASK, names.TEXT_SPLITTER_TASK, names.VECTORSTORE_TASK)


def send_ingest(app: Celery, job_id: str) -> None:
    """The seed's chain per document. Every step is idempotent, so sending it again is always safe."""
    chain(
        *(app.signature(step, args=(job_id,), immutable=True, queue=names.INGEST_QUEUE) for step in INGEST_STEPS)
    ).apply_async()


def send_import(app: Celery, job_id: str) -> None:
    """One task fills the collection from the staged archive; it too is safe to send again."""
    app.send_task(names.IMPORT_ARCHIVE_TASK, args=[job_id], queue=names.INGEST_QUEUE)


def resend(app: Celery, job: Job) -> None:
    """Send a job's work again, whichever kind it is (the recovery sweep)."""
    (send_import if job.kind == "import" else send_ingest)(app, job.job_id)
