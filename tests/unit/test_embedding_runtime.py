"""RAGLINE_LOCAL_EMBEDDING_RUNTIME: the values it takes, what `auto` picks, and the runtimes a GPU needs."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ragline.config import Settings
from ragline.providers.embeddings import local_runtime


def test_the_default_is_auto_and_picks_openvino_where_it_is_installed() -> None:
    # The dev install carries the `openvino` extra (ragline[local] includes it).
    settings = Settings(_env_file=None)
    assert settings.local_embedding_runtime == "auto"
    assert local_runtime(settings) == "openvino-int8"


@pytest.mark.parametrize("runtime", ["openvino-int8", "onnx-int8", "torch"])
def test_a_named_runtime_is_taken_as_asked(runtime: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGLINE_LOCAL_EMBEDDING_RUNTIME", runtime)
    assert local_runtime(Settings()) == runtime


@pytest.mark.parametrize("value", ["openvino", "ov-int8", "ONNX-INT8", "int8", ""])
def test_an_unknown_runtime_is_refused(value: str) -> None:
    with pytest.raises(ValidationError, match="local_embedding_runtime"):
        Settings(local_embedding_runtime=value)


@pytest.mark.parametrize("runtime", ["auto", "openvino-int8", "onnx-int8"])
def test_cuda_needs_the_torch_runtime(runtime: str) -> None:
    with pytest.raises(ValidationError, match="RAGLINE_LOCAL_EMBEDDING_RUNTIME=torch"):
        Settings(local_embedding_runtime=runtime, embedding_device="cuda")


def test_threads_cannot_be_negative() -> None:
    with pytest.raises(ValidationError, match="embedding_threads"):
        Settings(embedding_threads=-1)
