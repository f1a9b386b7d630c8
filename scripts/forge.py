#!/usr/bin/env python3
"""Avatar Forge's command line.

    python scripts/forge.py SUBCOMMAND ...                      (the PyPI bpy module)
    blender -b [file.blend] --python scripts/forge.py -- SUBCOMMAND ...

Run with `--help` for the subcommands. Exit codes: 0 ok, 1 the work found problems, 2 bad usage or input.
This script only finds the add-on's sources and runs their entry point, addon/cli/launch.py.
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path


def _addon_dir() -> Path:
    """The add-on source: $AVATAR_FORGE_ADDON, else the checkout's addon/ beside this script."""
    override = os.environ.get("AVATAR_FORGE_ADDON")
    return Path(override) if override else Path(__file__).resolve().parent.parent / "addon"


if __name__ == "__main__":
    launcher = _addon_dir() / "cli" / "launch.py"
    if not launcher.is_file():
        sys.exit(f"forge: error: Avatar Forge sources not found at {_addon_dir()} (set AVATAR_FORGE_ADDON)")
    runpy.run_path(str(launcher), run_name="__main__")
