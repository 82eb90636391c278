"""How work is sent, by task name only: the API and the recovery sweep share it, no worker code needed."""

from __future__ import annotations

from celery import Celery, chain

from ragline.tasks import names

INGEST_STEPS = (names.PDF_READER_TASK, names.TEXT_SPLITTER_TASK, names.VECTORSTORE_TASK)


def send_ingest(app: Celery, job_id: str) -> None:
    """The seed's chain per document. Every step is idempotent, so sending it again is always safe."""
    chain(
        *(app.signature(step, args=(job_id,), immutable=True, queue=names.INGEST_QUEUE) for step in INGEST_STEPS)
    ).apply_async()
