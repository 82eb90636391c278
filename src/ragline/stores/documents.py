"""Which documents each collection holds, their state, the collection's generation counter, which
collections each tenant has, and what each tenant's documents add up to (documents, pages, bytes)
against its quota.

Every change to a record goes through a Lua script that also moves the tenant's usage, so the two
never disagree and two concurrent uploads of the same bytes cannot both win.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import redis

from ragline.domain import DocumentRecord
from ragline.errors import ErrorCode, RaglineError
from ragline.stores import keys
from ragline.tenancy import display, unscope


@dataclass(frozen=True)
class Quota:
    """Per-tenant limits; 0 means no limit."""

    documents: int = 0
    pages: int = 0
    size_bytes: int = 0


@dataclass(frozen=True)
class Usage:
    documents: int = 0
    pages: int = 0
    size_bytes: int = 0


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming a document id: claimed (both None), already held by `holder`, or refused
    because it would pass the tenant's `quota` (a sentence saying which)."""

    holder: DocumentRecord | None = None
    quota: str | None = None


# KEYS: collection's documents hash, tenant's usage hash, tenant's collections set.
# ARGV: document id, record JSON, its bytes, max documents, max pages, max bytes, job id it may replace,
# the collection.
# A record held by a live or finished job wins, unless it names the job the caller means to replace.
_CLAIM = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
local old = nil
if current then
  old = cjson.decode(current)
  local live = old.state == 'queued' or old.state == 'running' or old.state == 'done'
  if live and old.job_id ~= ARGV[7] then
    return {'held', current}
  end
end
local usage = redis.call('HMGET', KEYS[2], 'documents', 'pages', 'bytes')
local documents = tonumber(usage[1]) or 0
local pages = tonumber(usage[2]) or 0
local bytes = tonumber(usage[3]) or 0
local old_pages = old and tonumber(old.pages) or 0
local old_bytes = old and tonumber(old.size_bytes) or 0
local added = old and 0 or 1
local size = tonumber(ARGV[3])
local max_documents, max_pages, max_bytes = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
if max_documents > 0 and documents + added > max_documents then
  return {'quota', 'documents', tostring(documents), ARGV[4]}
end
if max_pages > 0 and pages - old_pages >= max_pages then
  return {'quota', 'pages', tostring(pages), ARGV[5]}
end
if max_bytes > 0 and bytes - old_bytes + size > max_bytes then
  return {'quota', 'bytes', tostring(bytes), ARGV[6]}
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[8])
redis.call('HINCRBY', KEYS[2], 'documents', added)
redis.call('HINCRBY', KEYS[2], 'pages', 0 - old_pages)
redis.call('HINCRBY', KEYS[2], 'bytes', size - old_bytes)
return {'claimed'}
"""

# KEYS: documents hash, usage hash, collections set. ARGV: document id, job id the record must hold ('' for
# any), the collection.
_REMOVE = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return 0 end
local old = cjson.decode(current)
if ARGV[2] ~= '' and old.job_id ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('HLEN', KEYS[1]) == 0 then redis.call('SREM', KEYS[3], ARGV[3]) end
redis.call('HINCRBY', KEYS[2], 'documents', -1)
redis.call('HINCRBY', KEYS[2], 'pages', 0 - (tonumber(old.pages) or 0))
redis.call('HINCRBY', KEYS[2], 'bytes', 0 - (tonumber(old.size_bytes) or 0))
return 1
"""

