"""Content hashes of files: the cache keys of references, person models and their inputs."""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_digest(path: Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's content (hex, first 16 characters), the cache key of a reference."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()[:16]
