"""Checks on the files a command is asked to write, made before any work starts."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..core.errors import OutputExistsError
from ..core.outputs import output_path
from .command import UsageError


def new_output_path(path: Path, suffix: str, force: bool) -> Path:
    """An absolute output path that may be written: right suffix, existing folder, not clobbering, not in
    a storage root (not even with --force: published files are never replaced)."""
    from ..blender.paths import refuse_storage_root

    try:
        out = output_path(path, suffix, overwrite=force)
        refuse_storage_root(out)
    except OutputExistsError as exc:  # the other InputErrors say all there is to say
        raise UsageError(f"{exc}; pass --force to replace it") from None
    return out


def existing_file(path: Path, suffix: str) -> Path:
    """An absolute path to a file that must exist and end in `suffix`."""
    path = path.expanduser().absolute()
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    if path.suffix.lower() != suffix:
        raise UsageError(f"{path} is not a {suffix} file")
    return path


def open_blend(path: Path, *, untrusted: bool = False, verbose: bool = False) -> None:
    """Opens a .blend file in Blender; one line (a usage error) when it is missing or unreadable. Blender's
    `Read blend: ...` and what the file's scripts print stay off stdout unless `verbose`.

    The user's own file (`--blend`) opens as Blender opens it: its scripts run only when the user's "Auto
    Run Python Scripts" preference says so. An untrusted one (a batch source anyone with write access to
    the bucket could have put there) never runs them: no registered text block, no Python driver."""
    import bpy

    from ..blender import console

    blend = existing_file(path, ".blend")
    preferences = bpy.context.preferences
    assert preferences is not None  # None only while Blender starts
    use_scripts = not untrusted and preferences.filepaths.use_scripts_auto_execute
    try:
        with console.quiet(verbose):
            bpy.ops.wm.open_mainfile(filepath=str(blend), use_scripts=use_scripts)
    except RuntimeError as exc:
        raise UsageError(f"cannot open {blend}: {str(exc).strip().splitlines()[-1]}") from None


def open_given_blend(args: argparse.Namespace) -> None:
    """Opens --blend, when given, for a command that checked its other arguments first (`own_blend`)."""
    if args.blend is not None:
        open_blend(args.blend, verbose=getattr(args, "verbose", False))
