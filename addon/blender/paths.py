"""Where Avatar Forge keeps its files in the user's Blender config folder (never in a .blend), and the
storage roots no export may write into."""

from __future__ import annotations

from pathlib import Path

import bpy

from ..core import settings
from ..core.outputs import refuse_protected


def config_dir() -> Path:
    """<Blender config>/avatar_forge, created on first use."""
    path = Path(bpy.utils.user_resource("CONFIG", path="avatar_forge", create=True))
    return path


def user_presets_dir() -> Path:
    """The user's export presets: TOML files beside the shipped ones, same schema."""
    return config_dir() / "presets"


def storage_roots() -> list[str]:
    """Where published files live: the storage root publish writes to (the preference) and the default
    one (the image's, or AVATAR_FORGE_STORAGE_ROOT). (Publishing to S3 writes no local folder; a mount of
    that bucket is the storage root.)"""
    from .. import preferences

    prefs = preferences.get()
    folders = [settings.DEFAULT_STORAGE_ROOT]
    if prefs is not None and prefs.storage_root:
        folders.append(bpy.path.abspath(prefs.storage_root))
    return folders


def refuse_storage_root(path: Path) -> None:
    """Raises PermissionError when `path` (links resolved) is inside a storage root: published files are
    immutable and only publish writes there. Every export checks this, the CLI's, the socket's and the
    sidebar's, with or without --force / overwrite."""
    refuse_protected(path, storage_roots())
