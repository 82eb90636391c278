"""Rendered manifests against the real Kubernetes 1.31 JSON schemas (kubernetes-validate --strict).

CRD kinds have no schema there (the tool only warns about them): test_chart_crds.py checks them
with models generated from the CRDs. Any other kind without a schema is an error here, because a
typo in an apiVersion would otherwise pass as a mere warning.
"""

from __future__ import annotations

import copy

import pytest
import yaml

from tests.chart.chartchecks import CRD_KINDS
from tests.chart.support import CI_VALUES, KUBE_VERSION, run, tool


def kubernetes_validate(docs: list[dict], path) -> tuple[int, str]:
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    proc = run([tool("kubernetes-validate"), "--strict", "-k", KUBE_VERSION, "--quiet", str(path)])
    out = proc.stdout + proc.stderr
    unexpected_warnings = [
        line for line in out.splitlines()
        if line.startswith("WARN") and not any(f"kind {k} " in line for k in CRD_KINDS)
    ]
    rc = proc.returncode or (3 if unexpected_warnings else 0)
    return rc, out


@pytest.mark.parametrize("values", CI_VALUES, ids=lambda p: p.name)
def test_manifests_match_kubernetes_schemas(rendered, values, tmp_path):
    rc, out = kubernetes_validate(rendered[values.name], tmp_path / "manifests.yaml")
    assert rc == 0, out


def test_schema_violations_are_caught(default_docs, tmp_path):
    docs = copy.deepcopy(default_docs)
    api = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"].endswith("-api"))
    api["spec"]["replicas"] = "2"  # a string where an integer belongs
    rc, out = kubernetes_validate(docs, tmp_path / "bad-type.yaml")
    assert rc != 0 and "replicas" in out, out

    docs = copy.deepcopy(default_docs)
    api = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"].endswith("-api"))
    api["spec"]["template"]["spec"]["containers"][0]["imagee"] = "typo"  # unknown field (strict)
    rc, out = kubernetes_validate(docs, tmp_path / "bad-field.yaml")
    assert rc != 0 and "imagee" in out, out


def test_unknown_core_api_version_is_caught(default_docs, tmp_path):
    docs = copy.deepcopy(default_docs)
    pdb = next(d for d in docs if d["kind"] == "PodDisruptionBudget")
    pdb["apiVersion"] = "policy/v1beta1"  # removed in Kubernetes 1.25
    rc, out = kubernetes_validate(docs, tmp_path / "old-api.yaml")
    assert rc != 0, out
