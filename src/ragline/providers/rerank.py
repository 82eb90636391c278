"""A rerank service over HTTP: Cohere's and Jina's `/rerank` API, or Hugging Face TEI's.

    cohere (Jina, vLLM, infinity speak it too): POST {"model", "query", "documents": [...], "top_n"}
        -> {"results": [{"index", "relevance_score"}, ...]}
    tei: POST {"query", "texts": [...]} -> [{"index", "score"}, ...]

Refs: https://docs.cohere.com/reference/rerank, https://jina.ai/reranker/,
https://huggingface.github.io/text-embeddings-inference/ (POST /rerank).
"""

from __future__ import annotations

from typing import Literal

import httpx

from ragline.domain import GenerationFailed

RerankApi = Literal["cohere", "tei"]


class HttpReranker:
    """Scores texts against a query with a rerank service; any failure raises GenerationFailed.

        reranker = HttpReranker("http://127.0.0.1:8080/rerank", api="tei")
        scores = reranker.score("Who wrote it?", ["Jane Austen wrote it.", "It rained."])
    """

    def __init__(self, url: str, api: RerankApi = "cohere", model: str | None = None, api_key: str | None = None,
                 timeout_seconds: float = 10.0) -> None:
        self._url = url
        self._api = api
        self._model = model
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(timeout=timeout_seconds, headers=headers)

    def close(self) -> None:
        self._client.close()

    def score(self, query: str, texts: list[str]) -> list[float]:
        if self._api == "tei":
            body: dict = {"query": query, "texts": texts}
        else:
            body = {"query": query, "documents": texts, "top_n": len(texts)}
            if self._model:
                body["model"] = self._model
        try:
            response = self._client.post(self._url, json=body)
            response.raise_for_status()
            reply = response.json()
        except httpx.HTTPStatusError as exc:
            raise GenerationFailed("error", f"the rerank service refused the request: {exc.response.status_code}") from exc
        except httpx.TimeoutException as exc:
            raise GenerationFailed("timeout", f"the rerank service did not answer: {exc}") from exc
        except httpx.HTTPError as exc:
            raise GenerationFailed("unavailable", f"the rerank service is unreachable: {exc}") from exc
        except ValueError as exc:
            raise GenerationFailed("error", "the rerank service did not answer JSON") from exc
        results = reply if self._api == "tei" else reply.get("results") if isinstance(reply, dict) else None
        key = "score" if self._api == "tei" else "relevance_score"
        scores = [float("-inf")] * len(texts)
        try:
            for result in results or []:
                scores[int(result["index"])] = float(result[key])
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise GenerationFailed("error", f"the rerank service's reply is not a {self._api} rerank reply") from exc
        return scores
