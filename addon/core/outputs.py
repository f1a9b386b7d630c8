"""The one check on a file about to be written, shared by the CLI, the socket and the sidebar."""

from __future__ import annotations

from pathlib import Path


def output_path(path: Path, suffix: str, *, overwrite: bool) -> Path:
    """An absolute path that may be written: the right suffix, an existing folder, nothing clobbered.

    Raises ValueError for a path that can never be written, FileExistsError when `overwrite` is off
    and a file is already there.
    """
    path = path.expanduser().absolute()
    if path.suffix.lower() != suffix:
        raise ValueError(f"{path} must end in {suffix}")
    if not path.parent.is_dir():
        raise ValueError(f"folder {path.parent} does not exist")
    if path.is_dir():
        raise ValueError(f"{path} is a folder")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists")
    return path
