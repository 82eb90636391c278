"""The default-queue worker: the seed's demo tasks. No model, no Chroma.

Run with: celery -A ragline.worker.default worker -Q default --concurrency 1
"""

from __future__ import annotations

from ragline.worker import names
from ragline.worker.celery_app import make_celery

app = make_celery("default")


@app.task(name=names.ADD_NUMBERS_TASK)
def add_numbers(x: int, y: int) -> int:
    return x + y


@app.task(name=names.DIVIDE_NUMBERS_TASK)
def divide_numbers(x: int, y: int) -> float:
    """Division by zero raises, so the task ends FAILED with the reason, as the seed demonstrates."""
    return x / y
