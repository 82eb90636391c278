"""The query worker: embed the question, retrieve from one collection, answer with citations.

Run with: celery -A ragline.worker.query worker -Q query --concurrency 1 --prefetch-multiplier 1
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict

from celery import Task
from celery.signals import worker_process_init

from ragline.errors import RaglineError
from ragline.pipeline.query import answer_question
from ragline.stores import keys
from ragline.worker import names
from ragline.worker.celery_app import make_celery
from ragline.worker.runtime import WorkerRuntime

logger = logging.getLogger(__name__)

app = make_celery("query")
runtime = WorkerRuntime()


@worker_process_init.connect
def _load_model(**_: object) -> None:
    runtime.embedder  # noqa: B018 - load in the child, after the fork, before the first task


@app.task(name=names.QUERY_TASK, bind=True)
def query_task(self: Task, collection: str, question: str, top_k: int) -> dict:
    """Answer, then push the answer to the reply list the API is blocked on."""
    settings = runtime.settings
    embedder = runtime.embedder
    try:
        answer = answer_question(
            question,
            embedder,
            search=lambda vector, k: runtime.index.query(collection, embedder.name, vector, k),
            top_k=top_k,
            threshold=settings.relevance_threshold,
            max_sentences=settings.answer_sentences,
        )
        payload: dict = {
            "answer": answer.answer,
            "grounded": answer.grounded,
            "citations": [asdict(passage) for passage in answer.citations],
        }
    except RaglineError as exc:
        payload = {"error": {"code": exc.code.code, "detail": exc.detail}}
    reply_key = keys.reply(self.request.id)
    with runtime.redis.pipeline() as pipe:
        pipe.rpush(reply_key, json.dumps(payload))
        pipe.expire(reply_key, int(settings.query_timeout_seconds) + 60)
        pipe.execute()
    return payload
