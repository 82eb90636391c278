"""One model build and one real local stack for the performance tests, shared by the whole package."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ragline.localstack import LocalStack
from tests.conftest import REPO, running_stack

# Two ingest processes with short page ranges, so a 24-page article already fans out.
STACK_ENV = {"RAGLINE_INGEST_PAGES_PER_PART": "5"}
INGEST_PROCESSES = 2
_BUILD = (
    "import sys; from pathlib import Path; from ragline.providers.onnx_minilm import build_model; "
    "print(build_model(Path(sys.argv[1]), sys.argv[2]))"
)
QUANTIZED_RUNTIMES = ("onnx-int8", "openvino-int8")


@pytest.fixture(scope="session")
def model_builds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[str]]]:
    """Each int8 model built by two processes, all four started together into one empty folder:
    (folder, each runtime's builders' outputs)."""
    folder = tmp_path_factory.mktemp("models")
    builders = {
        runtime: [
            subprocess.Popen(
                [sys.executable, "-c", _BUILD, str(folder), runtime],
                cwd=REPO,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            for _ in range(2)
        ]
        for runtime in QUANTIZED_RUNTIMES
    }
    # The path is the last line: NNCF draws its progress bars on stdout above it.
    outputs = {
        runtime: [b.communicate(timeout=900)[0].strip().splitlines()[-1] for b in started]
        for runtime, started in builders.items()
    }
    assert all(b.returncode == 0 for started in builders.values() for b in started)
    return folder, outputs


@pytest.fixture(scope="session")
def model_cache(model_builds: tuple[Path, dict[str, list[str]]]) -> Path:
    return model_builds[0]


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> Iterator[LocalStack]:
    env = STACK_ENV | {"RAGLINE_MODEL_CACHE_DIR": str(model_cache)}
    with running_stack("performance", tmp_path_factory.mktemp("stack"), env, ingest_processes=INGEST_PROCESSES) as running:
        yield running


@pytest.fixture(scope="session")
def api(stack: LocalStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.api_url, timeout=60) as client:
        yield client
