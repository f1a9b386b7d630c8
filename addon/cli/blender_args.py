"""What several Blender subcommands do with their arguments before the work: the preset they name,
the VRM Add-on they need, and how much of Blender's own output they show. Blender's modules load only
when called (promote runs without bpy)."""

from __future__ import annotations

import argparse
import sys

from ..core.presets import Preset, PresetError, get_preset
from .command import UsageError


def add_verbose(parser: argparse.ArgumentParser) -> None:
    """--verbose: Blender's own output as it comes. Without it stdout holds the command's report only and
    stderr its progress, with Blender's warnings and errors once each."""
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="print Blender's, the importers' and the exporters' own output (default: their warnings and errors "
        "only, on stderr)",
    )


def preset(name: str) -> Preset:
    """The shipped or user preset called `name`; an unknown or broken one is a usage error."""
    from ..blender import paths

    try:
        return get_preset(name, paths.user_presets_dir())
    except PresetError as exc:
        raise UsageError(str(exc)) from None


def enable_vrm_addon(without_it: str) -> bool:
    """Enables the VRM Add-on; when it is missing, warns on stderr with what happens without it."""
    from ..blender import vrm_addon

    try:
        vrm_addon.ensure_enabled()
    except vrm_addon.VrmAddonMissingError as exc:
        print(f"forge: warning: {exc}; {without_it}", file=sys.stderr)
        return False
    return True
