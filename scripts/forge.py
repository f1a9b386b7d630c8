#!/usr/bin/env python3
"""Avatar Forge's command line.

    python scripts/forge.py SUBCOMMAND ...                      (the PyPI bpy module)
    blender -b [file.blend] --python scripts/forge.py -- SUBCOMMAND ...

Run with `--help` for the subcommands. Exit codes: 0 ok, 1 the work found problems, 2 bad usage or input.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

PACKAGE = "avatar_forge"


def _addon_dir() -> Path:
    """The add-on source: $AVATAR_FORGE_ADDON, else the checkout's addon/ beside this script."""
    override = os.environ.get("AVATAR_FORGE_ADDON")
    return Path(override) if override else Path(__file__).resolve().parent.parent / "addon"


def _load_package() -> None:
    """Imports the add-on as `avatar_forge` without registering anything in Blender."""
    if PACKAGE in sys.modules:
        return
    root = _addon_dir()
    spec = importlib.util.spec_from_file_location(PACKAGE, root / "__init__.py", submodule_search_locations=[str(root)])
    if spec is None or spec.loader is None or not (root / "__init__.py").is_file():
        sys.exit(f"forge: error: Avatar Forge sources not found at {root} (set AVATAR_FORGE_ADDON)")
    module = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = module
    spec.loader.exec_module(module)


def _arguments() -> list[str]:
    """Inside a Blender binary our arguments follow `--`; under plain Python they are argv[1:]."""
    argv = sys.argv
    if "--" in argv and "--python" in argv[: argv.index("--")]:
        return argv[argv.index("--") + 1 :]
    return argv[1:]


if __name__ == "__main__":
    _load_package()
    from avatar_forge.cli import main  # type: ignore[import-not-found]

    code = main(_arguments())
    sys.stdout.flush()
    sys.stderr.flush()
    bpy = sys.modules.get("bpy")
    if bpy is not None and Path(bpy.app.tempdir).name.startswith("blender_"):
        # Blender removes its session temp folder at its own exit, which os._exit skips.
        shutil.rmtree(bpy.app.tempdir, ignore_errors=True)
    # bpy (and the VRM Add-on's timers) can hang interpreter shutdown: leave without it.
    os._exit(code)
