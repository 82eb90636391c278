"""The stores every process shares, over one Redis connection pool (and the cache Redis's), built lazily from settings."""

from __future__ import annotations

from functools import cached_property

from ragline.config import Settings, get_settings
from ragline.stores.artifacts import ArtifactStore
from ragline.stores.blobs import BlobStore, create_blob_store
from ragline.stores.cache_redis import CacheRedis, connect_cache
from ragline.stores.documents import DocumentRegistry, Quota
from ragline.stores.jobs import JobStore
from ragline.stores.lexical import LexicalStore
from ragline.stores.redis_client import connect
from ragline.stores.vectors import VectorIndex
from ragline.stores.workers import WorkerRegistry


class Stores:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()

    @cached_property
    def redis(self):  # noqa: ANN201 - redis.Redis
        return connect(self.settings)

    @cached_property
    def cache(self) -> CacheRedis:
        """Where the embedding and answer caches live: the main Redis unless RAGLINE_CACHE_REDIS_URL names another."""
        return connect_cache(self.settings, self.redis)

    @property
    def quota(self) -> Quota:
        """Each tenant's limits, from settings."""
        settings = self.settings
        return Quota(documents=settings.tenant_max_documents, pages=settings.tenant_max_pages, size_bytes=settings.tenant_max_bytes)

    @cached_property
    def jobs(self) -> JobStore:
        return JobStore(self.redis, self.settings.job_ttl_seconds)

    @cached_property
    def documents(self) -> DocumentRegistry:
        return DocumentRegistry(self.redis)

    @cached_property
    def artifacts(self) -> ArtifactStore:
        settings = self.settings
        return ArtifactStore(
            self.redis, self.blobs, settings.blob_ttl_seconds, settings.intermediate_ttl_seconds, settings.max_transit_bytes
        )

    @cached_property
    def blobs(self) -> BlobStore:
        return create_blob_store(self.settings)

    @cached_property
    def lexical(self) -> LexicalStore:
        return LexicalStore(self.redis, self.blobs)

    @cached_property
    def workers(self) -> WorkerRegistry:
        return WorkerRegistry(self.redis)

    @cached_property
    def index(self) -> VectorIndex:
        return VectorIndex(self.settings.chroma_url, timeout_seconds=self.settings.chroma_timeout_seconds)
