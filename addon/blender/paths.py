"""Where Avatar Forge keeps its files in the user's Blender config folder (never in a .blend)."""

from __future__ import annotations

from pathlib import Path

import bpy


def config_dir() -> Path:
    """<Blender config>/avatar_forge, created on first use."""
    path = Path(bpy.utils.user_resource("CONFIG", path="avatar_forge", create=True))
    return path


def user_presets_dir() -> Path:
    """The user's export presets: TOML files beside the shipped ones, same schema."""
    return config_dir() / "presets"
