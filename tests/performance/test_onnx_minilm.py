"""The int8 ONNX MiniLM against sentence-transformers on torch: real models, no mocks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ragline.config import Settings
from ragline.providers.embeddings import LocalMiniLM, create_embedder
from ragline.providers.onnx_minilm import OnnxMiniLM

NAME = Settings().embedding_model_name
TEXTS = [
    "The speaker paused, looked at the audience and smiled.",
    "World population passed eight billion in November 2022.",
    "Stage fright fades with preparation and practice. " * 30,  # well past 128 tokens
    "Gold prices rose sharply.",
]


@pytest.fixture(scope="module")
def onnx(model_cache: Path) -> OnnxMiniLM:
    return OnnxMiniLM(NAME, model_cache)


@pytest.fixture(scope="module")
def torch_model() -> LocalMiniLM:
    return LocalMiniLM(NAME)


def test_two_processes_starting_together_build_one_model(model_builds: tuple[Path, list[str]]) -> None:
    folder, outputs = model_builds
    models = sorted(path.name for path in folder.iterdir() if path.name != ".build.lock")
    assert len(set(outputs)) == 1
    assert models == [Path(outputs[0]).name], "one model file, no temporary build left behind"


def test_vectors_are_unit_length_and_close_to_torch(onnx: OnnxMiniLM, torch_model: LocalMiniLM) -> None:
    ours = np.asarray(onnx.embed_documents(TEXTS))
    reference = np.asarray(torch_model.embed_documents(TEXTS))
    assert ours.shape == (len(TEXTS), 384)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-4)
    assert np.min(np.sum(ours * reference, axis=1)) > 0.97


def test_tokens_past_128_still_count(onnx: OnnxMiniLM) -> None:
    """The packaged tokenizer.json cuts at 128 tokens; the model reads up to 256, as sentence-transformers does."""
    start = "The committee met on Tuesday to discuss the annual budget of the city library. " * 8
    cut, whole = onnx.embed_documents([start, start + "Volcanic eruptions reshape islands in the Pacific Ocean."])
    assert float(np.dot(cut, whole)) < 0.995


def test_batches_sorted_by_length_keep_each_text_with_its_vector(onnx: OnnxMiniLM) -> None:
    together = np.asarray(onnx.embed_documents(TEXTS))
    alone = np.asarray([onnx.embed_query(text) for text in TEXTS])
    similarity = together @ alone.T
    assert list(similarity.argmax(axis=1)) == list(range(len(TEXTS)))
    assert np.min(np.diag(similarity)) > 0.99


def test_a_question_scores_its_passage_above_an_unrelated_one(onnx: OnnxMiniLM) -> None:
    question = np.asarray(onnx.embed_query("When did the world population exceed eight billion?"))
    passages = np.asarray(onnx.embed_documents(TEXTS))
    scores = passages @ question
    assert scores.argmax() == 1
    assert scores[1] > 0.6 > 0.2 > scores[3]


def test_runtime_setting_selects_the_model_and_keeps_the_recorded_name(model_cache: Path) -> None:
    on_onnx = create_embedder(Settings(model_cache_dir=model_cache, local_embedding_runtime="onnx-int8"))
    on_torch = create_embedder(Settings(model_cache_dir=model_cache, local_embedding_runtime="torch"))
    assert isinstance(on_onnx._inner, OnnxMiniLM)
    assert isinstance(on_torch._inner, LocalMiniLM)
    assert on_onnx.name == on_torch.name == "local:all-MiniLM-L6-v2"
    assert float(np.dot(on_onnx.embed_query("stage fright"), on_torch.embed_query("stage fright"))) > 0.97
