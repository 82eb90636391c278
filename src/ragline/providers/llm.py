"""Chat models for generative answers: OpenAI, or any OpenAI-compatible server (llama.cpp, vLLM, ...)."""

from __future__ import annotations

import time
from collections.abc import Iterator

from ragline.domain import GenerationFailed, Messages


class ChatModel:
    """Streams a chat completion through langchain-openai; every failure becomes GenerationFailed.

        model = ChatModel(model="smollm2", base_url="http://127.0.0.1:8080/v1", api_key=None, timeout_seconds=30,
                          max_tokens=512, temperature=0.0)
        text = "".join(model.stream([("user", "Say hi")]))
    """

    def __init__(
        self, model: str, base_url: str | None, api_key: str | None, timeout_seconds: float, max_tokens: int, temperature: float
    ) -> None:
        from langchain_openai import ChatOpenAI

        self.name = model
        self._timeout = timeout_seconds
        self._client = ChatOpenAI(
            model=model,
            base_url=base_url,
            # An OpenAI-compatible server without keys still needs a non-empty one.
            api_key=api_key or "unused",
            # The same limit for a silent server; stream() bounds the whole generation with it too.
            timeout=timeout_seconds,
            # A retry would double the wait of a user who gets the extractive answer anyway.
            max_retries=0,
            temperature=temperature,
            max_tokens=max_tokens,
        )

    def stream(self, messages: Messages) -> Iterator[str]:
        import openai

        deadline = time.monotonic() + self._timeout
        try:
            for chunk in self._client.stream(messages):
                if time.monotonic() > deadline:
                    raise GenerationFailed("timeout", f"the model was still writing after {self._timeout:g} s")
                text = str(chunk.text)
                if text:
                    yield text
        except openai.APITimeoutError as exc:
            raise GenerationFailed("timeout", f"no reply from the model within {self._timeout:g} s") from exc
        except openai.APIConnectionError as exc:
            raise GenerationFailed("unavailable", f"the model server is unreachable: {exc}") from exc
        except openai.APIError as exc:
            raise GenerationFailed("error", f"the model server refused the request: {exc}") from exc
