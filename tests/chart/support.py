"""Shared helpers of the offline deployment checks: paths, the real helm binary, the Python tools.

The tools come from scripts/install-chart-tools.sh. A missing tool fails the test with a message
saying so; nothing is skipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "rag"
CI_VALUES = sorted((ROOT / "ci").glob("*-values.yaml"))
KUBE_VERSION = "1.31.0"
API_VERSIONS = ("keda.sh/v1alpha1", "monitoring.coreos.com/v1")
RELEASE = "rag"
NAMESPACE = "ragline"
INSTALL_HINT = "run `scripts/install-chart-tools.sh` (helm into .tools/bin, the Python tools into the venv)"


def tool(name: str) -> str:
    """A console script of the venv running pytest (where the install script puts them), or PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if not found:
        pytest.fail(f"{name} not found: {INSTALL_HINT}", pytrace=False)
    return found


def require_module(name: str):
    try:
        return __import__(name, fromlist=["_"])
    except ImportError:
        pytest.fail(f"Python module {name} not importable: {INSTALL_HINT}", pytrace=False)


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    kwargs.setdefault("timeout", 120)
    return subprocess.run(cmd, **kwargs)


class Helm:
    """The real helm binary with its state in a temporary HOME."""

    def __init__(self, binary: str, home: Path):
        self.binary = binary
        self.env = dict(os.environ, HOME=str(home), HELM_CACHE_HOME=str(home / "cache"),
                        HELM_CONFIG_HOME=str(home / "config"), HELM_DATA_HOME=str(home / "data"))
        self._cache: dict[tuple, list[dict]] = {}

    def __call__(self, *args: str) -> subprocess.CompletedProcess:
        return run([self.binary, *args], env=self.env)

    def template_args(self, values: tuple[Path, ...] = (), sets: tuple[str, ...] = (),
                      chart: Path = CHART) -> list[str]:
        args = ["template", RELEASE, str(chart), "--namespace", NAMESPACE, "--kube-version", KUBE_VERSION]
        for api in API_VERSIONS:
            args += ["--api-versions", api]
        for v in values:
            args += ["-f", str(v)]
        for s in sets:
            args += ["--set", s]
        return args

    def template(self, values: tuple[Path, ...] = (), sets: tuple[str, ...] = (),
                 chart: Path = CHART) -> str:
        proc = self(*self.template_args(values, sets, chart))
        if proc.returncode != 0:
            raise RuntimeError(f"helm template failed:\n{proc.stderr}")
        return proc.stdout

    def render(self, values: tuple[Path, ...] = (), sets: tuple[str, ...] = ()) -> list[dict]:
        """Rendered documents (cached: the tests only read them; mutate a deep copy)."""
        key = (tuple(values), tuple(sets))
        if key not in self._cache:
            text = self.template(tuple(values), tuple(sets))
            self._cache[key] = [d for d in yaml.safe_load_all(text) if d]
        return self._cache[key]