# KEYS: documents hash, usage hash. ARGV: document id, JSON object of the fields to set.
# Pages are charged here, when a job records them (it does so once, as it ends).
_UPDATE = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return 0 end
local record = cjson.decode(current)
local old_pages = tonumber(record.pages) or 0
for name, value in pairs(cjson.decode(ARGV[2])) do record[name] = value end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(record))
local delta = (tonumber(record.pages) or 0) - old_pages
if delta ~= 0 then redis.call('HINCRBY', KEYS[2], 'pages', delta) end
return 1
"""


# KEYS: documents hash, usage hash, collections set. ARGV: job id, max documents, max pages, max bytes, the
# collection, then each record's JSON.
# All or nothing: the collection must hold no document but this job's (a re-sent import finds its own).
_CLAIM_ALL = """
local existing = redis.call('HVALS', KEYS[1])
for _, raw in ipairs(existing) do
  if cjson.decode(raw).job_id ~= ARGV[1] then return {'occupied', tostring(#existing)} end
end
if #existing > 0 then return {'claimed'} end
local usage = redis.call('HMGET', KEYS[2], 'documents', 'pages', 'bytes')
local documents = tonumber(usage[1]) or 0
local pages = tonumber(usage[2]) or 0
local bytes = tonumber(usage[3]) or 0
local added_pages, added_bytes = 0, 0
for i = 6, #ARGV do
  local record = cjson.decode(ARGV[i])
  added_pages = added_pages + (tonumber(record.pages) or 0)
  added_bytes = added_bytes + (tonumber(record.size_bytes) or 0)
end
local added = #ARGV - 5
local max_documents, max_pages, max_bytes = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if max_documents > 0 and documents + added > max_documents then
  return {'quota', 'documents', tostring(documents), ARGV[2], tostring(added)}
end
if max_pages > 0 and pages + added_pages > max_pages then
  return {'quota', 'pages', tostring(pages), ARGV[3], tostring(added_pages)}
end
if max_bytes > 0 and bytes + added_bytes > max_bytes then
  return {'quota', 'bytes', tostring(bytes), ARGV[4], tostring(added_bytes)}
end
for i = 6, #ARGV do
  redis.call('HSET', KEYS[1], cjson.decode(ARGV[i]).document_id, ARGV[i])
end
redis.call('SADD', KEYS[3], ARGV[5])
redis.call('HINCRBY', KEYS[2], 'documents', added)
redis.call('HINCRBY', KEYS[2], 'pages', added_pages)
redis.call('HINCRBY', KEYS[2], 'bytes', added_bytes)
return {'claimed'}
"""


# KEYS: documents hash, collections set. ARGV: the collection. For collections recorded before the sets
# existed; checked in the script, so a collection emptied meanwhile is not listed again.
_LIST = """
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('SADD', KEYS[2], ARGV[1]) end
"""


# Arithmetic in the scripts is written `0 - x`, never `-x`: Lua's -0 reaches Redis as "-0", which
# HINCRBY refuses as not an integer.


class DocumentRegistry:
    def __init__(self, client: redis.Redis) -> None:
        self._redis = client
        self._claim = client.register_script(_CLAIM)
        self._remove = client.register_script(_REMOVE)
        self._update = client.register_script(_UPDATE)
        self._claim_all = client.register_script(_CLAIM_ALL)
        self._list = client.register_script(_LIST)

    def get(self, collection: str, document_id: str) -> DocumentRecord | None:
        raw = self._redis.hget(keys.documents(collection), document_id)
        return _record(raw) if raw else None

    def claim(self, collection: str, record: DocumentRecord, quota: Quota, replaces: str | None = None) -> Claim:
        """Record `record` unless the collection holds its bytes already (queued, running or done; a
        holder whose job id is `replaces` gives way) or the tenant's usage would pass `quota`."""
        args = [
            record.document_id, json.dumps(asdict(record)), record.size_bytes, quota.documents, quota.pages, quota.size_bytes,
            replaces or "", collection,
        ]
        outcome = self._claim(keys=self._keys(collection), args=args)
        if outcome[0] == b"held":
            return Claim(holder=_record(outcome[1]))
        if outcome[0] == b"quota":
            what, used, limit = (part.decode() for part in outcome[1:])
            return Claim(quota=f"the tenant's {what} quota is used up ({used} of {limit})")
        return Claim()

    def claim_all(self, collection: str, records: list[DocumentRecord], quota: Quota, job_id: str) -> None:
        """Record every one of `records` (all of `job_id`, with their pages and bytes) in one step, or
        none: refused when the collection holds another job's documents or the tenant's usage would pass
        `quota`. Claiming again for the same job changes nothing."""
        args = [job_id, quota.documents, quota.pages, quota.size_bytes, collection, *(json.dumps(asdict(record)) for record in records)]
        outcome = self._claim_all(keys=self._keys(collection), args=args)
        if outcome[0] == b"occupied":
            raise RaglineError(
                ErrorCode.COLLECTION_NOT_EMPTY,
                f"collection '{display(collection)}' holds {outcome[1].decode()} documents; import into a new or empty collection",
            )
        if outcome[0] == b"quota":
            what, used, limit, adding = (part.decode() for part in outcome[1:])
            raise RaglineError(ErrorCode.QUOTA_EXCEEDED, f"the archive adds {adding} {what} to the tenant's {used} of {limit}")

    def update(self, collection: str, document_id: str, **fields: object) -> None:
        self._update(keys=self._keys(collection), args=[document_id, json.dumps(fields)])

    def list(self, collection: str) -> list[DocumentRecord]:
        records = [_record(raw) for raw in self._redis.hvals(keys.documents(collection))]
        return sorted(records, key=lambda record: record.filename)

    def collections(self, tenant: str) -> list[str]:
        """Internal names of the tenant's collections that hold at least one document (its set: no scan)."""
        return sorted(name.decode() for name in self._redis.smembers(keys.collections(tenant)))

    def scan_collections(self) -> Iterator[str]:
        """Every collection that holds a document, by scanning the keyspace: for migrations, never a request."""
        prefix = keys.documents("")
        for key in self._redis.scan_iter(match=keys.documents("*"), count=1000):
            yield key.decode()[len(prefix) :]

    def fill_collection_sets(self) -> int:
        """Fill the tenants' collections sets from the documents hashes, once per deployment: collections
        recorded before the sets existed. Returns how many collections it looked at (0: done before)."""
        if self._redis.exists(keys.collections_indexed()):
            return 0
        seen = 0
        for collection in self.scan_collections():
            self._list(keys=[keys.documents(collection), keys.collections(unscope(collection)[0])], args=[collection])
            seen += 1
        self._redis.set(keys.collections_indexed(), 1)
        return seen

    def count(self, collection: str) -> int:
        return int(self._redis.hlen(keys.documents(collection)))

    def remove(self, collection: str, document_id: str, job_id: str | None = None) -> bool:
        """Forget the document (only if its record is still `job_id`'s, when given) and refund its usage."""
        return bool(self._remove(keys=self._keys(collection), args=[document_id, job_id or "", collection]))

    def usage(self, tenant: str) -> Usage:
        documents, pages, size = self._redis.hmget(keys.usage(tenant), ["documents", "pages", "bytes"])
        return Usage(documents=int(documents or 0), pages=int(pages or 0), size_bytes=int(size or 0))

    def bump_generation(self, collection: str) -> int:
        """Called on every change to a collection's content, so answers cached before it go stale."""
        return int(self._redis.incr(keys.generation(collection)))

    def generation(self, collection: str) -> int:
        return int(self._redis.get(keys.generation(collection)) or 0)

    @staticmethod
    def _keys(collection: str) -> list[str]:
        tenant = unscope(collection)[0]
        return [keys.documents(collection), keys.usage(tenant), keys.collections(tenant)]


def _record(raw: bytes) -> DocumentRecord:
    return DocumentRecord(**json.loads(raw))
