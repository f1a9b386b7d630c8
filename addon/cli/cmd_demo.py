"""`forge.py demo-avatar`: build the demo humanoid, save it, optionally render it."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .blender_args import enable_vrm_addon
from .command import Command, Result, UsageError
from .paths import new_output_path


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, type=Path, help="the .blend file to write")
    parser.add_argument("--detail", type=int, default=1, help="about 10k vertices per step (1-40, default 1)")
    parser.add_argument("--render", type=Path, help="also render a front view to this PNG")
    parser.add_argument("--engine", choices=("workbench", "cycles"), default="workbench", help="render engine")
    parser.add_argument("--force", action="store_true", help="replace --out/--render when they exist")


def _run(args: argparse.Namespace) -> Result:
    import bpy

    from ..blender import demo_avatar, render, vrm_addon

    out = new_output_path(args.out, ".blend", args.force)
    image = new_output_path(args.render, ".png", args.force) if args.render else None
    if not 1 <= args.detail <= demo_avatar.MAX_DETAIL:
        raise UsageError(f"--detail must be between 1 and {demo_avatar.MAX_DETAIL}, got {args.detail}")
    started = time.perf_counter()
    enable_vrm_addon("the avatar is built without its VRM mapping")
    if not args.blend:
        bpy.ops.wm.read_homefile(use_empty=True)
    avatar = demo_avatar.build_demo_avatar(args.detail)
    mesh = avatar.body.data
    assert isinstance(mesh, bpy.types.Mesh)
    # Saved as a copy under the final name by Blender itself (it writes a temp file and renames).
    bpy.ops.wm.save_as_mainfile(filepath=str(out), check_existing=False, copy=True)
    if image is not None:
        render.render_still(image, engine=args.engine)
    shape_keys = [k.name for k in mesh.shape_keys.key_blocks][1:] if mesh.shape_keys else []
    data = {
        "out": str(out),
        "render": str(image) if image else None,
        "armature": avatar.armature.name,
        "body": avatar.body.name,
        "vertices": len(mesh.vertices),
        "triangles": sum(len(p.vertices) - 2 for p in mesh.polygons),
        "bones": len(avatar.armature.data.bones),  # type: ignore[union-attr]
        "shape_keys": shape_keys,
        "vrm_mapped": vrm_addon.is_enabled(),
        "seconds": round(time.perf_counter() - started, 3),
    }
    lines = [f"wrote {out} ({data['vertices']} vertices, {data['bones']} bones, {len(shape_keys)} shape keys)"]
    if image:
        lines.append(f"rendered {image}")
    return Result(data, lines)


COMMAND = Command("demo-avatar", "build the VRM-ready demo humanoid into a .blend", _add_arguments, _run)
