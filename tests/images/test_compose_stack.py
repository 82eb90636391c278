"""docker-compose.yml end to end, run by Debian's docker-compose 1.29 on the images the suite built:
upload with live progress, a cited answer, the UI and Flower, an ingest worker killed mid-ingest and
restarted by its restart policy, and a `down` / `up` that keeps collections and jobs.

The stack runs under its own compose project name with every port published on 127.0.0.1 only (free
ports), and always goes with `down -v`."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import SAMPLES, stored, upload, wait_for_job, wait_until
from tests.faults.conftest import clean_run_ids
from tests.images.conftest import ARTIFACTS, DOCKER_ENV, ROOT, Container, docker, free_port, wait_http
from tests.images.test_images import QUESTION, WORLD, chunk_ids_in, registered_workers

COMPOSE = ROOT / "docker-compose.yml"
BOOK = "art_of_public_speaking_gutenberg.pdf"
FLOWER_PASSWORD = "compose-suite"
# The one setting the suite changes: a job whose worker died mid-index names no worker, so it is sent
# again once its record has been still for RAGLINE_JOB_STALL_SECONDS (default 120 s; as in tests/faults).
OVERRIDE = """
services:
  ingest-worker:
    environment:
      RAGLINE_JOB_STALL_SECONDS: "30"
"""


class ComposeStack:
    """One compose project of docker-compose.yml; `compose(...)` runs docker-compose 1.29 on it."""

    def __init__(self, binary: str, override: Path) -> None:
        self.binary = binary
        override.write_text(OVERRIDE)
        self.files = ["-f", str(COMPOSE), "-f", str(override)]
        self.project = f"ragline-test-{uuid.uuid4().hex[:8]}"
        self.ports = {"api": free_port(), "ui": free_port(), "flower": free_port()}
        self.env = {
            **DOCKER_ENV,
            "API_PUBLISH": f"127.0.0.1:{self.ports['api']}",
            "UI_PUBLISH": f"127.0.0.1:{self.ports['ui']}",
            "FLOWER_PUBLISH": f"127.0.0.1:{self.ports['flower']}",
            "JAEGER_PUBLISH": f"127.0.0.1:{free_port()}",
            "FLOWER_PASSWORD": FLOWER_PASSWORD,
        }

    def compose(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [self.binary, "--ansi", "never", "-p", self.project, *self.files, *args],
            env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False,
        )
        if proc.returncode != 0:
            raise AssertionError(f"docker-compose {' '.join(args)} exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
        return proc

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def container(self, service: str) -> Container:
        ids = self.compose("ps", "-q", service).stdout.split()
        assert len(ids) == 1, f"{service}: containers {ids}"
        return Container(ids[0])

    def up(self) -> None:
        # --no-build: the images the suite built under the tags this file names (no registry to pull from).
        self.compose("up", "-d", "--no-build")
        wait_http(f"{self.url('api')}/readyz", 240, "the compose API", self.container("api"))

    def save_logs(self, name: str) -> None:
        (ARTIFACTS / "logs").mkdir(parents=True, exist_ok=True)
        proc = subprocess.run([self.binary, "--ansi", "never", "-p", self.project, *self.files, "logs", "--no-color"],
                              env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
        (ARTIFACTS / "logs" / f"{name}.log").write_text(proc.stdout + proc.stderr)


@pytest.fixture(scope="module")
def stack(project_images: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComposeStack]:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("no docker-compose: install Debian's docker-compose (scripts/install-system-deps.sh test)")
    stack = ComposeStack(binary, tmp_path_factory.mktemp("compose") / "docker-compose.test.yml")
    try:
        stack.up()
        yield stack
    finally:
        stack.save_logs("compose")
        stack.compose("down", "-v", "--remove-orphans", "--timeout", "10")


def wait_for_workers(stack: ComposeStack) -> None:
    redis = stack.container("redis")
    for queue in ("ingest", "query", "default"):
        wait_until(lambda: registered_workers(redis, queue), 240, f"a {queue} worker of the compose stack")


def job_events(api: httpx.Client, job_id: str) -> list[tuple[str, dict]]:
    """The job's Server-Sent Events until its last one (`done` or `failed`)."""
    events: list[tuple[str, dict]] = []
    name = ""
    with api.stream("GET", f"/v1/jobs/{job_id}/events", timeout=httpx.Timeout(30, read=300)) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((name, json.loads(line.removeprefix("data: "))))
    return events


