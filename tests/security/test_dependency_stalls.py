"""A stalled Chroma, then a stalled Redis (SIGSTOP: connections accepted, nothing answered), under 20
threads of uploads and questions: /healthz answers every time within a 2 s client timeout, /readyz
turns 503 naming the stalled dependency, requests that need it fail fast with 503 and Retry-After
instead of waiting, and everything recovers after SIGCONT."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ragline.localstack import LocalStack
from tests.conftest import api_client, running_stack, upload, wait_for_job
from tests.security.stalls import HEALTH_TIMEOUT_SECONDS, NO_QUOTA, HealthWatch, Load, stalled, wait_for_readiness

SMALL = "fbi_nics_checks_2015_11_table.pdf"
STALL_SECONDS = 12


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, samples: Path) -> Iterator[LocalStack]:
    # Short timeouts only so the test takes less time; the defaults are what bench/stall.py measures.
    # No document quota: the load uploads a new document every few milliseconds.
    env = {"RAGLINE_CHROMA_TIMEOUT_SECONDS": "10", "RAGLINE_QUERY_TIMEOUT_SECONDS": "15", **NO_QUOTA}
    with running_stack("stalls", tmp_path_factory.mktemp("stalls"), env) as running:
        with api_client(running) as api:
            job = wait_for_job(api, upload(api, "stalls", SMALL, (samples / SMALL).read_bytes()).json()["job_id"])
            assert job["state"] == "done", job
        yield running


def _fails_fast(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "dependency_unavailable"
    assert int(response.headers["Retry-After"]) > 0


@pytest.mark.parametrize("dependency", ["chroma", "redis"])
def test_a_stalled_dependency_never_freezes_the_api(stack: LocalStack, samples: Path, dependency: str) -> None:
    pdf = (samples / SMALL).read_bytes()
    with HealthWatch(f"{stack.api_url}/healthz") as watch, Load(stack.api_url, pdf, "stalls") as load:
        time.sleep(3)
        with stalled(stack, dependency):
            stalled_at = time.monotonic()
            status, checks = wait_for_readiness(stack.api_url, lambda code, _: code == 503, STALL_SECONDS)
            assert checks[dependency].startswith("unreachable"), checks
            assert all(state == "ok" for name, state in checks.items() if name != dependency), checks
            # While the probe finds it down, a request that needs it is refused at once, not queued
            # behind the timeout (the 2 s client timeout would raise here).
            with httpx.Client(base_url=stack.api_url, timeout=HEALTH_TIMEOUT_SECONDS) as quick:
                _fails_fast(upload(quick, "stalls", "fresh.pdf", pdf + b"\n%fresh"))
                if dependency == "redis":
                    _fails_fast(quick.get("/v1/collections/stalls/documents"))
                else:
                    # Answered by the query worker against Chroma: refused in the API, not after its timeout.
                    _fails_fast(quick.post("/v1/collections/stalls/query", json={"question": "Which state ran the fewest checks?"}))
            time.sleep(max(STALL_SECONDS - (time.monotonic() - stalled_at), 0))
        wait_for_readiness(stack.api_url, lambda code, _: code == 200, 60)
        time.sleep(2)
    during = watch.between(stalled_at, stalled_at + STALL_SECONDS)
    assert len(during) > STALL_SECONDS, "the watcher kept probing throughout the stall"
    failures = [probe for probe in watch.probes if probe.outcome != 200]
    assert not failures, f"/healthz failed {len(failures)} of {len(watch.probes)} times: {failures[:5]}"
    assert sum(load.outcomes.values()) > 20, load.outcomes
    # Requests that needed the stalled server got an answer (often a 503), never a 500.
    assert "500" not in load.outcomes, load.outcomes
    with api_client(stack) as api:
        # Back to normal: a question goes through the API, Redis, a query worker and Chroma again.
        after = api.post("/v1/collections/stalls/query", json={"question": "How many background checks were run?"})
        assert after.status_code == 200, after.text
