"""Checks on the files a command is asked to write, made before any work starts."""

from __future__ import annotations

from pathlib import Path

from ..core.outputs import output_path
from .command import UsageError


def new_output_path(path: Path, suffix: str, force: bool) -> Path:
    """An absolute output path that may be written: right suffix, existing folder, not clobbering, not in
    a storage root (not even with --force: published files are never replaced)."""
    from ..blender.paths import refuse_storage_root

    try:
        out = output_path(path, suffix, overwrite=force)
        refuse_storage_root(out)
    except FileExistsError as exc:
        raise UsageError(f"{exc}; pass --force to replace it") from None
    except (ValueError, PermissionError) as exc:
        raise UsageError(str(exc)) from None
    return out


def existing_file(path: Path, suffix: str) -> Path:
    """An absolute path to a file that must exist and end in `suffix`."""
    path = path.expanduser().absolute()
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    if path.suffix.lower() != suffix:
        raise UsageError(f"{path} is not a {suffix} file")
    return path


def open_blend(path: Path) -> None:
    """Opens a .blend file in Blender; one line (a usage error) when it is missing or unreadable."""
    import bpy

    blend = existing_file(path, ".blend")
    try:
        bpy.ops.wm.open_mainfile(filepath=str(blend))
    except RuntimeError as exc:
        raise UsageError(f"cannot open {blend}: {str(exc).strip().splitlines()[-1]}") from None
