"""A minimal rerank server, run by the tests as its own process (`uvicorn tests.answers.rerank_server:app`).

No real rerank server installs offline with weights (TEI is a Rust binary, infinity and the
cross-encoders need model downloads; FACTS.md), so this one implements the documented public APIs
faithfully, with a word-overlap score instead of a model:
- Cohere v1/v2 and Jina: POST /v1/rerank {model, query, documents: [str | {text}], top_n?, return_documents?}
  -> {id, results: [{index, relevance_score, document?}] sorted best first, meta}
  (https://docs.cohere.com/reference/rerank, https://jina.ai/reranker/);
- Hugging Face TEI: POST /rerank {query, texts, raw_scores?, return_text?, truncate?}
  -> [{index, score, text?}] sorted best first (https://huggingface.github.io/text-embeddings-inference/).
A request without the required fields gets 422, as from the real servers; a bearer key is required
when RERANK_API_KEY is set (401 otherwise, as Cohere answers).
"""

from __future__ import annotations

import os
import re
import uuid
from typing import Any

from fastapi import FastAPI, Header, HTTPException
from pydantic import BaseModel

app = FastAPI()


class CohereRequest(BaseModel):
    query: str
    documents: list[str | dict[str, Any]]
    model: str | None = None
    top_n: int | None = None
    return_documents: bool = False


class TeiRequest(BaseModel):
    query: str
    texts: list[str]
    raw_scores: bool = False
    return_text: bool = False
    truncate: bool = False


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def _score(query: str, text: str) -> float:
    wanted, offered = _words(query), _words(text)
    return len(wanted & offered) / len(wanted | offered) if wanted | offered else 0.0


def _authorize(authorization: str | None) -> None:
    key = os.environ.get("RERANK_API_KEY")
    if key and authorization != f"Bearer {key}":
        raise HTTPException(401, "invalid api token")


@app.post("/v1/rerank")
def cohere_rerank(body: CohereRequest, authorization: str | None = Header(default=None)) -> dict:
    _authorize(authorization)
    texts = [d if isinstance(d, str) else str(d.get("text", "")) for d in body.documents]
    ranked = sorted(range(len(texts)), key=lambda n: -_score(body.query, texts[n]))[: body.top_n or len(texts)]
    results = [
        {"index": n, "relevance_score": _score(body.query, texts[n]), **({"document": {"text": texts[n]}} if body.return_documents else {})}
        for n in ranked
    ]
    return {"id": str(uuid.uuid4()), "results": results, "meta": {"api_version": {"version": "1"}, "billed_units": {"search_units": 1}}}


@app.post("/rerank")
def tei_rerank(body: TeiRequest, authorization: str | None = Header(default=None)) -> list[dict]:
    _authorize(authorization)
    ranked = sorted(range(len(body.texts)), key=lambda n: -_score(body.query, body.texts[n]))
    return [{"index": n, "score": _score(body.query, body.texts[n]), **({"text": body.texts[n]} if body.return_text else {})} for n in ranked]
