"""RAGLINE_EMBEDDING_DEVICE: validated at start, and cuda falls back to the CPU (with a warning) when torch
sees no GPU.

This machine has no GPU and a CPU-only torch, so the CUDA path itself is not run here: the fallback is.
"""

from __future__ import annotations

import logging

import pytest
import torch
from pydantic import ValidationError

from ragline.config import Settings
from ragline.providers.embeddings import LocalMiniLM, create_embedder, torch_device

HAS_GPU = torch.cuda.is_available()


def test_the_device_defaults_to_cpu_and_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(_env_file=None).embedding_device == "cpu"
    monkeypatch.setenv("RAGLINE_LOCAL_EMBEDDING_RUNTIME", "torch")
    monkeypatch.setenv("RAGLINE_EMBEDDING_DEVICE", "cuda")
    assert Settings().embedding_device == "cuda"


@pytest.mark.parametrize("value", ["gpu", "cuda:0", "CUDA", "mps", ""])
def test_an_unknown_device_is_refused(value: str) -> None:
    with pytest.raises(ValidationError, match="embedding_device"):
        Settings(local_embedding_runtime="torch", embedding_device=value)


def test_cuda_on_the_int8_runtime_is_refused_rather_than_ignored() -> None:
    with pytest.raises(ValidationError, match="RAGLINE_LOCAL_EMBEDDING_RUNTIME=torch"):
        Settings(embedding_device="cuda")
    assert Settings(local_embedding_runtime="torch", embedding_device="cuda").embedding_device == "cuda"


def test_cpu_is_taken_as_asked_without_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="ragline.providers.embeddings"):
        assert torch_device("cpu") == "cpu"
    assert caplog.records == []


def test_cuda_without_a_gpu_falls_back_to_cpu_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="ragline.providers.embeddings"):
        device = torch_device("cuda")
    if HAS_GPU:
        assert device == "cuda" and caplog.records == []
        return
    assert device == "cpu"
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert "requested=cuda" in message and "using=cpu" in message
    assert "reason=" in message and f"torch={torch.__version__}" in message


def test_a_worker_asked_for_cuda_still_embeds(caplog: pytest.LogCaptureFixture) -> None:
    """The whole path a worker takes: settings -> create_embedder -> the model on the device it got."""
    settings = Settings(local_embedding_runtime="torch", embedding_device="cuda")
    with caplog.at_level(logging.WARNING, logger="ragline.providers.embeddings"):
        embedder = create_embedder(settings)
    inner = embedder._inner
    assert isinstance(inner, LocalMiniLM)
    expected = "cuda" if HAS_GPU else "cpu"
    assert inner.device == expected
    assert inner._model.device.type == expected
    assert bool(caplog.records) is not HAS_GPU
    [vector] = embedder.embed_documents(["The population of the world passed eight billion in 2022."])
    assert len(vector) == 384
    assert abs(sum(x * x for x in vector) - 1.0) < 1e-3
