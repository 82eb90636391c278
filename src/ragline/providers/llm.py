"""Chat models for generative answers: OpenAI, or any OpenAI-compatible server (llama.cpp, vLLM, ...)."""

from __future__ import annotations

import time
from collections.abc import Iterator

from ragline.config import Settings
from ragline.domain import GenerationFailed, Messages


class ChatModel:
    """Streams a chat completion through langchain-openai; every failure becomes GenerationFailed.

        model = ChatModel(Settings(llm_base_url="http://127.0.0.1:8080/v1"))
        text = "".join(model.stream([("user", "Say hi")]))
    """

    def __init__(self, settings: Settings) -> None:
        from langchain_openai import ChatOpenAI

        self.name = settings.llm_model
        self._timeout = settings.llm_timeout_seconds
        api_key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "unused"
        self._client = ChatOpenAI(
            model=settings.llm_model,
            base_url=settings.llm_base_url,
            api_key=api_key,
            # The same limit for a silent server; stream() bounds the whole generation with it too.
            timeout=settings.llm_timeout_seconds,
            # A retry would double the wait of a user who gets the extractive answer anyway.
            max_retries=0,
            temperature=settings.llm_temperature,
            max_tokens=settings.llm_max_tokens,
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


def create_chat_model(settings: Settings) -> ChatModel | None:
    """None when no chat model is configured: generative requests then fall back to extractive answers."""
    return ChatModel(settings) if settings.llm_configured else None
