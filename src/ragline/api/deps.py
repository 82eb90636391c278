"""Dependencies shared by the routers, as Annotated aliases.

All async: FastAPI runs a plain `def` dependency in its thread pool, a hop per dependency per
request that cost the seed endpoints half their throughput (bench/query.py's enqueue comparison).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.concurrency import run_in_threadpool

from ragline.api.auth import Principal, authenticate
from ragline.api.models import COLLECTION_PATTERN, DOCUMENT_ID_PATTERN, JOB_ID_PATTERN
from ragline.api.service import RaglineService
from ragline.errors import ErrorCode, RaglineError
from ragline.tenancy import scope


async def _service(request: Request) -> RaglineService:
    return request.app.state.service


ServiceDep = Annotated[RaglineService, Depends(_service)]


async def principal(request: Request, service: ServiceDep) -> Principal:
    """Authenticate, then charge the request to the caller's rate budget (a Redis call: in a thread)."""
    client = request.client.host if request.client else "unknown"
    service.admission.refuse_blocked_client(client)
    try:
        principal = authenticate(request, service.settings)
    except RaglineError as exc:
        # A wrong key, not a missing one, is a guess: count it against the client's address.
        if exc.code is ErrorCode.UNAUTHORIZED and "authorization" in request.headers:
            await run_in_threadpool(service.admission.count_auth_failure, client)
        raise
    if service.settings.rate_limit_per_minute:
        await run_in_threadpool(service.admission.charge, principal.key_id)
    return principal


PrincipalDep = Annotated[Principal, Depends(principal)]


async def _collection(
    collection: Annotated[
        str,
        Path(
            pattern=COLLECTION_PATTERN,
            description="3-63 characters: letters, digits, '-' and '_', starting and ending with a letter or digit.",
        ),
    ],
    principal: PrincipalDep,
) -> str:
    return scope(principal.tenant, collection)


# The caller's collection, already scoped to their tenant: no router can reach another tenant's.
CollectionName = Annotated[str, Depends(_collection)]
JobId = Annotated[str, Path(pattern=JOB_ID_PATTERN)]
DocumentId = Annotated[str, Path(pattern=DOCUMENT_ID_PATTERN, description="SHA-256 of the PDF's bytes.")]
