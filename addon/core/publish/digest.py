"""File digests, read once: sha256 (ours, in requests and indexes) and md5 (what rclone compares)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

CHUNK: Final = 8 * 1024 * 1024


@dataclass(frozen=True)
class FileDigest:
    size: int
    sha256: str  # hex
    md5: str  # hex

    @property
    def md5_base64(self) -> str:
        """rclone's `md5chksum` metadata convention."""
        return base64.b64encode(bytes.fromhex(self.md5)).decode()


def digest_file(path: Path, progress: Callable[[int], None] | None = None) -> FileDigest:
    """Size, sha256 and md5 of a file in one sequential read; `progress` gets each chunk's byte count."""
    sha = hashlib.sha256()
    md5 = hashlib.md5(usedforsecurity=False)
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            sha.update(chunk)
            md5.update(chunk)
            size += len(chunk)
            if progress is not None:
                progress(len(chunk))
    return FileDigest(size, sha.hexdigest(), md5.hexdigest())
