"""File checksums: the one sha256 of a file's bytes every stage uses to fingerprint artefacts
(the pose model on every `PoseTrack`, frozen evaluators, encoder runs other stages depend on)."""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of the file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
