"""The packaged local model: parts assembled in order, checked by size and SHA-256, assembled once."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ragline.providers.llama_server import QWEN_CODER_1_5B, ModelFilesError, PackagedModel, assemble, part_files


def _parts(folder: Path, *contents: bytes) -> list[Path]:
    paths = []
    for number, content in enumerate(contents, start=1):
        path = folder / f"part{number:02d}.bin"
        path.write_bytes(content)
        paths.append(path)
    return paths


def test_parts_are_concatenated_in_order_and_checked(tmp_path: Path) -> None:
    parts = _parts(tmp_path, b"GGUF", b"-weights-", b"end")
    whole = b"GGUF-weights-end"
    target = assemble(parts, tmp_path / "models" / "m.gguf", len(whole), hashlib.sha256(whole).hexdigest())
    assert target.read_bytes() == whole
    assert (tmp_path / "models" / "m.gguf.sha256").read_text().strip() == hashlib.sha256(whole).hexdigest()


def test_a_verified_model_is_not_assembled_again(tmp_path: Path) -> None:
    parts = _parts(tmp_path, b"abc", b"def")
    checksum = hashlib.sha256(b"abcdef").hexdigest()
    target = assemble(parts, tmp_path / "m.gguf", 6, checksum)
    for part in parts:
        part.unlink()  # a second start reads no part: the file was verified when it was written
    assert assemble(parts, target, 6, checksum).read_bytes() == b"abcdef"


def test_a_damaged_part_leaves_no_model_behind(tmp_path: Path) -> None:
    parts = _parts(tmp_path, b"abc", b"dXf")
    with pytest.raises(ModelFilesError, match="damaged"):
        assemble(parts, tmp_path / "models" / "m.gguf", 6, hashlib.sha256(b"abcdef").hexdigest())
    assert list((tmp_path / "models").iterdir()) == []


def test_missing_part_packages_name_the_install_command() -> None:
    absent = PackagedModel("x", "Model X", "ragline-no-such-part", 2, "1.0", 1, "0" * 64, "MIT")
    with pytest.raises(ModelFilesError, match=r"pip install 'ragline\[llm\]'"):
        part_files(absent)


def test_the_qwen_parts_are_the_llm_extra() -> None:
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    extra = pyproject.split("\nllm = [", 1)[1].split("]", 1)[0]
    assert all(f'"{requirement}"' in extra for requirement in QWEN_CODER_1_5B.packages)
