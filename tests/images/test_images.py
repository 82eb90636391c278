"""Each image runs its own CMD, hardened as the chart and docker-compose.yml run it (read-only root,
uid 10001, no capabilities), against the Redis and Chroma images on a Docker network."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

import ragline
from ragline.stores import keys
from tests.conftest import SAMPLES, stored, upload, wait_for_job, wait_until
from tests.faults.conftest import clean_run_ids
from tests.images.conftest import ARTIFACTS, HARDENED, SIZE_LIMITS, Container, Network, docker, wait_http

FLOWER_PASSWORD = "images-suite"
QUESTION = "What is the median age of human beings?"
WORLD = "world_population_wikipedia.pdf"


@pytest.fixture(scope="module")
def stack(project_images: dict[str, str]) -> Iterator[SimpleNamespace]:
    """Redis, Chroma, the API, both workers, the UI and Flower, each from its image, with the image's CMD
    (Flower: the chart's command on the query-worker image)."""
    with Network() as net:
        redis = net.run(project_images["redis"], name="redis")
        chroma = net.run(project_images["chroma"], name="chroma", options=("--user", "10001:10001", "--read-only", "--tmpfs", "/tmp"))
        data = net.volume("data")
        env = {"RAGLINE_REDIS_URL": "redis://redis:6379/0", "RAGLINE_CHROMA_URL": "http://chroma:8000", "RAGLINE_DATA_DIR": "/data"}
        shared = (*HARDENED, "-v", f"{data}:/data")
        api = net.run(project_images["api"], name="api", env=env, publish=8000, options=shared)
        ingest = net.run(project_images["ingest-worker"], name="ingest-worker", env=env, options=shared)
        query = net.run(project_images["query-worker"], name="query-worker", env=env, options=shared)
        ui = net.run(project_images["ui"], name="ui", env={"RAGLINE_API_URL": "http://api:8000"}, publish=7860, options=HARDENED)
        flower = net.run(
            project_images["query-worker"], "celery", "-A", "ragline.worker.default", "flower", "--port=5555",
            "--address=0.0.0.0", f"--basic-auth=admin:{FLOWER_PASSWORD}", name="flower", env=env, publish=5555, options=HARDENED,
        )
        ns = SimpleNamespace(net=net, redis=redis, chroma=chroma, api=api, ingest=ingest, query=query, ui=ui, flower=flower)
        try:
            yield ns
        finally:
            _save_logs("images", ns)


def _save_logs(prefix: str, ns: SimpleNamespace) -> None:
    logs = ARTIFACTS / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for name, container in vars(ns).items():
        if isinstance(container, Container):
            (logs / f"{prefix}-{name}.log").write_text(container.logs())


def registered_workers(redis: Container, queue: str) -> list[str]:
    """The worker instances that announced themselves on `queue` (the key the API's admission reads)."""
    return redis.exec("redis-cli", "ZRANGE", keys.workers(queue), "0", "-1").stdout.split()


def test_api_answers_liveness_and_readiness(stack: SimpleNamespace) -> None:
    assert wait_http(f"{stack.api.url}/healthz", 120, "the API", stack.api).json() == {"status": "ok"}
    ready = wait_http(f"{stack.api.url}/readyz", 120, "the API's readiness", stack.api).json()
    assert ready["status"] == "ready", ready


@pytest.mark.parametrize("queue", ["ingest", "query"])
def test_workers_register_with_redis(stack: SimpleNamespace, queue: str) -> None:
    worker = stack.ingest if queue == "ingest" else stack.query
    try:
        members = wait_until(lambda: registered_workers(stack.redis, queue), 180, f"a {queue} worker heartbeat")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{worker.logs()[-4000:]}") from None
    assert all(member.startswith("celery@") for member in members), members
    # The Celery main process answers a broker ping from inside its own image.
    ping = worker.exec("celery", "-A", f"ragline.worker.{queue}", "inspect", "ping", "--timeout", "10")
    assert "pong" in ping.stdout, ping.stdout + ping.stderr


def test_workers_take_an_ingest_and_a_query(stack: SimpleNamespace) -> None:
    wait_until(lambda: registered_workers(stack.redis, "ingest") and registered_workers(stack.redis, "query"), 180, "both workers")
    with httpx.Client(base_url=stack.api.url, timeout=60) as api:
        wait_http(f"{stack.api.url}/readyz", 120, "the API's readiness", stack.api)
        response = upload(api, "images", WORLD, (SAMPLES / WORLD).read_bytes())
        assert response.status_code == 202, response.text
        job = wait_for_job(api, response.json()["job_id"], timeout=300)
        assert job["state"] == "done", (job, stack.ingest.logs()[-4000:])
        answer = api.post("/v1/collections/images/query", json={"question": QUESTION}).json()
    assert answer["grounded"] is True, answer
    assert (answer["citations"][0]["filename"], answer["citations"][0]["page"]) == (WORLD, 1)
    # The image's PDF reading (PyMuPDF without its layout add-ons) splits exactly as the tests' venv does.
    assert sorted(chunk_ids_in(stack.ingest, stored("images"), job["document_id"])) == clean_run_ids(SAMPLES / WORLD, job["document_id"])


def chunk_ids_in(container: Container, collection: str, document_id: str, chroma_url: str = "http://chroma:8000") -> list[str]:
    """The chunk ids Chroma holds for one document, asked from inside a worker container."""
    script = (
        "import json, sys; from ragline.stores.vectors import VectorIndex; "
        f"print(json.dumps(VectorIndex({chroma_url!r}).chunk_ids({collection!r}, {document_id!r})))"
    )
    return json.loads(container.exec("python", "-c", script).stdout.strip().splitlines()[-1])


def test_ui_serves_its_page(stack: SimpleNamespace) -> None:
    wait_http(f"{stack.ui.url}/healthz", 180, "the UI", stack.ui)
    page = httpx.get(f"{stack.ui.url}/", timeout=30, follow_redirects=True)
    assert page.status_code == 200
    assert "gradio" in page.text.lower()


def test_flower_asks_for_its_password(stack: SimpleNamespace) -> None:
    wait_http(f"{stack.flower.url}/", 180, "Flower", stack.flower, status=401)
    assert httpx.get(f"{stack.flower.url}/", auth=("admin", "wrong"), timeout=10).status_code == 401
    assert httpx.get(f"{stack.flower.url}/", auth=("admin", FLOWER_PASSWORD), timeout=10).status_code == 200


@pytest.mark.parametrize("image", ["api", "ingest-worker", "query-worker", "ui"])
def test_image_ships_the_real_package(project_images: dict[str, str], image: str) -> None:
    """Not the empty stub the dependency layer installs: the version, and a module of the service."""
    module = {"api": "ragline.api.app", "ui": "ragline.ui.app"}.get(image, "ragline.worker.ingest")
    script = f"import ragline, {module}; print(ragline.__version__)"
    out = docker("run", "--rm", *HARDENED, "--entrypoint", "python", project_images[image], "-c", script).stdout
    assert out.strip().splitlines()[-1] == ragline.__version__


@pytest.mark.parametrize("image", ["ingest-worker", "query-worker"])
def test_worker_images_run_onnx_without_torch(project_images: dict[str, str], image: str) -> None:
    script = (
        "import importlib.util as u, os, pathlib; "
        "print([m for m in ('torch', 'transformers', 'sentence_transformers', 'kubernetes') if u.find_spec(m)]); "
        "print(os.environ['RAGLINE_LOCAL_EMBEDDING_RUNTIME']); "
        "print(sorted(p.name for p in pathlib.Path(os.environ['RAGLINE_MODEL_CACHE_DIR']).glob('*.int8.onnx')))"
    )
    lines = docker("run", "--rm", *HARDENED, "--entrypoint", "python", project_images[image], "-c", script).stdout.splitlines()
    assert lines[-3:-1] == ["[]", "onnx-int8"]
    assert "int8.onnx" in lines[-1]


def image_size(tag: str) -> int:
    return int(docker("image", "inspect", "--format", "{{.Size}}", tag).stdout)


def test_image_sizes(project_images: dict[str, str]) -> None:
    """Print (and keep in test-artifacts/image-sizes.md) the table docs/deploy.md records; hold each
    image to its target."""
    rows = [(name, tag, image_size(tag)) for name, tag in project_images.items()]
    table = ["| Image | Size | Target |", "|---|---|---|"]
    table += [
        f"| `{tag}` | {size / 1e6:.0f} MB | {f'{SIZE_LIMITS[name] / 1e6:.0f} MB' if name in SIZE_LIMITS else 'stand-in'} |"
        for name, tag, size in rows
    ]
    text = "\n".join(table)
    print("\n" + text)
    ARTIFACTS.mkdir(exist_ok=True)
    Path(ARTIFACTS / "image-sizes.md").write_text(text + "\n")
    over = {name: size for name, _, size in rows if name in SIZE_LIMITS and size > SIZE_LIMITS[name]}
    assert over == {}, f"images over their size targets: {over}"
