"""The chart's dashboards and alert rules against the live stack: every metric they name is exposed, and every
panel's query returns data from the real Prometheus that scraped the traffic."""

from __future__ import annotations

import json
import math
import re
import time
from pathlib import Path

import httpx
import pytest
import yaml

from ragline.localstack import LocalStack
from tests.conftest import REPO
from tests.conftest import scrape
from tests.observability.conftest import Traffic

DASHBOARDS = sorted((REPO / "charts" / "rag" / "dashboards").glob("*.json"))
ALERT_FILES = sorted((REPO / "charts" / "rag" / "alerts").glob("*.yaml"))
# Grafana variables, as the local Prometheus labels its targets; the window covers the whole session.
VARIABLES = {"$namespace": "local", "$__rate_interval": "30m"}
# Series Prometheus makes itself for every target.
PROMETHEUS_OWN = {"up"}
PROMQL_WORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}


def _panels(dashboard: Path) -> list[dict]:
    return json.loads(dashboard.read_text())["panels"]


def _panel_queries() -> list[tuple[str, str]]:
    return [
        (f"{dashboard.stem}: {panel['title']} [{target['refId']}]", target["expr"])
        for dashboard in DASHBOARDS
        for panel in _panels(dashboard)
        for target in panel["targets"]
    ]


def _rules() -> list[dict]:
    return [rule for path in ALERT_FILES for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"]]


def metric_names(expr: str) -> set[str]:
    """The series names a PromQL expression selects: what is left without strings, label matchers,
    ranges, grouping clauses, function names and keywords."""
    text = re.sub(r'"(?:\\.|[^"\\])*"', "", expr)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    tokens = re.findall(r"(?<![\w:.])[A-Za-z_:][\w:]*(?![\w:])(?!\s*\()", text)
    return {token for token in tokens if token.lower() not in PROMQL_WORDS}


def test_metric_names_are_read_from_promql() -> None:
    expr = 'sum by (le) (rate(a_bucket{x="y"}[5m])) / on (z) b:rate1h > 0.5 and c unless histogram_quantile(0.9, d)'
    assert metric_names(expr) == {"a_bucket", "b:rate1h", "c", "d"}


def test_dashboards_are_well_formed() -> None:
    assert {path.name for path in DASHBOARDS} >= {"overview.json", "ingest.json", "query.json"}
    uids = [json.loads(path.read_text())["uid"] for path in DASHBOARDS]
    assert len(uids) == len(set(uids))
    for dashboard in DASHBOARDS:
        content = json.loads(dashboard.read_text())
        ids = [panel["id"] for panel in content["panels"]]
        assert len(ids) == len(set(ids)), f"{dashboard.name}: panel ids repeat"
        assert {variable["name"] for variable in content["templating"]["list"]} == {"datasource", "namespace"}
        for panel in content["panels"]:
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24, (dashboard.name, panel["title"])
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert panel["targets"] and all('namespace="$namespace"' in target["expr"] for target in panel["targets"])


def test_every_metric_a_dashboard_or_alert_uses_is_exposed(stack: LocalStack, traffic: Traffic) -> None:
    exposed = PROMETHEUS_OWN | {sample.name for url in stack.metrics_urls().values() for sample in scrape(url)}
    recorded = {rule["record"] for rule in _rules() if "record" in rule}
    used = {name for _, expr in _panel_queries() for name in metric_names(expr)}
    used |= {name for rule in _rules() for name in metric_names(rule["expr"])}
    assert used - recorded - exposed == set()
    assert recorded <= used, "a recording rule nothing reads"


def test_every_panel_shows_data_from_the_real_prometheus(stack: LocalStack, traffic: Traffic) -> None:
    assert stack.prometheus_url is not None
    pending = dict(_panel_queries())
    deadline = time.monotonic() + 90
    while pending and time.monotonic() < deadline:
        for title, expr in list(pending.items()):
            if _finite_result(stack.prometheus_url, expr):
                del pending[title]
        time.sleep(1)
    assert pending == {}, "panels without data"


@pytest.mark.parametrize("name", ["ragline:query_slow_ratio:rate30m", "ragline:query_slow_ratio:rate1h"])
def test_recording_rules_evaluate_on_live_data(stack: LocalStack, traffic: Traffic, name: str) -> None:
    """The SLO's slow-question ratio, computed by the rule's own expression on the real scrape."""
    assert stack.prometheus_url is not None
    expr = next(rule["expr"] for rule in _rules() if rule.get("record") == name)
    deadline = time.monotonic() + 60
    while not (result := _finite_result(stack.prometheus_url, expr)) and time.monotonic() < deadline:
        time.sleep(1)
    assert len(result) == 1 and 0.0 <= result[0] <= 1.0


def _finite_result(prometheus_url: str, expr: str) -> list[float]:
    for variable, replacement in VARIABLES.items():
        expr = expr.replace(variable, replacement)
    response = httpx.get(f"{prometheus_url}/api/v1/query", params={"query": expr}, timeout=10)
    assert response.status_code == 200, (expr, response.text)
    values = [float(sample["value"][1]) for sample in response.json()["data"]["result"]]
    return [number for number in values if math.isfinite(number)]
