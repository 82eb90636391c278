"""The chart against the application it deploys: probe paths, settings, Celery apps and queues.

Reads the real ragline package: the API's OpenAPI paths, `ragline.config.Settings`, the queue names.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import sys

import pytest

from tests.chart import chartchecks as cc
from tests.chart.support import CI_VALUES, ROOT, run

@pytest.fixture(scope="module")
def settings_cls():
    from ragline.config import Settings

    return Settings


@pytest.fixture(scope="module")
def app_paths() -> set[str]:
    """GET paths of the API: from the app's OpenAPI schema, else read from src/ragline/api."""
    try:
        from ragline.api.app import create_app
    except ImportError:
        paths = set()
        for py in (ROOT / "src" / "ragline" / "api").rglob("*.py"):
            paths |= set(re.findall(r"\.get\(\s*[\"']([^\"']+)[\"']", py.read_text()))
        assert paths, "no GET route found in src/ragline/api"
        return paths
    schema = create_app().openapi()
    return {p for p, ops in schema["paths"].items() if "get" in ops}


# Builds the UI's FastAPI app (Gradio mounted under /ui) without serving it, in its own process:
# importing Gradio leaves sockets and threads behind that this test session should not inherit.
UI_ROUTES = """
import json
from ragline.ui.app import UiConfig, create_app
app = create_app(UiConfig("http://127.0.0.1:9", root_path="/ui"))
print(json.dumps([[r.path, sorted(getattr(r, "methods", None) or [])] for r in app.routes]))
"""


