"""docker-compose.yml: the Compose specification (check-jsonschema's vendored schema), and the same
services, commands and settings as the chart."""

from __future__ import annotations

import pytest
import yaml

from tests.chart import chartchecks as cc
from tests.chart.support import ROOT, run, tool

COMPOSE = ROOT / "docker-compose.yml"


def compose_check(path) -> tuple[int, str]:
    proc = run([tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path)])
    return proc.returncode, proc.stdout + proc.stderr


def services() -> dict:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def test_compose_matches_the_spec():
    rc, out = compose_check(COMPOSE)
    assert rc == 0, out


def compose_problems(s: dict) -> list[str]:
    """The compose services mirror the chart: same services, images, queues and Redis persistence."""
    problems = []
    missing = {"redis", "chroma", "api", "ingest-worker", "query-worker", "default-worker", "flower", "ui"} - set(s)
    if missing:
        return [f"services missing: {sorted(missing)}"]
    redis_cmd = [str(a) for a in s["redis"].get("command", [])]
    if "--appendonly" not in redis_cmd or redis_cmd[redis_cmd.index("--appendonly") + 1] != "yes":
        problems.append("redis runs without --appendonly yes")
    expected = {"ingest-worker": "ingest", "query-worker": "query", "default-worker": "default"}
    for name, queue in expected.items():
        got = cc.celery_queue({"command": s[name].get("command", [])})
        if got != queue:
            problems.append(f"{name} consumes {got!r}, not {queue!r}")
    flower_cmd = [str(a) for a in s["flower"].get("command", [])]
    if "--port=5555" not in flower_cmd:
        problems.append("flower is not started with --port=5555")
    if not any(a.startswith("--basic-auth=") for a in flower_cmd):
        problems.append("flower runs without --basic-auth")
    if [str(a) for a in s["api"].get("command", [])][:3] != ["python", "-m", "ragline.api"]:
        problems.append(f"api runs {s['api'].get('command')}, not the chart's `python -m ragline.api`")
    if [str(a) for a in s["ui"].get("command", [])] != ["ragline", "ui", "--host", "0.0.0.0", "--port", "7860"]:
        problems.append(f"ui runs {s['ui'].get('command')}, not the chart's `ragline ui --host 0.0.0.0 --port 7860`")
    if (s["ui"].get("environment") or {}).get("RAGLINE_API_URL") != "http://api:8000":
        problems.append("ui does not point RAGLINE_API_URL at http://api:8000")
    if "api" not in (s["ui"].get("depends_on") or {}):
        problems.append("ui does not depend on api")
    dockerfiles = {"api": "services/api/Dockerfile", "ingest-worker": "services/ingest-worker/Dockerfile",
                   "query-worker": "services/query-worker/Dockerfile",
                   "default-worker": "services/query-worker/Dockerfile", "flower": "services/query-worker/Dockerfile",
                   "ui": "services/ui/Dockerfile"}
    for name, dockerfile in dockerfiles.items():
        got = (s[name].get("build") or {}).get("dockerfile")
        if got != dockerfile:
            problems.append(f"{name} builds {got}, not {dockerfile}")
    return problems


def test_compose_runs_the_chart_services():
    assert compose_problems(services()) == []


def test_compose_drift_is_caught():
    s = services()
    s["default-worker"]["command"] = [a if a != "default" else "celery" for a in s["default-worker"]["command"]]
    s["redis"]["command"] = ["redis-server"]
    s["flower"]["build"] = {"context": ".", "dockerfile": "services/api/Dockerfile"}
    s["flower"]["command"] = [a for a in s["flower"]["command"] if not a.startswith("--basic-auth")]
    s["ui"]["command"][-1] = "8080"
    s["api"]["command"] = ["uvicorn", "ragline.api.app:create_app", "--factory"]
    del s["ui"]["depends_on"]
    problems = compose_problems(s)
    assert any("flower runs without --basic-auth" in p for p in problems), problems
    assert any("ui runs" in p and "8080" in p for p in problems), problems
    assert any("api runs" in p and "uvicorn" in p for p in problems), problems
    assert any("ui does not depend on api" in p for p in problems), problems
    assert any("default-worker consumes 'celery'" in p for p in problems), problems
    assert any("appendonly" in p for p in problems), problems
    assert any("flower builds services/api/Dockerfile" in p for p in problems), problems


def test_compose_env_is_read_by_the_processes():
    from ragline.cli import app
    from ragline.config import Settings

    known = cc.settings_env_names(Settings)
    # The ui service runs `ragline ui`, which also reads its options' environment names.
    by_service = {"ui": cc.command_env_names(app, "ui")}
    for name, svc in services().items():
        for var in (svc.get("environment") or {}):
            if var.startswith("RAGLINE_"):
                assert var in known | by_service.get(name, set()), f"{name} sets {var}, which its process does not read"


def test_unknown_key_is_caught(tmp_path):
    broken = COMPOSE.read_text().replace("    image: redis:", "    imagee: redis:", 1)
    path = tmp_path / "docker-compose.yml"
    path.write_text(broken)
    rc, out = compose_check(path)
    assert rc != 0
    assert "'imagee' was unexpected" in out


@pytest.mark.parametrize("bad", ["ports: 8000", "depends_on: {redis: {condition: healthy}}"])
def test_wrong_shapes_are_caught(tmp_path, bad):
    doc = yaml.safe_load(COMPOSE.read_text())
    doc["services"]["api"].update(yaml.safe_load(bad))
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(doc))
    rc, out = compose_check(path)
    assert rc != 0, out
