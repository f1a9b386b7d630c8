#!/usr/bin/env python3
"""Clip export time: Avatar Forge's export_clip beside the VRM Add-on's bare VRMA writer on the same action.

    python bench/bench_clip.py [--seconds 2 10] [--repeat 3]

On the demo avatar (detail 1, 54 bones), an action of --seconds at 24 fps turning the arms, spine and head
and moving the hips. Avatar Forge's figure is the whole export_clip (reading the action's keys, the clip
check, the add-on's writer, reading the written file back with the promoter's check, putting the scene
back); the baseline is `bpy.ops.export_scene.vrma` alone on the same scene. Runs alternate, best of
--repeat; ratio = ours / the add-on's (what the check and the verification cost).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import best_of, start_blender

FPS = 24


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, nargs="+", default=[2, 10])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    bpy = start_blender("bench-clip-")
    import mathutils

    from addon.blender import animation_export, demo_avatar

    work = Path(tempfile.mkdtemp(prefix="bench-clip-"))
    writer: Any = getattr(bpy.ops.export_scene, "vrma")  # noqa: B009 (the VRM Add-on's: no stub)
    print(f"{'seconds':>7} {'frames':>6} {'ours s':>8} {'add-on s':>8} {'ratio':>6} {'kB':>7}")
    for seconds in args.seconds:
        bpy.ops.wm.read_homefile(use_empty=True)
        demo_avatar.build_demo_avatar(1)
        armature: Any = bpy.data.objects["Avatar"]
        scene: Any = bpy.context.scene
        frames = seconds * FPS + 1
        scene.render.fps, scene.frame_start, scene.frame_end = FPS, 1, frames
        armature.animation_data_create()
        armature.animation_data.action = bpy.data.actions.new("Bench")
        for frame in range(1, frames + 1, 6):
            swing = math.sin(frame / FPS * math.pi)
            for bone, axis in (("UpperArm.L", (1, 0, 0)), ("UpperArm.R", (1, 0, 0)), ("Spine", (0, 1, 0)),
                               ("Head", (0, 0, 1))):  # fmt: skip
                pose = armature.pose.bones[bone]
                pose.rotation_mode = "QUATERNION"
                pose.rotation_quaternion = mathutils.Quaternion(axis, 0.5 * swing)
                pose.keyframe_insert("rotation_quaternion", frame=frame)
            armature.pose.bones["Hips"].location = (0, 0.05 * swing, 0)
            armature.pose.bones["Hips"].keyframe_insert("location", frame=frame)
        ours_out, bare_out = work / f"ours-{seconds}.vrma", work / f"bare-{seconds}.vrma"

        def ours(out: Path = ours_out, clip: tuple[int, int] = (1, frames)) -> None:
            animation_export.export_clip(out, overwrite=True, frames=clip)

        def bare(out: Path = bare_out) -> None:
            writer(filepath=str(out), armature_object_name="Avatar")

        mine, theirs = best_of(args.repeat, ours, bare)
        size = os.path.getsize(ours_out) / 1e3
        print(f"{seconds:>7} {frames:>6} {mine:>8.3f} {theirs:>8.3f} {mine / theirs:>6.2f} {size:>7.1f}")
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
