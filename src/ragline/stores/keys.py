"""Every Redis key ragline writes, in one place. Celery's own queue lists are named after the queues.

All live in the main Redis (never evicted) except the caches marked "cache Redis" (RAGLINE_CACHE_REDIS_URL,
stores/cache_redis.py), which may be evicted at any time."""

PREFIX = "ragline"


def job(job_id: str) -> str:
    """Hash: one ingest job's state, stage, progress, error and timings."""
    return f"{PREFIX}:job:{job_id}"


# Artifacts are keyed by job, not by document: two collections may ingest the same bytes at once,
# and one job cleaning up must not pull the input from under the other.


def active_jobs() -> str:
    """Set: ids of jobs not yet done or failed, swept for jobs whose worker vanished."""
    return f"{PREFIX}:jobs:active"


def recovery_lock(job_id: str) -> str:
    """String (TTL): held by whoever is re-sending an orphaned job."""
    return f"{PREFIX}:lock:recover:{job_id}"


def file_move_lock(collection: str, document_id: str) -> str:
    """String (TTL): held by the process moving one original from Redis to the blob store."""
    return f"{PREFIX}:lock:movefile:{collection}:{document_id}"


def blob(job_id: str) -> str:
    """String (TTL): the uploaded bytes of one ingest job."""
    return f"{PREFIX}:blob:{job_id}"


def transit() -> str:
    """Hash: job id -> "BYTES EXPIRES_AT" of each upload whose bytes wait in Redis, counted against a budget."""
    return f"{PREFIX}:transit"


def pages(job_id: str) -> str:
    """String (TTL): extracted page texts, the reader's output for the splitter."""
    return f"{PREFIX}:pages:{job_id}"


def page_parts(job_id: str) -> str:
    """Hash (TTL): first page of a range -> its page texts, written by the page-range reading tasks (OCR)."""
    return f"{PREFIX}:page-parts:{job_id}"


def chunks(job_id: str) -> str:
    """String (TTL): split chunks, the splitter's output for the vector store step."""
    return f"{PREFIX}:chunks:{job_id}"


def job_parts(job_id: str) -> str:
    """Hash (TTL): chunk range start -> "stored embedded" of each page range a fanned-out ingest indexes."""
    return f"{PREFIX}:parts:{job_id}"


def part_plan(job_id: str) -> str:
    """Hash (TTL): the attempt token and page-range count of a fanned-out ingest's current attempt."""
    return f"{PREFIX}:partplan:{job_id}"


def part_pending(job_id: str) -> str:
    """List (TTL): "start:stop" page ranges not sent yet; each range that ends sends the next."""
    return f"{PREFIX}:partpending:{job_id}"


def part_done(job_id: str) -> str:
    """Set (TTL): chunk-range starts of the page ranges the current attempt has stored."""
    return f"{PREFIX}:partdone:{job_id}"


DOCUMENT_FILE_PREFIX = f"{PREFIX}:file:"


def document_file(collection: str, document_id: str) -> str:
    """String (no TTL): where releases before the blob store kept an indexed document's original. Read only to
    move such files to the blob store (stores/legacy_files.py); nothing writes it any more."""
    return f"{DOCUMENT_FILE_PREFIX}{collection}:{document_id}"


def reply(request_id: str) -> str:
    """List (TTL): where a query worker pushes its answer for the API request waiting on it."""
    return f"{PREFIX}:reply:{request_id}"


def documents(collection: str) -> str:
    """Hash: document id -> JSON record (filename, pages, chunks, state, job id) of one collection."""
    return f"{PREFIX}:docs:{collection}"


def collections(tenant: str) -> str:
    """Set: internal names of the tenant's collections that hold at least one document record."""
    return f"{PREFIX}:collections:{tenant}"


def collections_indexed() -> str:
    """String: set once every tenant's collections set has been filled from the documents hashes."""
    return f"{PREFIX}:migrated:collections"


def lexical_manifest(collection: str) -> str:
    """Hash: document id -> version of its lexical index segment in the blob store."""
    return f"{PREFIX}:lexical:{collection}"


def lexical_generation(collection: str) -> str:
    """Counter bumped with every change to the collection's lexical manifest."""
    return f"{PREFIX}:lexgen:{collection}"


def lexical_backfilled() -> str:
    """String: set once every document indexed before lexical segments existed has one."""
    return f"{PREFIX}:migrated:lexical"


def generation(collection: str) -> str:
    """Counter bumped by every ingest or delete in the collection, so cached answers go stale."""
    return f"{PREFIX}:gen:{collection}"


def answer_cache(collection: str, generation_value: int, digest: str) -> str:
    """String (TTL), cache Redis: a finished answer under the collection's generation and the question's digest."""
    return f"{PREFIX}:cache:{collection}:{generation_value}:{digest}"


def answer_in_flight(cache_key: str) -> str:
    """String (TTL): the request id of the query computing this answer; askers of the same question wait for it."""
    return f"{PREFIX}:inflight:{cache_key.removeprefix(PREFIX + ':')}"


def rate(subject: str, window: int) -> str:
    """Counter (TTL): requests of one API key (by hash, never the key) in one rate-limit window."""
    return f"{PREFIX}:rate:{subject}:{window}"


def workers(queue: str) -> str:
    """Sorted set: worker hostname -> time of its last heartbeat, per queue it consumes."""
    return f"{PREFIX}:workers:{queue}"


def embedding_cache(model: str, digest: str) -> str:
    """String (TTL), cache Redis: one float32 vector per model and SHA-256 of a chunk's or sentence's text."""
    return f"{PREFIX}:emb:{model}:{digest}"


def usage(tenant: str) -> str:
    """Hash: documents, pages and bytes of one tenant's documents, checked against its quota."""
    return f"{PREFIX}:usage:{tenant}"


def seed_task(task_id: str) -> str:
    """String (TTL): the tenant that sent one of the seed's demo tasks, the only one /task-status answers."""
    return f"{PREFIX}:seedtask:{task_id}"
