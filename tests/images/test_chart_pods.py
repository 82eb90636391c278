"""The chart's pods on real containers: `helm template` with the locally built images, then every
Deployment and StatefulSet pod started on Docker exactly as its pod spec says (tests/images/podrunner.py:
image, command/args, env from values, Secrets and ConfigMaps, user/group/fsGroup, read-only root,
capabilities dropped, no privilege escalation, emptyDir tmpfs and PVC volumes, CPU/memory limits,
Service names on one network), probed the way the kubelet probes (startup, liveness, readiness), and
driven over REST from a container on that network through the API Service's name.

Scale from zero is checked against the real Redis: with no ingest worker, uploads are queued (202,
`waiting_for_worker`), the rendered ScaledObject's redis trigger is evaluated as KEDA's scaler does
(tests/images/keda.py), the ingest worker is started from its pod spec because the evaluation asks for
one, every job ends `done`, and the evaluation asks for minReplicaCount once the queue has drained.

Not covered, because no Kubernetes can run here: scheduling (node selectors, tolerations, affinity,
spread, GPUs), kube-proxy (Docker's DNS answers with every pod of a Service), the Ingress controller
and the Ingress objects, NetworkPolicy enforcement, KEDA and the HPA themselves (their arithmetic is
evaluated, not their control loop or cooldown), PodDisruptionBudgets, ServiceMonitors and the
PrometheusRule, rolling updates, image pulls. tests/chart checks those objects offline.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chart import chartchecks as cc
from tests.images import keda
from tests.images.chartcluster import (
    JOB_TIMEOUT,
    READY_TIMEOUT,
    ROOT,
    SAMPLE,
    Cluster,
    ask,
    ingest_from_zero,
    initial_replicas,
    installed,
    render,
    scaled_object_for,
)
from tests.images.podrunner import PodRunner, docker

# A cold image build (the project_images fixture) can take many minutes before the first test.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]

DEFAULT_VALUES = ROOT / "ci" / "default-values.yaml"


@pytest.fixture(scope="module")
def default_cluster(project_images: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The chart with ci/default-values.yaml: every pod at its installed replica count, ready."""
    manifests = render(project_images, DEFAULT_VALUES)
    with installed(manifests, project_images, tmp_path_factory.mktemp("pods"), "chart-pods-default") as cluster:
        yield cluster


def test_every_pod_runs_as_its_spec_says_and_passes_its_probes(default_cluster: Cluster) -> None:
    cluster, runner = default_cluster, default_cluster.runner
    expected = {cc.name(w) for w in cluster.m.workloads() if initial_replicas(cluster.m, w) > 0}
    assert {p.workload["metadata"]["name"] for p in runner.pods} == expected
    # The api runs its two replicas; both answer behind the one Service name.
    api = cluster.workload("api")
    assert len(runner.pods_of(api)) == cluster.m.workload(api)["spec"]["replicas"] == 2
    for pod in runner.pods:
        for c in pod.containers:
            sc = {**(pod.spec.get("securityContext") or {}), **(c.spec.get("securityContext") or {})}
            # What the container really got from the engine, not what was asked for.
            ids = docker("exec", c.docker_name, "sh", "-c", "id -u; id -G; touch /written-to-root 2>&1; echo $?").stdout.split("\n")
            assert ids[0] == str(sc["runAsUser"]), (pod.name, ids)
            assert str(pod.spec["securityContext"]["fsGroup"]) in ids[1].split(), (pod.name, ids)
            assert "Read-only file system" in ids[2], (pod.name, ids)
            status = docker("exec", c.docker_name, "sh", "-c", "grep -E '^(CapEff|NoNewPrivs)' /proc/1/status").stdout
            assert "CapEff:\t0000000000000000" in status and "NoNewPrivs:\t1" in status, (pod.name, status)
            writable = [m["mountPath"] for m in c.spec.get("volumeMounts", []) if not m.get("readOnly")]
            for path in writable:
                probe = docker("exec", c.docker_name, "sh", "-c", f"touch {path}/.podcheck && rm {path}/.podcheck", check=False)
                assert probe.returncode == 0, f"{pod.name}: {path} is not writable: {probe.stderr}"
    # The UI pod reaches the API through the URL its own environment gives it.
    ui = cluster.pod("ui")
    reach = docker("exec", ui.containers[0].docker_name, "python", "-c",
                   "import os, urllib.request; print(urllib.request.urlopen(os.environ['RAGLINE_API_URL'] + '/healthz', timeout=10).status)",
                   check=False)
    assert reach.stdout.strip() == "200", reach.stderr
    runner.assert_healthy()


def test_ingest_scales_from_zero_on_its_queue(default_cluster: Cluster) -> None:
    jobs = ingest_from_zero(default_cluster, [f"zero-{i}" for i in range(5)])
    assert len({j["job_id"] for j in jobs}) == 5


def test_upload_then_cited_answer_through_the_api_service(default_cluster: Cluster) -> None:
    cluster = default_cluster
    cluster.scale_to("ingest-worker", 1)
    [uploaded] = cluster.client.run({"op": "upload", "collection": "pods", "file": f"/samples/{SAMPLE}"})
    assert uploaded["status"] == 202, uploaded
    [done] = cluster.client.run({"op": "wait_jobs", "ids": [uploaded["body"]["job_id"]], "timeout": JOB_TIMEOUT})
    assert done["jobs"][0]["state"] == "done", done
    # The ingest worker kept the original on the blob claim; the api pod serves it from the same claim.
    document_id = done["jobs"][0]["document_id"]
    [original] = cluster.client.run({"op": "download", "path": f"/v1/collections/pods/documents/{document_id}/file"})
    assert (original["status"], original["sha256"]) == (200, document_id), original
    ask(cluster, "pods")
    cluster.runner.assert_healthy()


def test_worker_kinds_at_zero_start_from_their_pod_spec(default_cluster: Cluster) -> None:
    """Kinds nobody has woken yet (the default worker) still start and pass their probes."""
    cluster, runner = default_cluster, default_cluster.runner
    idle = [cc.name(w) for w in cluster.m.workloads() if not runner.pods_of(cc.name(w))]
    assert idle, "every kind already runs"
    for name in idle:
        so = scaled_object_for(cluster.m, name)
        assert so is not None and keda.evaluate(cluster.m, so, runner.resolve).replicas == 0
        runner.wait_ready(runner.start(name, 1), READY_TIMEOUT)
    runner.assert_healthy()


def test_teardown_leaves_nothing_behind(project_images: dict[str, str], tmp_path: Path) -> None:
    """A failing start still removes its network, containers and volumes."""
    manifests = render(project_images, DEFAULT_VALUES)
    runner = PodRunner(manifests, tmp_path)
    with pytest.raises(subprocess.CalledProcessError), runner:
        runner.start(cc.name(manifests.of_kind("StatefulSet")[0]), 1)
        assert runner.leftovers()["containers"], "a pod was started"
        raise subprocess.CalledProcessError(1, "simulated failure")
    assert runner.leftovers() == {"containers": [], "volumes": [], "networks": []}
