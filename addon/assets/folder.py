"""The per-session asset folder: one private folder (mode 0700) per process, created on first use, holding
only files under names made here, never a name a server sent."""

from __future__ import annotations

import re
import tempfile
import threading
from pathlib import Path

_lock = threading.Lock()
_folder: Path | None = None
_SAFE = re.compile(r"[^a-z0-9]+")


def folder() -> Path:
    global _folder  # noqa: PLW0603 (one folder per process)
    with _lock:
        if _folder is None or not _folder.is_dir():
            _folder = Path(tempfile.mkdtemp(prefix="avatar-forge-assets-"))
        return _folder


def name(*parts: str, suffix: str) -> str:
    """A file name from `parts` (lower case letters and digits, joined by '_') and `suffix`, e.g.
    name("brick_wall_02", "1k", "Diffuse", suffix=".jpg") -> "brick_wall_02_1k_diffuse.jpg"."""
    stem = "_".join(filter(None, (_SAFE.sub("_", part.lower()).strip("_") for part in parts)))[:120]
    return f"{stem or 'asset'}{suffix}"
