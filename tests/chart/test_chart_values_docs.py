"""values.yaml is documented (a `# --` comment on every value, every value in the chart README),
and the dashboards and alert rules the chart ships are well-formed."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from tests.chart.support import CHART, require_module

VALUES = CHART / "values.yaml"
README = CHART / "README.md"
# Maps whose entries are data, not values of their own (documented as a whole).
OPAQUE = {"resources", "livenessProbe", "readinessProbe", "startupProbe", "podSecurityContext",
          "securityContext", "annotations", "labels", "podAnnotations", "podLabels", "nodeSelector",
          "affinity", "ingressControllerNamespaceLabels", "kedaNamespaceLabels", "metricsNamespaceLabels"}


def leaf_paths(values: dict, prefix: str = "") -> list[str]:
    paths = []
    for key, value in values.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict) and value and key not in OPAQUE:
            paths += leaf_paths(value, path)
        else:
            paths.append(path)
    return paths


def undocumented(text: str) -> list[str]:
    """Keys of values.yaml text without a `# --` comment right above them (helm-docs style)."""
    missing, stack, comment = [], [], False
    values = yaml.safe_load(text)
    leaves = set(leaf_paths(values))
    for line in text.splitlines():
        if re.match(r"^\s*# -- ", line):
            comment = True
            continue
        m = re.match(r"^(\s*)([A-Za-z0-9_.-]+):", line)
        if not m or line.lstrip().startswith("#"):
            if line.strip() and not line.lstrip().startswith("#"):
                comment = False  # list items and continuation lines of a documented value
            continue
        depth = len(m.group(1)) // 2
        stack = stack[:depth] + [m.group(2)]
        path = ".".join(stack)
        if path in leaves and not comment:
            missing.append(path)
        comment = False
    return missing


def test_every_value_has_a_comment():
    assert undocumented(VALUES.read_text()) == []


def test_readme_lists_every_value():
    readme = README.read_text()
    missing = [p for p in leaf_paths(yaml.safe_load(VALUES.read_text())) if f"`{p}`" not in readme]
    assert missing == []


def test_schema_covers_every_value():
    schema = json.loads((CHART / "values.schema.json").read_text())

    def lookup(path):
        node = schema
        for part in path.split("."):
            node = node["properties"][part]
        return node

    for path in leaf_paths(yaml.safe_load(VALUES.read_text())):
        assert "type" in lookup(path), path


def dashboard_problems(dashboard: dict) -> list[str]:
    problems = []
    for key in ("uid", "title", "panels"):
        if key not in dashboard:
            problems.append(f"missing {key}")
    panels = list(dashboard.get("panels", []))
    for p in list(panels):
        panels += p.get("panels", [])  # rows
    ids = [p.get("id") for p in panels]
    if len(ids) != len(set(ids)) or None in ids:
        problems.append(f"panel ids not unique: {ids}")
    for p in panels:
        for t in p.get("targets", []):
            if p.get("type") != "row" and not t.get("expr"):
                problems.append(f"panel {p.get('id')} has a target without expr")
    return problems


def dashboards():
    return sorted((CHART / "dashboards").glob("*.json"))


def test_there_is_a_dashboard():
    assert dashboards()


@pytest.mark.parametrize("path", dashboards(), ids=lambda p: p.name)
def test_dashboard_is_well_formed(path):
    assert dashboard_problems(json.loads(path.read_text())) == []


def test_dashboard_uids_are_unique():
    uids = [json.loads(p.read_text())["uid"] for p in dashboards()]
    assert len(uids) == len(set(uids))


def rule_file_problems(doc: dict) -> list[str]:
    prom = require_module("cloudcoil.models.prometheus_operator.v1")
    try:
        prom.PrometheusRuleSpec.model_validate(doc, strict=True)
    except Exception as exc:
        return [str(exc)]
    return [] if doc.get("groups") else ["no groups"]


@pytest.mark.parametrize("path", sorted((CHART / "alerts").glob("*.yaml")), ids=lambda p: p.name)
def test_alert_rule_file_is_well_formed(path):
    assert rule_file_problems(yaml.safe_load(path.read_text())) == []


# --- negative cases -----------------------------------------------------------------------------

def test_missing_comment_is_caught():
    text = VALUES.read_text().replace("  # -- Characters per chunk\n", "")
    assert undocumented(text) == ["config.chunk_size"]


def test_duplicate_panel_ids_are_caught():
    dashboard = json.loads(dashboards()[0].read_text())
    dashboard["panels"].append(dict(dashboard["panels"][0]))
    assert any("not unique" in p for p in dashboard_problems(dashboard))


def test_malformed_rule_file_is_caught():
    # `for: 5` (a number, where Prometheus wants a duration string such as "5m").
    problems = rule_file_problems({"groups": [{"name": "x", "rules": [{"alert": "A", "expr": "up", "for": 5}]}]})
    assert any("for" in p and "valid string" in p for p in problems), problems
