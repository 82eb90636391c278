"""Per-process resources of a worker: connections, stores and the embedding model, created once."""

from __future__ import annotations

from functools import cached_property

from ragline.providers.embeddings import Embedder, create_embedder
from ragline.stores.bundle import Stores


class WorkerRuntime(Stores):
    """Built lazily so nothing heavy happens at import; the model is loaded after the prefork fork."""

    @cached_property
    def embedder(self) -> Embedder:
        return create_embedder(self.settings)