def test_upload_streams_progress_and_the_answer_cites_the_page(stack: ComposeStack) -> None:
    wait_for_workers(stack)
    with httpx.Client(base_url=stack.url("api"), timeout=60) as api:
        response = upload(api, "compose", WORLD, (SAMPLES / WORLD).read_bytes())
        assert response.status_code == 202, response.text
        events = job_events(api, response.json()["job_id"])
        assert events[-1][0] == "done", events[-1]
        assert [name for name, _ in events[:-1]] and {name for name, _ in events[:-1]} == {"progress"}, events
        assert events[-1][1]["progress"]["chunks_done"] == events[-1][1]["progress"]["chunks_total"] > 0
        answer = api.post("/v1/collections/compose/query", json={"question": QUESTION}).json()
    assert answer["grounded"] is True, answer
    assert (answer["citations"][0]["filename"], answer["citations"][0]["page"]) == (WORLD, 1)


def test_ui_and_flower_are_served(stack: ComposeStack) -> None:
    wait_http(f"{stack.url('ui')}/healthz", 180, "the compose UI", stack.container("ui"))
    page = httpx.get(f"{stack.url('ui')}/", timeout=30, follow_redirects=True)
    assert page.status_code == 200 and "gradio" in page.text.lower()
    wait_http(f"{stack.url('flower')}/", 180, "the compose Flower", stack.container("flower"), status=401)
    assert httpx.get(f"{stack.url('flower')}/", auth=("admin", FLOWER_PASSWORD), timeout=10).status_code == 200


def test_a_killed_ingest_worker_is_restarted_and_its_job_completes(stack: ComposeStack) -> None:
    if os.geteuid() != 0:
        pytest.skip("killing a container's process from outside it needs root")
    wait_for_workers(stack)
    worker = stack.container("ingest-worker")
    with httpx.Client(base_url=stack.url("api"), timeout=60) as api:
        response = upload(api, "compose-book", BOOK, (SAMPLES / BOOK).read_bytes())
        assert response.status_code == 202, response.text
        job_id = response.json()["job_id"]

        def mid_ingest() -> dict | None:
            job = api.get(f"/v1/jobs/{job_id}").json()
            assert job["state"] != "done", "the book was ingested before the worker could be killed"
            progress = job["progress"]
            return job if job["state"] == "running" and progress["chunks_done"] > 0 else None

        wait_until(mid_ingest, 600, "the book's ingest to be under way")
        before = worker.state()
        # SIGKILL to the worker's main process, as the OOM killer would. (`docker kill` counts as a
        # manual stop, which no restart policy undoes.)
        os.kill(before["Pid"], signal.SIGKILL)
        wait_until(lambda: worker.state()["Running"] and worker.state()["Pid"] != before["Pid"], 120,
                   "the restart policy to start the ingest worker again")
        restarts = int(docker("inspect", "--format", "{{.RestartCount}}", worker.name).stdout)
        assert restarts >= 1
        job = wait_for_job(api, job_id, timeout=1500)
    assert job["state"] == "done", job
    ids = chunk_ids_in(worker, stored("compose-book"), job["document_id"])
    assert len(ids) == len(set(ids)) == job["progress"]["chunks_total"]
    assert sorted(ids) == clean_run_ids(SAMPLES / BOOK, job["document_id"])


def test_down_and_up_keep_collections_and_jobs(stack: ComposeStack) -> None:
    with httpx.Client(base_url=stack.url("api"), timeout=60) as api:
        before = {c: api.get(f"/v1/collections/{c}/documents").json() for c in ("compose", "compose-book")}
    assert all(docs and docs[0]["state"] == "done" for docs in before.values()), before
    stack.save_logs("compose-first-up")
    stack.compose("down", "--timeout", "30")
    assert stack.compose("ps", "-q").stdout.split() == []
    stack.up()
    wait_for_workers(stack)
    with httpx.Client(base_url=stack.url("api"), timeout=60) as api:
        after = {c: api.get(f"/v1/collections/{c}/documents").json() for c in before}
        assert after == before
        for docs in after.values():
            assert api.get(f"/v1/jobs/{docs[0]['job_id']}").json()["state"] == "done"
        answer = api.post("/v1/collections/compose/query", json={"question": QUESTION}).json()
    assert (answer["citations"][0]["filename"], answer["citations"][0]["page"]) == (WORLD, 1)


def test_compose_file_names_the_images_the_suite_built(project_images: dict[str, str]) -> None:
    import yaml

    services = yaml.safe_load(Path(COMPOSE).read_text())["services"]
    named = {services[s]["image"] for s in ("api", "ingest-worker", "query-worker", "default-worker", "flower", "ui", "redis", "chroma")}
    assert named == set(project_images.values())
