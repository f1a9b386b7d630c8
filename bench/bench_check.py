#!/usr/bin/env python3
"""The whole rig check on the demo avatar, beside the VRM Add-on's own `bpy.ops.vrm.model_validate()`.

    python bench/bench_check.py [--detail 20] [--repeat 5] [--preset companions-web]

The avatar is built at --detail (20: about 200k vertices), saved, and the saved file opened; both checks
then run in this process on that same file, best of --repeat. The ratio is ours over the add-on's. The
reading step (one pass over the vertices for vertex-group weights, bulk reads for the rest) is shown
apart from the checks themselves, and the weights read through Geometry Nodes beside the one other exact
way, a Python pass over every vertex's groups.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

# Run as a script (python bench/NAME.py), the checkout is not on the path yet.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import best_of, start_blender


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detail", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--preset", default="companions-web")
    args = parser.parse_args()
    bpy = start_blender("bench-check-")
    from addon.blender import demo_avatar, rig_check, rig_reader
    from addon.core.presets import get_preset
    from addon.core.rig import bone_mapping, checks

    preset = get_preset(args.preset)
    bpy.ops.wm.read_homefile(use_empty=True)
    demo_avatar.build_demo_avatar(args.detail)
    blend = Path(tempfile.mkdtemp(prefix="bench-check-file-")) / "Avatar.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    bpy.ops.wm.open_mainfile(filepath=str(blend))

    report = rig_check.check_rig("Avatar", preset)
    model = rig_reader.read_rig("Avatar")
    reading = best_of(args.repeat, lambda: rig_reader.read_rig("Avatar"))[0]
    deciding = best_of(args.repeat, lambda: checks.run_checks(model, preset))[0]
    assert model.armature is not None
    bones = model.armature.bones
    # The humanoid mapping from nothing (a rig as imported): the hierarchy solved as a whole.
    mapping = best_of(args.repeat, lambda: bone_mapping.solve(bones, {}))[0]
    body = bpy.data.objects["AvatarBody"]
    mesh = body.data
    assert isinstance(mesh, bpy.types.Mesh)
    groups = [g.name for g in body.vertex_groups]
    weights_gn = best_of(args.repeat, lambda: rig_reader.dense_weights(mesh, groups))[0]
    weights_loop = best_of(args.repeat, lambda: [(g.group, g.weight) for v in mesh.vertices for g in v.groups])[0]
    addon_result = bpy.ops.vrm.model_validate(show_successful_message=False, armature_object_name="Avatar")
    ours, theirs = best_of(  # alternating, so load on a shared machine falls on both alike
        args.repeat,
        lambda: rig_check.check_rig("Avatar", preset),
        lambda: bpy.ops.vrm.model_validate(show_successful_message=False, armature_object_name="Avatar"),
    )
    print(f"demo avatar --detail {args.detail}: {report.stats['vertices']} vertices, "
          f"{report.stats['triangles']} triangles, {report.stats['bones']} bones; best of {args.repeat}")  # fmt: skip
    print(f"  forge check (read + checks)  {ours:7.3f} s   ({len(report.findings)} findings, ok={report.ok})")
    print(f"    reading the scene          {reading:7.3f} s")
    print(f"    the checks (numpy)         {deciding:7.3f} s")
    print(f"    auto-map from nothing      {mapping:7.3f} s   ({len(bones)} bones; inside the checks when unmapped)")
    print(f"  weights via Geometry Nodes   {weights_gn:7.3f} s   (a Python pass: {weights_loop:.3f} s, "
          f"{weights_loop / weights_gn:.1f}x)")  # fmt: skip
    print(f"  vrm.model_validate()         {theirs:7.3f} s   ({sorted(addon_result)[0]})")
    print(f"  ratio forge / model_validate {ours / theirs:7.2f}")
    sys.stdout.flush()
    os._exit(0)  # bpy with the VRM Add-on can hang at interpreter exit


if __name__ == "__main__":
    raise SystemExit(main())
