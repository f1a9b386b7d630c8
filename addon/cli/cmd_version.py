"""`forge.py version`: this extension's, Blender's and the VRM Add-on's versions."""

from __future__ import annotations

import argparse
import sys

from ..core.version import VERSION
from .command import Command, Result


def _run(args: argparse.Namespace) -> Result:
    import bpy

    from ..blender import vrm_addon

    data: dict[str, object] = {
        "avatar_forge": VERSION,
        "blender": bpy.app.version_string,
        "python": sys.version.split()[0],
        "vrm_addon": vrm_addon.version(),
    }
    return Result(data, [f"{key}: {value if value is not None else 'not installed'}" for key, value in data.items()])


COMMAND = Command("version", "print the versions of Avatar Forge, Blender and the VRM Add-on", lambda p: None, _run)
