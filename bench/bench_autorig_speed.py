"""The auto-rig's own time, per stage, wall-clock and CPU, on a generated humanoid of about --vertices
vertices (tests/corpus/primitives.py's figure with its eyes, teeth, glasses, knee pad and armour plate,
every edge cut until the whole has that many), on a generator-like shell of about as many (a real body's
bare meshes fused as AI generators and scans hand a body over: tests/corpus/generated.py joins them,
voxel-remeshes them at FUSED_VOXEL of the height and decimates the one shell) and on the bare corpus meshes
(each rigged third-party avatar stripped of its skeleton as tests/corpus/autorig_harness.py does), against
a same-run baseline: Blender's own automatic weights alone (bone heat, `parent_set(type='ARMATURE_AUTO')`)
on the same meshes with the auto-rig's skeleton already built.

    .venv/bin/python -m bench.bench_autorig_speed [--repeat N] [--vertices N] [MODEL ...]

MODEL is `generated`, `fused` (Quaternius' casual woman fused), `fused:FILE` (FILE fused: a third-party or
built corpus file, such as fbx2gltf/chibi.glb, or a model's path) or a third-party corpus file name (default:
the generated humanoid, the two fused shells, then every artist humanoid).
Prints per model: its vertices, the best auto_rig wall and CPU seconds over N rounds and the baseline's
(the two alternating, so load on a shared machine falls on both alike), their ratios, and the stages of the
auto-rig's best round (wall / CPU seconds). CPU seconds are this process's, all its threads.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, start_blender

GENERATED = "generated"
FUSED = "fused"
FUSED_SOURCE = "glb_quaternius_women_casual.glb"
# The built corpus's chibi fused: the underside of its big head overhangs the shoulders, nearest the upper
# arms, and bone heat puts it on the head, which those vertices may not follow.
FUSED_CHIBI = "fused:fbx2gltf/chibi.glb"
BUILT = ROOT / "out" / "corpus"
# Fine enough that every corpus body's remesh has more than 60k triangles to decimate from (0.7%, the
# placement tests' size, gives Quaternius' casual woman 15k vertices).
FUSED_VOXEL = 0.005


def _generated(path: Path, vertices: int) -> Path:
    """The primitive humanoid with its hard parts, its body's edges each cut as often as brings the body
    nearest to `vertices` vertices, written as a .glb."""
    import bmesh
    import bpy

    from addon.blender import context
    from tests.corpus import primitives

    def build() -> None:
        primitives.padded()
        meshes = [o.data for o in context.scene().objects if isinstance(o.data, bpy.types.Mesh)]
        totals: dict[int, int] = {}
        for cuts in range(1, 64):
            totals[cuts] = 0
            for mesh in meshes:
                edit = bmesh.new()
                edit.from_mesh(mesh)
                bmesh.ops.subdivide_edges(edit, edges=edit.edges[:], cuts=cuts, use_grid_fill=True)
                totals[cuts] += len(edit.verts)
                edit.free()
            if totals[cuts] >= vertices:
                break
        cuts = min(totals, key=lambda c: abs(totals[c] - vertices))
        for mesh in meshes:
            edit = bmesh.new()
            edit.from_mesh(mesh)
            bmesh.ops.subdivide_edges(edit, edges=edit.edges[:], cuts=cuts, use_grid_fill=True)
            edit.to_mesh(mesh)
            edit.free()
            # Flat faces and UV seams would each be split apart in the file: more vertices than asked for.
            mesh.shade_smooth()
            while mesh.uv_layers:
                mesh.uv_layers.remove(mesh.uv_layers[0])

    return primitives.write_glb(build, path, primitives.hard_parts)


def _fused(bare: Path, path: Path, vertices: int) -> Path:
    """The bare model's meshes fused into one shell as a generator hands a body over, decimated to about
    `vertices` vertices (a closed shell has two triangles per vertex), written as a .glb."""
    import bpy

    from tests.corpus import generated

    _import(bare)
    generated.fuse(FUSED_VOXEL, 2 * vertices)
    bpy.ops.export_scene.gltf(filepath=str(path), export_format="GLB")
    return path


def _import(bare: Path) -> int:
    import bpy

    from addon.blender import avatar_import

    bpy.ops.wm.read_homefile(use_empty=True)
    avatar_import.import_avatar(bare, bare_ok=True)
    gc.collect()
    return sum(len(o.data.vertices) for o in bpy.data.objects if isinstance(o.data, bpy.types.Mesh))


def _auto_rig(bare: Path) -> tuple[float, float, dict[str, float], dict[str, float]]:
    """(wall s, CPU s, stage wall s, stage CPU s) of auto_rig on a fresh import of `bare`."""
    from addon.blender import autorig

    _import(bare)
    wall, cpu = time.perf_counter(), time.process_time()
    result = autorig.auto_rig()
    return time.perf_counter() - wall, time.process_time() - cpu, result.seconds, result.cpu_seconds


def _bone_heat(bare: Path) -> tuple[float, float]:
    """(wall s, CPU s) of Blender's bone heat alone on a fresh import of `bare`, with the skeleton the
    auto-rig places built first (untimed)."""
    import mathutils

    from addon.blender import context
    from addon.blender.autorig import build, read, weights
    from addon.core.autorig import place

    _import(bare)
    meshes = [o for o in context.scene().objects if o.type == "MESH"]
    plan = place.plan_rig(read.read_parts(meshes))
    build.apply_frame(meshes, mathutils.Matrix(plan.to_rig_frame))
    armature = build.build_armature(plan, context.scene().collection)
    wall, cpu = time.perf_counter(), time.process_time()
    weights.bone_heat(meshes, armature)
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the best of each is kept (default 3)")
    parser.add_argument("--vertices", type=int, default=30000, help="the generated humanoid's (default 30000)")
    parser.add_argument("models", nargs="*", help=f"{GENERATED!r} or corpus file names (default: all)")
    args = parser.parse_args()
    start_blender("bench-autorig-speed-")
    from tests.corpus import autorig_harness as harness

    work = Path(tempfile.mkdtemp(prefix="bench-autorig-speed-"))
    print(f"{'model':34} {'verts':>6} {'auto_rig s':>10} {'heat alone s':>12} {'ratio':>5}  {'CPU s':>5} "
          f"{'heat alone':>10} {'ratio':>5}  stages of the best auto_rig, wall/CPU s")  # fmt: skip
    for name in args.models or [GENERATED, FUSED, FUSED_CHIBI, *harness.ARTISTS]:
        folder = work / Path(name.replace(":", "-")).stem
        folder.mkdir()
        if name == GENERATED:
            bare = _generated(folder / "generated.glb", args.vertices)
        else:
            fused = name == FUSED or name.startswith(f"{FUSED}:")
            source = (name.partition(":")[2] or FUSED_SOURCE) if fused else name
            model = next((d / source for d in (harness.SHARED_CORPUS, BUILT) if (d / source).is_file()), Path(source))
            if not model.is_file():
                print(f"{name:34} absent: {model}", flush=True)
                continue
            bare = harness.strip(model, folder / "bare.glb").bare
            if fused:
                bare = _fused(bare, folder / "fused.glb", args.vertices)
        vertices = _import(bare)
        auto_wall = auto_cpu = heat_wall = heat_cpu = math.inf
        stages = ""
        for _ in range(args.repeat):
            wall, cpu, stage_wall, stage_cpu = _auto_rig(bare)
            if wall < auto_wall:
                stages = " ".join(f"{k} {stage_wall[k]:.2f}/{stage_cpu[k]:.2f}" for k in stage_wall)
            auto_wall, auto_cpu = min(auto_wall, wall), min(auto_cpu, cpu)
            wall, cpu = _bone_heat(bare)
            heat_wall, heat_cpu = min(heat_wall, wall), min(heat_cpu, cpu)
        print(f"{name:34} {vertices:6} {auto_wall:10.2f} {heat_wall:12.2f} {auto_wall / heat_wall:5.2f}  "
              f"{auto_cpu:5.2f} {heat_cpu:10.2f} {auto_cpu / heat_cpu:5.2f}  {stages}", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)
