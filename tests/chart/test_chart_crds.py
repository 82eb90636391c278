"""KEDA and prometheus-operator objects against pydantic models generated from their CRDs.

`model_validate(strict=True)` refuses wrong types (a numeric listLength); the models ignore unknown
fields, so each object must also survive a round trip unchanged (an unknown field would vanish).
"""

from __future__ import annotations

import copy

import pytest

from tests.chart.support import CI_VALUES, require_module


def models() -> dict[str, type]:
    keda = require_module("cloudcoil.models.keda.v1alpha1")
    prom = require_module("cloudcoil.models.prometheus_operator.v1")
    return {
        "ScaledObject": keda.ScaledObject,
        "TriggerAuthentication": keda.TriggerAuthentication,
        "ServiceMonitor": prom.ServiceMonitor,
        "PrometheusRule": prom.PrometheusRule,
    }


def crd_problems(docs: list[dict]) -> list[str]:
    problems = []
    by_kind = models()
    for doc in docs:
        model = by_kind.get(doc["kind"])
        if model is None:
            continue
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        try:
            obj = model.model_validate(doc, strict=True)
        except Exception as exc:  # pydantic.ValidationError
            problems.append(f"{where}: {exc}")
            continue
        again = obj.model_dump(mode="json", by_alias=True, exclude_unset=True)
        if again != doc:
            problems.append(f"{where}: fields the CRD does not know were dropped: {_diff(doc, again)}")
    return problems


def _diff(a, b, path=""):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in a:
            if k not in b:
                return f"{path}.{k}"
            if a[k] != b[k]:
                return _diff(a[k], b[k], f"{path}.{k}")
    if isinstance(a, list) and isinstance(b, list):
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return _diff(x, y, f"{path}[{i}]")
    return path or "(root)"


@pytest.mark.parametrize("values", CI_VALUES, ids=lambda p: p.name)
def test_crd_objects_validate(rendered, values):
    assert crd_problems(rendered[values.name]) == []


def test_every_crd_kind_is_covered(rendered):
    kinds = {d["kind"] for docs in rendered.values() for d in docs if "." in d["apiVersion"].split("/")[0]}
    kinds -= {"Ingress", "NetworkPolicy", "PodDisruptionBudget", "Deployment", "StatefulSet"}
    assert kinds <= set(models()), kinds - set(models())
    assert {"ScaledObject", "TriggerAuthentication", "ServiceMonitor", "PrometheusRule"} <= kinds


def test_numeric_list_length_is_caught(default_docs):
    docs = copy.deepcopy(default_docs)
    so = next(d for d in docs if d["kind"] == "ScaledObject")
    so["spec"]["triggers"][0]["metadata"]["listLength"] = 5
    problems = crd_problems(docs)
    assert any("listLength" in p and "valid string" in p for p in problems), problems


def test_unknown_crd_field_is_caught(rendered):
    docs = copy.deepcopy(rendered["observability-values.yaml"])
    sm = next(d for d in docs if d["kind"] == "ServiceMonitor")
    sm["spec"]["endpoints"][0]["intervall"] = "30s"
    problems = crd_problems(docs)
    assert any("intervall" in p for p in problems), problems
