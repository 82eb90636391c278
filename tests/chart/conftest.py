"""Fixtures of the offline deployment checks (helpers in tests/chart/support.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.chart.support import CI_VALUES, INSTALL_HINT, ROOT, Helm


@pytest.fixture(scope="session")
def helm(tmp_path_factory) -> Helm:
    binary = os.environ.get("HELM") or str(ROOT / ".tools" / "bin" / "helm")
    if not Path(binary).exists():
        pytest.fail(f"helm not found at {binary} (set HELM or {INSTALL_HINT})", pytrace=False)
    helm = Helm(binary, tmp_path_factory.mktemp("helm-home"))
    version = helm("version", "--short")
    if version.returncode != 0 or not version.stdout.startswith("v3."):
        pytest.fail(f"{binary} is not a working helm 3: {version.stdout}{version.stderr}", pytrace=False)
    return helm


@pytest.fixture(scope="session")
def rendered(helm) -> dict[str, list[dict]]:
    """Documents rendered for each ci/*-values.yaml, by file name."""
    assert CI_VALUES, "no ci/*-values.yaml files"
    return {v.name: helm.render((v,)) for v in CI_VALUES}


@pytest.fixture(scope="session")
def default_docs(helm) -> list[dict]:
    return helm.render((ROOT / "ci" / "default-values.yaml",))
