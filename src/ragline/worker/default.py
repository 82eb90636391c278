"""The default-queue worker: the seed's demo tasks. No model, no Chroma.

Run with: celery -A ragline.worker.default worker -Q default --concurrency 1
"""

from __future__ import annotations

from celery.signals import worker_process_init

from ragline.tasks import names
from ragline.tasks.celery_app import make_celery
from ragline.telemetry.worker import install_worker_telemetry, setup_worker_process
from ragline.worker.presence import track_presence

app = make_celery("default")
track_presence(names.DEFAULT_QUEUE)
install_worker_telemetry(names.DEFAULT_QUEUE, names.tasks_on(names.DEFAULT_QUEUE))


@worker_process_init.connect
def _setup_telemetry(**_: object) -> None:
    setup_worker_process(names.DEFAULT_QUEUE)


@app.task(name=names.ADD_NUMBERS_TASK)
def add_numbers(x: int, y: int) -> int:
    return x + y


@app.task(name=names.DIVIDE_NUMBERS_TASK)
def divide_numbers(x: int, y: int) -> float:
    """Division by zero raises, so the task ends FAILED with the reason, as the seed demonstrates."""
    return x / y
