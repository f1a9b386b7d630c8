"""The checks on a file about to be written, shared by the CLI, the socket and the sidebar."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from .errors import BadOutputError, OutputExistsError, ProtectedPathError


def output_path(path: Path, suffix: str, *, overwrite: bool) -> Path:
    """The absolute path that will be written (its folder's links resolved, `..` gone): the right
    suffix, an existing folder, nothing clobbered.

    Raises BadOutputError (a ValueError) for a path that can never be written, OutputExistsError (a
    FileExistsError) when `overwrite` is off and a file is already there.
    """
    path = path.expanduser().absolute()
    if path.suffix.lower() != suffix:
        raise BadOutputError(f"{path} must end in {suffix}")
    if not path.parent.is_dir():
        raise BadOutputError(f"folder {path.parent} does not exist")
    path = Path(os.path.realpath(path.parent)) / path.name
    if path.is_dir():
        raise BadOutputError(f"{path} is a folder")
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} exists")
    return path


def refuse_protected(path: Path, protected: Iterable[str | Path]) -> None:
    """Raises ProtectedPathError (a PermissionError) when `path` (links resolved) is in one of the `protected`
    folders: the storage root and the publish targets, where published files are immutable and only publish
    writes."""
    real = Path(os.path.realpath(path))
    for folder in protected:
        root = Path(os.path.realpath(Path(folder).expanduser()))
        if real.is_relative_to(root):
            raise ProtectedPathError(
                f"{path} is inside {folder}, where published files live: only publish writes there; "
                "export somewhere else"
            )


def place_new(scratch: Path, out: Path) -> None:
    """Moves the finished file `scratch` to `out`, which must not exist: never replaces a file, and never
    writes through a link (a symlink or a hard link) that appeared at `out` meanwhile."""
    try:
        os.link(scratch, out)  # fails on anything at `out`, a dangling symlink included
    except FileExistsError:
        raise OutputExistsError(f"{out} exists") from None
    except OSError:  # a file system without hard links: an exclusive create that follows no link
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
        try:
            handle = os.open(out, flags, 0o644)
        except FileExistsError:
            raise OutputExistsError(f"{out} exists") from None
        with os.fdopen(handle, "wb") as target, scratch.open("rb") as source:
            shutil.copyfileobj(source, target)
    scratch.unlink()
