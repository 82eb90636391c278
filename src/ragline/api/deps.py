"""Dependencies shared by the routers, as Annotated aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from ragline.api.models import COLLECTION_PATTERN, DOCUMENT_ID_PATTERN, JOB_ID_PATTERN
from ragline.api.service import RaglineService


def _service(request: Request) -> RaglineService:
    return request.app.state.service


ServiceDep = Annotated[RaglineService, Depends(_service)]
CollectionName = Annotated[
    str,
    Path(
        pattern=COLLECTION_PATTERN,
        description="3-63 characters: letters, digits, '-' and '_', starting and ending with a letter or digit.",
    ),
]
JobId = Annotated[str, Path(pattern=JOB_ID_PATTERN)]
DocumentId = Annotated[str, Path(pattern=DOCUMENT_ID_PATTERN, description="SHA-256 of the PDF's bytes.")]
