#!/usr/bin/env python3
"""Export time of the demo avatar with a preset, beside a bare `bpy.ops.export_scene.vrm` of the same scene.

    python bench/bench_export.py [--detail 1 20] [--repeat 3] [--preset companions-web]

Both run in this process on the same scene, thumbnail off, alternating; the best of --repeat runs of each is
reported and the ratio is Avatar Forge's time over the bare exporter's (the price of the rig check, the
preset and the atomic write). Avatar Forge runs first, so the bare exporter sees the preset applied.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
from functools import partial
from pathlib import Path

# Run as a script (python bench/NAME.py), the checkout is not on the path yet.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import best_of, start_blender


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detail", type=int, nargs="+", default=[1, 20])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--preset", default="companions-web")
    args = parser.parse_args()
    bpy = start_blender("bench-export-")
    from addon.blender import demo_avatar, vrm_export
    from addon.core.presets import get_preset

    preset = dataclasses.replace(get_preset(args.preset), thumbnail=False)
    out = Path(tempfile.mkdtemp(prefix="bench-export-out-"))
    print(f"preset {preset.name}, best of {args.repeat}", flush=True)
    print(f"{'detail':>6} {'vertices':>9} {'MB':>6} {'forge s':>8} {'bare s':>8} {'ratio':>6}", flush=True)
    for detail in args.detail:
        bpy.ops.wm.read_homefile(use_empty=True)
        avatar = demo_avatar.build_demo_avatar(detail)
        forge_file, bare_file = out / f"forge-{detail}.vrm", out / f"bare-{detail}.vrm"
        forge, bare = best_of(
            args.repeat,
            partial(vrm_export.export_vrm, forge_file, preset, overwrite=True),
            partial(bpy.ops.export_scene.vrm, filepath=str(bare_file), armature_object_name=avatar.armature.name),
        )
        vertices = len(avatar.body.data.vertices)  # type: ignore[union-attr]
        size = forge_file.stat().st_size / 1e6
        print(f"{detail:>6} {vertices:>9} {size:>6.1f} {forge:>8.2f} {bare:>8.2f} {forge / bare:>6.2f}", flush=True)
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)  # bpy and the VRM Add-on can hang interpreter shutdown