@pytest.fixture(scope="module")
def ui_paths() -> set[str]:
    """GET paths of the UI app, as built by `ragline ui --root-path /ui`."""
    proc = run([sys.executable, "-c", UI_ROUTES], timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    routes = json.loads(proc.stdout.splitlines()[-1])
    return {path for path, methods in routes if "GET" in methods}


@pytest.fixture(scope="module")
def served(app_paths, ui_paths) -> dict[str, set[str]]:
    return {"api": app_paths, "ui": ui_paths}


@pytest.fixture(scope="module")
def ui_env_names() -> set[str]:
    """What `ragline ui` reads besides Settings: its options' environment names."""
    from ragline.cli import app

    return cc.command_env_names(app, "ui")


def test_app_serves_the_health_paths(app_paths):
    assert {"/healthz", "/readyz"} <= app_paths


def test_ui_serves_healthz_outside_its_root_path(ui_paths):
    assert "/healthz" in ui_paths


def test_ui_command_reads_the_names_the_chart_sets(ui_env_names):
    assert {"RAGLINE_API_URL", "RAGLINE_API_KEY", "RAGLINE_UI_ROOT_PATH"} <= ui_env_names


@pytest.mark.parametrize("values", CI_VALUES, ids=lambda p: p.name)
def test_probe_paths_exist(rendered, values, served):
    assert cc.check_probe_paths(rendered[values.name], served) == []


@pytest.mark.parametrize("values", CI_VALUES, ids=lambda p: p.name)
def test_env_names_are_read_by_the_processes(rendered, values, settings_cls, ui_env_names):
    known = cc.settings_env_names(settings_cls)
    assert cc.check_env_names(rendered[values.name], known, {"ui": ui_env_names}) == []


def test_ui_env_is_checked_against_the_ui_command(helm, settings_cls, ui_env_names):
    docs = helm.render((), ("ui.apiKey.existingSecret=ragline-ui-key",))
    env = {e["name"] for e in container_of(docs, "-ui")["env"]}
    assert {"RAGLINE_API_URL", "RAGLINE_API_KEY", "RAGLINE_UI_ROOT_PATH", "RAGLINE_MAX_UPLOAD_BYTES"} <= env
    assert cc.check_env_names(docs, cc.settings_env_names(settings_cls), {"ui": ui_env_names}) == []
    assert cc.check_env_parses(docs, settings_cls) == []


@pytest.mark.parametrize("values", CI_VALUES, ids=lambda p: p.name)
def test_settings_accept_the_rendered_env(rendered, values, settings_cls):
    assert cc.check_env_parses(rendered[values.name], settings_cls) == []


@pytest.mark.parametrize("values", CI_VALUES, ids=lambda p: p.name)
def test_workers_outlive_their_longest_task(rendered, values, settings_cls):
    default_limit = settings_cls.model_fields["task_time_limit_seconds"].default
    assert cc.check_grace_periods(rendered[values.name], default_limit) == []


@pytest.mark.parametrize("values", CI_VALUES, ids=lambda p: p.name)
def test_workers_consume_the_app_queues(rendered, values):
    from ragline.tasks import names

    assert cc.check_worker_queues(rendered[values.name], names.QUEUES) == []


def test_celery_app_modules_exist(rendered):
    modules = {cc.celery_app_module(c) for docs in rendered.values() for w in cc.workloads(docs).values()
               for c in cc.containers(w)} - {None}
    assert modules >= {"ragline.worker.ingest", "ragline.worker.query", "ragline.worker.default"}
    for module in modules:
        assert importlib.util.find_spec(module) is not None, f"{module} is not a ragline module"


def test_app_queue_names_match_values():
    import yaml

    from ragline.tasks import names

    values = yaml.safe_load((ROOT / "charts" / "rag" / "values.yaml").read_text())
    assert {values[k]["queue"] for k in ("ingestWorker", "queryWorker", "defaultWorker")} == set(names.QUEUES)


# --- negative cases -----------------------------------------------------------------------------

def container_of(docs, suffix):
    deployment = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"].endswith(suffix))
    return deployment["spec"]["template"]["spec"]["containers"][0]


def api_container(docs):
    return container_of(docs, "-api")


def test_wrong_probe_path_is_caught(default_docs, served):
    docs = copy.deepcopy(default_docs)
    api_container(docs)["readinessProbe"]["httpGet"]["path"] = "/health"
    assert any("GET /health is not served" in p for p in cc.check_probe_paths(docs, served))


def test_ui_probe_under_the_root_path_is_caught(default_docs, served):
    docs = copy.deepcopy(default_docs)
    container_of(docs, "-ui")["livenessProbe"]["httpGet"]["path"] = "/ui/healthz"
    assert any("rag-ui livenessProbe GET /ui/healthz is not served" in p for p in cc.check_probe_paths(docs, served))


def test_misnamed_ui_variable_is_caught(default_docs, settings_cls, ui_env_names):
    docs = copy.deepcopy(default_docs)
    next(e for e in container_of(docs, "-ui")["env"] if e["name"] == "RAGLINE_UI_ROOT_PATH")["name"] = "RAGLINE_ROOT_PATH"
    # A UI-only name on another component is no more read there than a typo.
    api_container(docs)["env"].append({"name": "RAGLINE_API_URL", "value": "http://rag-api:8000"})
    problems = cc.check_env_names(docs, cc.settings_env_names(settings_cls), {"ui": ui_env_names})
    assert any("rag-ui container ui sets RAGLINE_ROOT_PATH" in p for p in problems), problems
    assert any("rag-api container api sets RAGLINE_API_URL" in p for p in problems), problems


def test_unknown_ragline_variable_is_caught(default_docs, settings_cls):
    docs = copy.deepcopy(default_docs)
    api_container(docs)["env"].append({"name": "RAGLINE_CHUNCK_SIZE", "value": "500"})
    problems = cc.check_env_names(docs, cc.settings_env_names(settings_cls))
    assert any("RAGLINE_CHUNCK_SIZE" in p for p in problems)


def test_env_value_settings_reject_is_caught(default_docs, settings_cls):
    docs = copy.deepcopy(default_docs)
    env = api_container(docs)["env"]
    # What helm prints for a large number read as float64 without the chart's rag.envValue helper.
    next(e for e in env if e["name"] == "RAGLINE_MAX_UPLOAD_BYTES")["value"] = "5.24288e+07"
    problems = cc.check_env_parses(docs, settings_cls)
    assert any("max_upload_bytes" in p for p in problems), problems

    docs = copy.deepcopy(default_docs)
    # A rule across two settings, which only Settings' own validator knows.
    next(e for e in api_container(docs)["env"] if e["name"] == "RAGLINE_CHUNK_OVERLAP")["value"] = "2000"
    problems = cc.check_env_parses(docs, settings_cls)
    assert any("CHUNK_OVERLAP must be smaller" in p for p in problems), problems


def test_short_grace_period_is_caught(default_docs):
    docs = copy.deepcopy(default_docs)
    worker = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"].endswith("-ingest-worker"))
    worker["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 30
    assert any("terminationGracePeriodSeconds 30" in p for p in cc.check_grace_periods(docs, 1800))


def test_unknown_queue_is_caught(default_docs):
    docs = copy.deepcopy(default_docs)
    worker = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"].endswith("-default-worker"))
    cmd = worker["spec"]["template"]["spec"]["containers"][0]["command"]
    cmd[cmd.index("-Q") + 1] = "celery"
    assert any("consumes queue 'celery'" in p for p in cc.check_worker_queues(docs, ("ingest", "query", "default")))
