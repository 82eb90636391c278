"""The int8 MiniLMs (OpenVINO and ONNX Runtime) against sentence-transformers on torch: real models, no mocks."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import psutil
import pytest

from ragline.config import Settings
from ragline.providers.embeddings import LocalMiniLM, create_embedder
from ragline.providers.onnx_minilm import OnnxMiniLM, OpenVinoMiniLM, model_file
from tests.performance.conftest import QUANTIZED_RUNTIMES

NAME = Settings().embedding_model_name
TEXTS = [
    "The speaker paused, looked at the audience and smiled.",
    "World population passed eight billion in November 2022.",
    "Stage fright fades with preparation and practice. " * 30,  # well past 128 tokens
    "Gold prices rose sharply.",
]


QUANTIZED = {"onnx-int8": OnnxMiniLM, "openvino-int8": OpenVinoMiniLM}


@pytest.fixture(scope="module", params=QUANTIZED_RUNTIMES)
def quantized(request: pytest.FixtureRequest, model_cache: Path) -> OnnxMiniLM | OpenVinoMiniLM:
    """Each int8 runtime in turn: every test below holds for both."""
    return QUANTIZED[request.param](NAME, model_cache)


@pytest.fixture(scope="module")
def torch_model() -> LocalMiniLM:
    return LocalMiniLM(NAME)


def test_processes_starting_together_build_each_model_once(model_builds: tuple[Path, dict[str, list[str]]]) -> None:
    folder, outputs = model_builds
    models = sorted(path.name for path in folder.iterdir() if path.name != ".build.lock")
    for runtime, printed in outputs.items():
        assert set(printed) == {str(model_file(folder, runtime))}
    onnx_file, openvino_graph = (model_file(folder, runtime) for runtime in QUANTIZED_RUNTIMES)
    expected = [onnx_file.name, openvino_graph.with_suffix(".bin").name, openvino_graph.name]
    assert models == sorted(expected), "one file per model (OpenVINO: graph and weights), no temporary build left behind"


def test_vectors_are_unit_length_and_close_to_torch(quantized: OnnxMiniLM | OpenVinoMiniLM, torch_model: LocalMiniLM) -> None:
    ours = np.asarray(quantized.embed_documents(TEXTS))
    reference = np.asarray(torch_model.embed_documents(TEXTS))
    assert ours.shape == (len(TEXTS), 384)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-4)
    assert np.min(np.sum(ours * reference, axis=1)) > 0.97


def test_tokens_past_128_still_count(quantized: OnnxMiniLM | OpenVinoMiniLM) -> None:
    """The packaged tokenizer.json cuts at 128 tokens; the model reads up to 256, as sentence-transformers does."""
    start = "The committee met on Tuesday to discuss the annual budget of the city library. " * 8
    cut, whole = quantized.embed_documents([start, start + "Volcanic eruptions reshape islands in the Pacific Ocean."])
    assert float(np.dot(cut, whole)) < 0.995


def test_batches_sorted_by_length_keep_each_text_with_its_vector(quantized: OnnxMiniLM | OpenVinoMiniLM) -> None:
    together = np.asarray(quantized.embed_documents(TEXTS))
    alone = np.asarray([quantized.embed_query(text) for text in TEXTS])
    similarity = together @ alone.T
    assert list(similarity.argmax(axis=1)) == list(range(len(TEXTS)))
    assert np.min(np.diag(similarity)) > 0.99


def test_a_question_scores_its_passage_above_an_unrelated_one(quantized: OnnxMiniLM | OpenVinoMiniLM) -> None:
    question = np.asarray(quantized.embed_query("When did the world population exceed eight billion?"))
    passages = np.asarray(quantized.embed_documents(TEXTS))
    scores = passages @ question
    assert scores.argmax() == 1
    assert scores[1] > 0.6 > 0.2 > scores[3]


def test_the_same_texts_give_the_same_vectors(quantized: OnnxMiniLM | OpenVinoMiniLM) -> None:
    first = np.asarray(quantized.embed_documents(TEXTS))
    again = np.asarray(quantized.embed_documents(list(reversed(TEXTS))))[::-1]
    np.testing.assert_array_equal(first, again)
    assert quantized.embed_query(TEXTS[0]) == quantized.embed_query(TEXTS[0])


def test_runtime_setting_selects_the_model_and_keeps_the_recorded_name(model_cache: Path) -> None:
    on_torch = create_embedder(Settings(model_cache_dir=model_cache, local_embedding_runtime="torch"))
    assert isinstance(on_torch._inner, LocalMiniLM)
    chosen = {
        runtime: create_embedder(Settings(model_cache_dir=model_cache, local_embedding_runtime=runtime))
        for runtime in ("auto", *QUANTIZED_RUNTIMES)
    }
    assert isinstance(chosen["auto"]._inner, OpenVinoMiniLM), "the fastest runtime installed (dev has the extra)"
    for runtime, embedder in chosen.items():
        assert isinstance(embedder._inner, QUANTIZED.get(runtime, OpenVinoMiniLM))
        assert embedder.name == on_torch.name == "local:all-MiniLM-L6-v2"
        assert float(np.dot(embedder.embed_query("stage fright"), on_torch.embed_query("stage fright"))) > 0.97


def test_openvino_memory_levels_off_over_batches_of_every_length(model_cache: Path) -> None:
    """OpenVINO keeps kernels per input shape: unpadded, 200 batches of mixed lengths grew a process by
    about 1 GB, and on without end; padded to 16 tokens, with the shape cache capped, it levels off."""
    model = OpenVinoMiniLM(NAME, model_cache)
    words = "the world population grew to eight billion people in the last two centuries".split()
    rng = random.Random(15)

    def batches(count: int) -> None:
        for _ in range(count):
            model.embed_documents([" ".join(rng.choices(words, k=rng.randint(1, 220))) for _ in range(rng.randint(1, 16))])

    process = psutil.Process()
    batches(100)
    settled = process.memory_info().rss
    batches(200)
    grown = (process.memory_info().rss - settled) / 2**20
    assert grown < 150, f"{grown:.0f} MiB more after 200 further batches"
