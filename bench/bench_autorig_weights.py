"""The auto-rig's weights alone against the artist's, vertex by vertex: each rigged third-party avatar
(`../shared/corpus`) is fixed as `convert --fix all` would, its meshes are copied in their rest shape without
skin, the copies are auto-rigged with the artist's own skeleton placed (as bench_autorig.py --oracle does),
and one test pose (arms lowered, elbows, knees, hands and feet bent, spine, chest, neck and head turned) is
applied to both weightings by linear blend skinning in numpy. The same vertices, the same joints: what differs
is the weights alone, not the export, the T-pose written to the file or three-vrm's nearest-point matching.

    .venv/bin/python -m bench.bench_autorig_weights [MODEL ...]

Prints per model and mesh how it was bound and the distance between the two posed surfaces (mean, 95th
percentile, worst; percent of the height), then the mean per region (the artist's strongest humanoid bone of
each vertex), worst first.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from bench.common import start_blender

# humanoid bone -> (axis in the rig frame: +X the avatar's left, -Y its front, +Z up; degrees)
POSE = {"leftUpperArm": ((0, 1, 0), 60), "rightUpperArm": ((0, 1, 0), -60), "leftLowerArm": ((0, 0, 1), 60),
        "rightLowerArm": ((0, 0, 1), -60), "leftHand": ((1, 0, 0), 30), "rightHand": ((1, 0, 0), 30),
        "leftShoulder": ((0, 1, 0), 10), "rightShoulder": ((0, 1, 0), -10), "leftUpperLeg": ((1, 0, 0), -35),
        "rightUpperLeg": ((1, 0, 0), -25), "leftLowerLeg": ((1, 0, 0), 60), "rightLowerLeg": ((1, 0, 0), 45),
        "leftFoot": ((1, 0, 0), 20), "rightFoot": ((1, 0, 0), 20), "spine": ((0, 0, 1), 20),
        "chest": ((1, 0, 0), 10), "neck": ((0, 0, 1), 10), "head": ((0, 0, 1), -30)}  # fmt: skip


def _turn(axis: Sequence[float], degrees: float) -> Any:
    a = np.asarray(axis, dtype=np.float64) / np.linalg.norm(axis)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    t = math.radians(degrees)
    return np.eye(3) + math.sin(t) * k + (1 - math.cos(t)) * k @ k


def _posed_bones(plan: Any) -> dict[str, Any]:
    """Each humanoid bone's 4x4 move in the test pose (its parents' moves included)."""
    moves: dict[str, Any] = {}
    for bone in plan.bones:
        move = np.eye(4)
        if bone.name in POSE:
            turn, head = _turn(*POSE[bone.name]), np.array(bone.head)
            move[:3, :3], move[:3, 3] = turn, head - turn @ head
        moves[bone.name] = (moves[bone.parent] if bone.parent else np.eye(4)) @ move
    return moves


def _skinned(points: Any, weights: Any, moves: list[Any]) -> Any:
    out = np.zeros_like(points)
    for column, move in enumerate(moves):
        rows = weights[:, column] > 0
        out[rows] += weights[rows, column, None] * (points[rows] @ move[:3, :3].T + move[:3, 3])
    return out / np.maximum(weights.sum(axis=1), 1e-9)[:, None]


def _artist(name: str) -> tuple[list[Any], dict[str, tuple[list[str | None], Any]], Any]:
    """The avatar's meshes copied bare in their rest shape, each copy's artist weights (the humanoid bone of
    each weight column, and the (N, G) weights), and the artist's skeleton as a plan; nothing else is kept."""
    import bpy

    from addon.blender import avatar_import, context, rig_check, rig_reader, vrm_addon
    from tests.corpus import autorig_harness as harness

    bpy.ops.wm.read_homefile(use_empty=True)
    imported = avatar_import.import_avatar(harness.SHARED_CORPUS / name)
    assert imported.armature is not None
    rig_check.check_rig(imported.armature, None, fix="all")
    armature = bpy.data.objects[imported.armature]
    armature.data.pose_position = "REST"  # type: ignore[union-attr]
    context.view_layer().update()
    humanoid = {bone: vrm for vrm, bone in vrm_addon.humanoid_mapping(armature).items()}
    region: dict[str, str | None] = {}  # every bone -> its nearest mapped humanoid bone up the chain
    for bone in armature.data.bones:  # type: ignore[union-attr]
        up = bone
        while up is not None and up.name not in humanoid:
            up = up.parent
        region[bone.name] = humanoid[up.name] if up is not None else None
    depsgraph = bpy.context.evaluated_depsgraph_get()
    artist: dict[str, tuple[list[str | None], Any]] = {}
    copies = []
    for obj in rig_reader.avatar_meshes(armature):
        copy = bpy.data.objects.new(obj.name + "_bare", bpy.data.meshes.new_from_object(obj.evaluated_get(depsgraph)))
        copy.matrix_world = obj.matrix_world.copy()
        context.scene().collection.objects.link(copy)
        copy.vertex_groups.clear()
        copies.append(copy)
        if obj.parent_type == "BONE":  # a rigid part on a bone
            count = len(copy.data.vertices)  # type: ignore[union-attr]
            artist[copy.name] = ([region.get(obj.parent_bone)], np.ones((count, 1)))
        else:
            groups = [g.name for g in obj.vertex_groups]
            weights = rig_reader.dense_weights(obj.data, groups).astype(np.float64)  # type: ignore[arg-type]
            artist[copy.name] = ([region.get(g) for g in groups], weights)
    oracle = harness._plan_of(armature, copies)
    for obj in [o for o in context.scene().objects if o not in copies]:
        bpy.data.objects.remove(obj, do_unlink=True)
    return copies, artist, oracle


