"""Checks on the files a command is asked to write, made before any work starts."""

from __future__ import annotations

from pathlib import Path

from .command import UsageError


def new_output_path(path: Path, suffix: str, force: bool) -> Path:
    """An absolute output path that may be written: right suffix, existing folder, not clobbering."""
    path = path.expanduser().absolute()
    if path.suffix.lower() != suffix:
        raise UsageError(f"{path} must end in {suffix}")
    if not path.parent.is_dir():
        raise UsageError(f"folder {path.parent} does not exist")
    if path.is_dir():
        raise UsageError(f"{path} is a folder")
    if path.exists() and not force:
        raise UsageError(f"{path} exists; pass --force to replace it")
    return path


def existing_file(path: Path, suffix: str) -> Path:
    """An absolute path to a file that must exist and end in `suffix`."""
    path = path.expanduser().absolute()
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    if path.suffix.lower() != suffix:
        raise UsageError(f"{path} is not a {suffix} file")
    return path
