import os
import signal
import time

import httpx

from ragline.localstack import LocalStack
from tests.conftest import wait_until


def test_liveness_and_readiness(api: httpx.Client) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}
    assert api.get("/readyz").json() == {"status": "ready", "checks": {"redis": "ok", "chroma": "ok", "blobs": "ok"}}


def test_readiness_names_the_dependency_that_is_down_and_recovers(api: httpx.Client, stack: LocalStack) -> None:
    chroma = stack.service("chroma").process
    assert chroma is not None
    os.killpg(chroma.pid, signal.SIGKILL)
    chroma.wait()
    try:
        # Readiness is what the API's background probe saw last (it checks every 2 s).
        response = wait_until(lambda: (r := api.get("/readyz")).status_code == 503 and r, 15, "/readyz to notice")
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        body = response.json()
        assert body["checks"]["redis"] == "ok"
        assert body["checks"]["chroma"].startswith("unreachable")
        assert "chroma" in body["detail"]
    finally:
        stack.restart("chroma")
    deadline = time.monotonic() + 30
    while api.get("/readyz").status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert api.get("/readyz").status_code == 200
