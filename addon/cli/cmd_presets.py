"""`forge.py presets`: the export presets, shipped and the user's."""

from __future__ import annotations

import argparse

from ..core.presets import PresetError, load_presets
from .command import Command, Result, UsageError


def _run(args: argparse.Namespace) -> Result:
    from ..blender import paths

    user_dir = paths.user_presets_dir()
    try:
        presets = load_presets(user_dir)
    except PresetError as exc:
        raise UsageError(str(exc)) from None
    data = {"user_dir": str(user_dir), "presets": [p.to_json() for p in presets.values()]}
    width = max((len(name) for name in presets), default=0)
    lines = [
        f"{p.name:<{width}}  VRM {p.spec_version:<3}  {p.budgets.triangles:>6} tris  "
        f"{p.max_texture_size:>4}px  {p.budgets.file_size_mb:g} MB  {p.description}"
        for p in presets.values()
    ]
    lines.append(f"user presets: {user_dir}/*.toml")
    return Result(data, lines)


COMMAND = Command("presets", "list the VRM export presets (shipped, and yours)", lambda p: None, _run)
