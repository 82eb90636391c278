"""ingestWorker.gpu: the ingest pods on GPU nodes (CUDA image, torch on cuda, a GPU limit, GPU node
selector and tolerations), and nothing of it unless enabled.

No GPU node can be had here: these check the rendered manifests only (docs/deploy.md, "GPU ingest workers").
"""

from __future__ import annotations

import copy

import pytest

from tests.chart import chartchecks as cc
from tests.chart.support import ROOT

GPU_VALUES = ROOT / "ci" / "gpu-values.yaml"
GPU_ENV = {"RAGLINE_LOCAL_EMBEDDING_RUNTIME": "torch", "RAGLINE_EMBEDDING_DEVICE": "cuda"}


def pod(docs: list[dict], component: str) -> dict:
    return next(w for w in cc.workloads(docs).values() if cc.component(w) == component)["spec"]["template"]["spec"]


def gpu_parts(docs: list[dict]) -> dict[str, list[str]]:
    """What of the GPU setup each workload carries (empty lists: none)."""
    found: dict[str, list[str]] = {}
    for w in cc.workloads(docs).values():
        spec = w["spec"]["template"]["spec"]
        parts = []
        for c in cc.containers(w):
            if any(k.startswith("nvidia.com/") for k in (c.get("resources") or {}).get("limits", {})):
                parts.append("gpu limit")
            env = cc.resolved_env(c)
            parts += [f"env {k}" for k in GPU_ENV if k in env]
            if cc.image_repo(c["image"]).endswith("-cuda"):
                parts.append("cuda image")
        if any(k.startswith("nvidia.com/") for k in spec.get("nodeSelector", {})):
            parts.append("gpu node selector")
        if any(t.get("key", "").startswith("nvidia.com/") for t in spec.get("tolerations", [])):
            parts.append("gpu toleration")
        found[cc.component(w)] = parts
    return found


def test_nothing_of_the_gpu_setup_is_rendered_by_default(default_docs):
    assert {comp: parts for comp, parts in gpu_parts(default_docs).items() if parts} == {}


def test_gpu_values_put_only_the_ingest_worker_on_a_gpu(helm):
    docs = helm.render((GPU_VALUES,))
    parts = gpu_parts(docs)
    assert sorted(parts["ingest-worker"]) == sorted(
        ["gpu limit", "cuda image", "gpu node selector", "gpu toleration", *(f"env {k}" for k in GPU_ENV)]
    )
    assert {comp: p for comp, p in parts.items() if p and comp != "ingest-worker"} == {}

    spec = pod(docs, "ingest-worker")
    worker = spec["containers"][0]
    assert worker["image"] == "ragline-ingest-worker-cuda:0.1.0-cuda12"
    assert worker["resources"]["limits"]["nvidia.com/gpu"] == 1
    # The CPU and memory settings stay as they were, the GPU is added to them.
    assert worker["resources"]["limits"]["memory"] == "3Gi"
    assert worker["resources"]["requests"] == {"cpu": "1", "memory": "1536Mi"}
    # The values file's own node selector is kept beside the GPU label.
    assert spec["nodeSelector"] == {"cloud.google.com/gke-nodepool": "gpu-pool", "nvidia.com/gpu.present": "true"}
    assert spec["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    env = cc.resolved_env(worker)
    assert {k: env[k] for k in GPU_ENV} == GPU_ENV


def test_gpu_count_resource_name_registry_and_tag_follow_the_values(helm):
    docs = helm.render((), (
        "ingestWorker.gpu.enabled=true", "ingestWorker.gpu.count=2", "ingestWorker.gpu.resourceName=amd.com/gpu",
        "image.registry=registry.example.com/ragline", "image.tag=0.2.0",
        "ingestWorker.tolerations[0].key=dedicated", "ingestWorker.tolerations[0].operator=Exists",
    ))
    spec = pod(docs, "ingest-worker")
    worker = spec["containers"][0]
    assert worker["image"] == "registry.example.com/ragline/ragline-ingest-worker-cuda:0.2.0"
    assert worker["resources"]["limits"]["amd.com/gpu"] == 2
    assert "nvidia.com/gpu" not in worker["resources"]["limits"]
    assert [t["key"] for t in spec["tolerations"]] == ["dedicated", "nvidia.com/gpu"]


def test_a_kind_without_a_gpu_block_is_untouched_by_it(helm):
    docs = helm.render((), ("ingestWorker.gpu.enabled=true",))
    for comp in ("query-worker", "default-worker"):
        worker = pod(docs, comp)["containers"][0]
        assert "RAGLINE_EMBEDDING_DEVICE" not in cc.resolved_env(worker)
        assert "-cuda" not in worker["image"]


@pytest.mark.parametrize("bad", ["ingestWorker.gpu.count=0", "ingestWorker.gpu.typo=true",
                                 "queryWorker.gpu.enabled=true", "ingestWorker.gpu.image.repository="])
def test_schema_refuses_bad_gpu_values(helm, bad):
    proc = helm(*helm.template_args((), (bad,)))
    assert proc.returncode != 0
    assert "schema" in proc.stderr.lower(), proc.stderr


def test_gpu_parts_notices_a_gpu_limit_on_another_kind(default_docs):
    # The detector itself must see a GPU where there is one, or the tests above prove nothing.
    docs = copy.deepcopy(default_docs)
    worker = pod(docs, "query-worker")["containers"][0]
    worker.setdefault("resources", {}).setdefault("limits", {})["nvidia.com/gpu"] = 1
    assert gpu_parts(docs)["query-worker"] == ["gpu limit"]
