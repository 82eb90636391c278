"""The chart rendered for the local images and installed on Docker (podrunner.py): the fixtures'
building blocks for tests/images/test_chart_pods*.py."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from tests.chart import chartchecks as cc
from tests.chart.support import NAMESPACE, ROOT, Helm
from tests.images import keda
from tests.images.podrunner import RUN_LABEL, Manifests, Pod, PodRunner, docker

ARTIFACTS = ROOT / "test-artifacts"
SAMPLE = "world_population_wikipedia.pdf"
QUESTION = "What is the median age of human beings?"
# Generous bounds for a busy 2-core machine; the probes' own thresholds decide pass or fail first.
READY_TIMEOUT = 300
JOB_TIMEOUT = 300
# The ragline images of values.yaml `image:` (key in project_images -> chart values key).
RAGLINE_IMAGES = {"api": "api", "ingest-worker": "ingestWorker", "query-worker": "queryWorker", "ui": "ui"}


def split_ref(ref: str) -> tuple[str, str]:
    repo, _, tag = ref.rpartition(":")
    if not repo or "/" in tag:
        return ref, "latest"
    return repo, tag


def image_sets(images: dict[str, str]) -> list[str]:
    """--set values pointing the chart at the local images (one tag for the four ragline images, as the
    chart has one `image.tag`; an image with another tag is given a second tag to match)."""
    tag = split_ref(images["api"])[1]
    sets = ["image.registry=", f"image.tag={tag}", "image.pullPolicy=Never"]
    for key, values_key in RAGLINE_IMAGES.items():
        repo, own_tag = split_ref(images[key])
        if own_tag != tag:
            docker("tag", images[key], f"{repo}:{tag}")
        sets.append(f"image.{values_key}.repository={repo}")
    for key in ("redis", "chroma"):
        repo, own_tag = split_ref(images[key])
        sets += [f"{key}.image.repository={repo}", f"{key}.image.tag={own_tag}", f"{key}.image.pullPolicy=Never"]
    return sets


def helm() -> Helm:
    binary = os.environ.get("HELM") or str(ROOT / ".tools" / "bin" / "helm")
    if not Path(binary).exists():
        pytest.fail(f"helm not found at {binary}: run scripts/install-chart-tools.sh", pytrace=False)
    home = ARTIFACTS / "helm-home"
    home.mkdir(parents=True, exist_ok=True)
    return Helm(binary, home)


def render(images: dict[str, str], values: Path, sets: Iterable[str] = (), extra: Iterable[dict] = ()) -> Manifests:
    text = helm().template((values,), (*image_sets(images), *sets))
    return Manifests(yaml.safe_load_all(text), NAMESPACE, extra)


def scaled_object_for(manifests: Manifests, name: str) -> dict | None:
    return next((so for so in manifests.of_kind("ScaledObject") if so["spec"]["scaleTargetRef"]["name"] == name), None)


def initial_replicas(manifests: Manifests, workload: dict) -> int:
    """What runs right after install: a fixed replica count, or KEDA's minReplicaCount (empty queues)."""
    if "replicas" in workload["spec"]:
        return int(workload["spec"]["replicas"])
    so = scaled_object_for(manifests, cc.name(workload))
    assert so is not None, f"{cc.name(workload)} has neither replicas nor a ScaledObject"
    return int(so["spec"].get("minReplicaCount", 0))


def api_url(manifests: Manifests) -> str:
    """The API Service's in-cluster URL in its longest form (the UI pod is given the short one)."""
    svc = next(s for s in manifests.of_kind("Service") if s["metadata"]["labels"].get("app.kubernetes.io/component") == "api")
    return f"http://{svc['metadata']['name']}.{NAMESPACE}.svc.cluster.local:{svc['spec']['ports'][0]['port']}"


class Client:
    """REST calls from a container on the pods' network (restclient.py), to the API by its Service name."""

    def __init__(self, runner: PodRunner, image: str, base_url: str, api_key: str | None = None) -> None:
        self.runner, self.image, self.base_url, self.api_key = runner, image, base_url, api_key

    def run(self, *steps: dict, api_key: str | None = None) -> list[dict]:
        key = api_key if api_key is not None else self.api_key
        proc = docker(
            "run", "--rm", "--network", self.runner.network, "--label", f"{RUN_LABEL}={self.runner.run_id}",
            "--read-only", "--user", "10001:10001", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
            "--mount", f"type=bind,src={Path(__file__).with_name('restclient.py')},dst=/client/restclient.py,readonly",
            # The sample itself: samples/pdfs holds a link to the packaged copy, which would dangle in there.
            "--mount", f"type=bind,src={(ROOT / 'samples' / 'pdfs' / SAMPLE).resolve()},dst=/samples/{SAMPLE},readonly",
            "--entrypoint", "python", self.image, "/client/restclient.py",
            self.base_url, key or "-", json.dumps(list(steps)),
            timeout=JOB_TIMEOUT + 120, check=False,
        )
        assert proc.returncode == 0, f"REST client failed: {proc.stderr[-3000:]}"
        return json.loads(proc.stdout)


