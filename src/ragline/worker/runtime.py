"""Per-process resources of a worker: connections, stores and the embedding model, created once."""

from __future__ import annotations

from functools import cached_property

from ragline.domain import Embedder
from ragline.providers.embeddings import create_embedder
from ragline.stores.bundle import Stores
from ragline.worker.lexical import LexicalIndexes
from ragline.stores.parts import PartPlan


class WorkerRuntime(Stores):
    """Built lazily so nothing heavy happens at import; the model is loaded after the prefork fork."""

    @cached_property
    def embedder(self) -> Embedder:
        return create_embedder(self.settings)

    @cached_property
    def lexical_indexes(self) -> LexicalIndexes:
        return LexicalIndexes(self.lexical, self.settings.lexical_cache_bytes)

    @cached_property
    def parts(self) -> PartPlan:
        return PartPlan(self.redis, self.settings.intermediate_ttl_seconds)
