"""The baseline of bench/query.py's enqueue comparison: FastAPI and Celery and nothing else.

One endpoint sends the seed's add task to the default queue, as POST /add/{x}/{y} of the API does,
without authentication, admission checks, metrics or traces. Run by bench/query.py as
`uvicorn bench.bare_enqueue:app` with BARE_ENQUEUE_REDIS_URL set.
"""

from __future__ import annotations

import os

from celery import Celery
from fastapi import FastAPI

celery = Celery("bare-enqueue", broker=os.environ["BARE_ENQUEUE_REDIS_URL"])
app = FastAPI()


@app.post("/add/{x}/{y}")
def add(x: int, y: int) -> dict:
    return {"task_id": celery.send_task("add_numbers", args=[x, y], queue="default").id}
