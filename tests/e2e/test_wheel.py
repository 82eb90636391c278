"""The package alone runs the demo: its wheel, installed into a fresh venv outside the checkout (pip
fetches the dependencies as it does for any user, from its cache when it has them), runs `ragline
demo` in an empty folder and prints a cited answer. Nothing of the source tree is on the path."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ARTIFACTS, REPO, free_ports
from tests.e2e.running import port_args

pytestmark = pytest.mark.slow
UNPACKAGED = (".git", ".venv", ".tools", "build", "dist", "data", "test-artifacts", "*.egg-info", "__pycache__", ".pytest_cache")


def _run(command: list[str], log: Path, **options: object) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, **options)  # type: ignore[call-overload]
    with log.open("a") as output:
        output.write(f"$ {' '.join(command)}\n{result.stdout}{result.stderr}\n")
    assert result.returncode == 0, f"{command[:4]} exited {result.returncode}: {result.stderr[-3000:]}"
    return result


def test_the_installed_wheel_runs_the_demo_from_an_empty_folder(tmp_path: Path) -> None:
    log = ARTIFACTS / "logs" / "e2e-wheel.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    # A copy of the tree: an in-tree build/ of an earlier run could put stale modules into the wheel.
    source = tmp_path / "source"
    shutil.copytree(REPO, source, symlinks=True, ignore=shutil.ignore_patterns(*UNPACKAGED))
    dist = tmp_path / "dist"
    # No build isolation: this venv's setuptools builds it, nothing is fetched for the build.
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), str(source)], log, timeout=300)
    wheel = next(dist.glob("ragline-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        assert {"ragline/demo/world_population_wikipedia.pdf", "ragline/demo/NOTICE.md"} <= set(archive.namelist())

    venv = tmp_path / "venv"
    # Not --system-site-packages: only what the wheel declares gets installed.
    _run([sys.executable, "-m", "venv", str(venv)], log, timeout=120)
    python = venv / "bin" / "python"
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV", "RAGLINE_MODEL_CACHE_DIR")}
    # As `make demo` installs: no byte-compiling of every module up front (see the Makefile).
    _run([str(python), "-m", "pip", "install", "--quiet", "--no-compile", f"{wheel}[local]"], log, timeout=900, env=env)

    folder = tmp_path / "newcomer"
    folder.mkdir()
    where = _run([str(python), "-c", "import ragline; print(ragline.__file__)"], log, cwd=folder, env=env).stdout.strip()
    assert Path(where).is_relative_to(venv), where

    ports = free_ports()
    demo = _run(
        [str(venv / "bin" / "ragline"), "demo", "--no-keep", *port_args(ports)],
        log, cwd=folder, env={**env, "COLUMNS": "200"}, timeout=600,
    )
    assert "The median age of human beings as of 2020 is 31 years. [1]" in demo.stdout
    citations = [line for line in demo.stdout.splitlines() if "world_population_wikipedia.pdf" in line]
    assert citations and all(line.lstrip("│ ")[0].isdigit() for line in citations)
    assert f"http://127.0.0.1:{ports.api}/docs" in demo.stdout
    # The default data folder is the current one: its logs, its Redis, its Chroma.
    assert (folder / "data" / "logs" / "ingest-worker.log").stat().st_size > 0
