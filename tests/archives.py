"""Taking a collection archive (stores/archive.py) apart and putting it back, to damage or relabel it in tests."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

from ragline.stores.archive import MANIFEST_NAME


def archive_members(archive: bytes) -> dict[str, bytes]:
    """Every member of `archive`, by name, in the archive's order."""
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tar:
        return {member.name: tar.extractfile(member).read() for member in tar}  # type: ignore[union-attr]


def rebuild_archive(members: dict[str, bytes], refresh_manifest: bool = True) -> bytes:
    """A tar of `members` in this order; with `refresh_manifest`, the manifest's checksums match them,
    so only what the members say (not a checksum) can make a reader refuse it."""
    if refresh_manifest:
        manifest = json.loads(members[MANIFEST_NAME])
        manifest["members"] = {
            name: {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()} for name, data in members.items() if name != MANIFEST_NAME
        }
        members = {**members, MANIFEST_NAME: json.dumps(manifest).encode()}
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()
