"""Every Redis key ragline writes, in one place. Celery's own queue lists are named after the queues."""

PREFIX = "ragline"


def job(job_id: str) -> str:
    """Hash: one ingest job's state, stage, progress, error and timings."""
    return f"{PREFIX}:job:{job_id}"


def blob(document_id: str) -> str:
    """String (TTL): the uploaded PDF bytes; the document id is their SHA-256."""
    return f"{PREFIX}:blob:{document_id}"


def pages(document_id: str) -> str:
    """String (TTL): extracted page texts, the reader's output for the splitter."""
    return f"{PREFIX}:pages:{document_id}"


def chunks(document_id: str) -> str:
    """String (TTL): split chunks, the splitter's output for the vector store step."""
    return f"{PREFIX}:chunks:{document_id}"


def documents(collection: str) -> str:
    """Hash: document id -> JSON record (filename, pages, chunks, state, job id) of one collection."""
    return f"{PREFIX}:docs:{collection}"


def generation(collection: str) -> str:
    """Counter bumped by every ingest or delete in the collection, so cached answers go stale."""
    return f"{PREFIX}:gen:{collection}"


def answer_cache(collection: str, generation_value: int, digest: str) -> str:
    return f"{PREFIX}:cache:{collection}:{generation_value}:{digest}"


def embedding_cache(model: str, digest: str) -> str:
    return f"{PREFIX}:emb:{model}:{digest}"
