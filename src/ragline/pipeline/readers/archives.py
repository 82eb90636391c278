"""ZIP packages (DOCX, PPTX, XLSX, EPUB) checked before any parser opens them: a zip bomb is refused
from its central directory, before one byte is inflated.

Python's zipfile never inflates a member past the size its directory entry declares (and fails the
CRC check if the data goes on), so bounding the declared sizes bounds what the parsers can read.
"""

from __future__ import annotations

import io
import zipfile

from ragline.errors import ErrorCode, RaglineError

MAX_MEMBERS = 10_000
# Members this small may compress as well as they like (a run of blanks in a stylesheet).
RATIO_FREE_BYTES = 1024 * 1024


def check_archive(data: bytes, max_bytes: int, max_ratio: int) -> None:
    """Refuse an archive that would expand past `max_bytes` in all, or a member past `max_ratio`.

    >>> check_archive(b"not a zip", 1024, 100)
    Traceback (most recent call last):
    ...
    ragline.errors.RaglineError: malformed_document: the ZIP package cannot be read (truncated or damaged?): File is not a zip file
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError) as exc:
        raise RaglineError(ErrorCode.MALFORMED_DOCUMENT, f"the ZIP package cannot be read (truncated or damaged?): {exc}") from exc
    if len(members) > MAX_MEMBERS:
        raise RaglineError(ErrorCode.DOCUMENT_TOO_LARGE, f"the package holds {len(members)} files, more than {MAX_MEMBERS}")
    total = sum(member.file_size for member in members)
    if total > max_bytes:
        raise RaglineError(
            ErrorCode.DOCUMENT_TOO_LARGE,
            f"the package would expand to {total} bytes, more than the {max_bytes} allowed (RAGLINE_MAX_ARCHIVE_BYTES)",
        )
    for member in members:
        if member.file_size > RATIO_FREE_BYTES and member.file_size > max_ratio * max(member.compress_size, 1):
            raise RaglineError(
                ErrorCode.DOCUMENT_TOO_LARGE,
                f"{member.filename} would expand {member.file_size // max(member.compress_size, 1)}-fold, more than "
                f"{max_ratio} (RAGLINE_MAX_ARCHIVE_RATIO): a zip bomb?",
            )