class Cluster:
    """A release's pods on Docker, with what the tests do to it."""

    def __init__(self, manifests: Manifests, runner: PodRunner, images: dict[str, str], api_key: str | None) -> None:
        self.m, self.runner, self.images = manifests, runner, images
        self.client = Client(runner, images["api"], api_url(manifests), api_key)

    def workload(self, component: str) -> str:
        return next(cc.name(w) for w in self.m.workloads() if cc.component(w) == component)

    def pod(self, component: str) -> Pod:
        return self.runner.pods_of(self.workload(component))[0]

    def evaluate(self, component: str) -> keda.Decision:
        so = scaled_object_for(self.m, self.workload(component))
        assert so is not None, f"no ScaledObject for {component}"
        return keda.evaluate(self.m, so, self.runner.resolve)

    def scale_to(self, component: str, replicas: int) -> list[Pod]:
        """Start pods until `replicas` run (what the HPA would do), and wait for their probes."""
        name = self.workload(component)
        pods = self.runner.start(name, max(0, replicas - len(self.runner.pods_of(name))))
        self.runner.wait_ready(pods, READY_TIMEOUT)
        return pods


@contextmanager
def installed(manifests: Manifests, images: dict[str, str], workdir: Path, log_name: str,
              api_key: str | None = None) -> Iterator[Cluster]:
    """Every workload at its installed replica count and ready; everything removed afterwards (and
    checked to be gone)."""
    runner = PodRunner(manifests, workdir, ARTIFACTS / "logs" / log_name)
    with runner:
        started = []
        for w in manifests.workloads():
            started += runner.start(cc.name(w), initial_replicas(manifests, w))
        runner.wait_ready(started, READY_TIMEOUT)
        yield Cluster(manifests, runner, images, api_key)
        runner.assert_healthy()
    assert runner.leftovers() == {"containers": [], "volumes": [], "networks": []}


def ingest_from_zero(cluster: Cluster, collections: list[str]) -> list[dict]:
    """Scale from zero, as KEDA would, checked step by step against the real Redis: with no ingest
    worker, one upload per collection is queued and says it waits for a worker; the ingest
    ScaledObject's trigger then asks for ceil(length / listLength) workers (at least one); one is started
    from its pod spec; every job ends done; and the trigger asks for minReplicaCount again. Returns the
    finished jobs."""
    ingest = cluster.workload("ingest-worker")
    so = scaled_object_for(cluster.m, ingest)["spec"]
    trigger = so["triggers"][0]["metadata"]
    assert cluster.runner.pods_of(ingest) == [], "the ingest worker is scaled to zero"
    before = cluster.evaluate("ingest-worker")
    assert (before.active, before.replicas) == (False, so["minReplicaCount"]) == (False, 0), before

    uploads = cluster.client.run(*({"op": "upload", "collection": c, "file": f"/samples/{SAMPLE}"} for c in collections))
    assert [u["status"] for u in uploads] == [202] * len(collections), uploads
    job_ids = [u["body"]["job_id"] for u in uploads]
    jobs = cluster.client.run(*({"op": "get", "path": f"/v1/jobs/{j}"} for j in job_ids))
    assert [(j["body"]["state"], j["body"]["waiting_for_worker"]) for j in jobs] == [("queued", True)] * len(jobs), jobs

    woken = cluster.evaluate("ingest-worker")
    length = woken.lengths[trigger["listName"]]
    assert length >= len(collections) and woken.active, woken
    assert woken.replicas == min(max(math.ceil(length / int(trigger["listLength"])), 1), so["maxReplicaCount"]), woken

    # The HPA would start woken.replicas pods; one shows that the pod spec works from zero.
    cluster.scale_to("ingest-worker", 1)
    [done] = cluster.client.run({"op": "wait_jobs", "ids": job_ids, "timeout": JOB_TIMEOUT})
    assert [(j["state"], j["error"]) for j in done["jobs"]] == [("done", None)] * len(job_ids), done
    assert all(j["progress"]["chunks_total"] > 0 and not j["waiting_for_worker"] for j in done["jobs"]), done

    drained = cluster.evaluate("ingest-worker")
    assert (drained.active, drained.replicas) == (False, so["minReplicaCount"]), drained
    cluster.runner.assert_healthy()
    return done["jobs"]


def ask(cluster: Cluster, collection: str) -> dict:
    """QUESTION about SAMPLE, answered from `collection` with a citation of the sample."""
    [answer] = cluster.client.run({"op": "query", "collection": collection, "question": QUESTION})
    assert answer["status"] == 200, answer
    body = answer["body"]
    assert body["grounded"] is True, body
    assert body["citations"] and body["citations"][0]["filename"] == SAMPLE and body["citations"][0]["page"] >= 1, body
    assert "31" in body["answer"], body
    return body