def measure(name: str) -> None:
    import bpy

    from addon.blender import autorig, rig_reader
    from addon.blender.autorig import read
    from addon.blender.autorig.build import bone_name

    copies, artist, oracle = _artist(name)
    result = autorig.auto_rig([o.name for o in copies], planner=lambda parts, version: oracle)
    moves = _posed_bones(oracle)
    vrm_of = {bone_name(b.name): b.name for b in oracle.bones}
    print(f"{name}")
    regions: dict[str, list[float]] = {}
    errors = []
    for binding in result.bindings:
        obj = bpy.data.objects[binding.mesh]
        points = read.read_part(obj).vertices
        bones, weights = artist[obj.name]
        posed = _skinned(points, weights, [moves.get(b or "", np.eye(4)) for b in bones])
        auto = rig_reader.dense_weights(obj.data, result.bones).astype(np.float64)  # type: ignore[arg-type]
        error = np.linalg.norm(posed - _skinned(points, auto, [moves[vrm_of[b]] for b in result.bones]), axis=1)
        error /= oracle.height
        errors.append(error)
        print(f"  {binding.mesh.removesuffix('_bare'):24} {binding.how:7} {len(points):6} vertices  "
              f"{100 * error.mean():5.2f}% mean {100 * np.percentile(error, 95):5.2f}% p95 "
              f"{100 * error.max():5.1f}% worst")  # fmt: skip
        for column, bone in enumerate(bones):
            rows = weights.argmax(axis=1) == column
            regions.setdefault(bone or "(none)", []).extend(error[rows].tolist())
    print(f"  all: {100 * np.concatenate(errors).mean():.2f}% mean; by region: " + ", ".join(
        f"{r} {100 * np.mean(e):.2f}% ({len(e)})"
        for r, e in sorted(regions.items(), key=lambda kv: -sum(kv[1]))[:8] if e
    ), flush=True)  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", help="corpus file names (default: every artist humanoid)")
    args = parser.parse_args()
    start_blender("bench-autorig-weights-")
    from tests.corpus import autorig_harness as harness

    if not harness.SHARED_CORPUS.is_dir():
        print(f"no third-party corpus at {harness.SHARED_CORPUS}", file=sys.stderr)
        return 1
    for name in args.models or harness.ARTISTS:
        measure(name)
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)
