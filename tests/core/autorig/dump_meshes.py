"""Dumps real avatars' bare meshes and their artists' joints to .npz, for the auto-rig placement tests.

Run with the bpy module: `python dump_meshes.py OUT_DIR MODEL[@DEGREES]...`. Each MODEL becomes
OUT_DIR/<stem>.npz holding, per mesh object, its vertices in world coordinates in the rest shape (the
armature at rest pose) and its triangles, plus the artist's joint (head) of each VRM humanoid bone in world
coordinates; with DEGREES, OUT_DIR/<stem>@DEGREES.npz the same with the arms lowered by the artist's rig to
that angle below horizontal (rest_meshes). Core tests run it in a subprocess, so their own process never
imports bpy.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[3]


Arrays = dict[str, npt.NDArray[np.float64] | npt.NDArray[np.int64]]


def rest_meshes(
    model: Path, arms: float | None = None
) -> tuple[list[tuple[str, npt.NDArray[np.float64], npt.NDArray[np.int64]]], Arrays]:
    """Imports `model` into an empty scene: per visible mesh object (name, world vertices in the rest shape,
    triangles), and the artist's joints as the .npz's `joint_names` and `joints` arrays. With `arms`, the
    artist's rig first lowers both arms to that many degrees below horizontal (upper arm to hand), as an
    A-pose: the meshes and joints are the posed ones."""
    import bpy
    from mathutils import Matrix

    from addon.blender import avatar_import, context, rig_fixes, rig_reader, vrm_addon
    from addon.core.rig import bone_mapping

    bpy.ops.wm.read_homefile(use_empty=True)
    result = avatar_import.import_avatar(model)
    armature = bpy.data.objects[result.armature or ""]
    armature_data = armature.data
    assert isinstance(armature_data, bpy.types.Armature)
    mapping = vrm_addon.humanoid_mapping(armature) if model.suffix == ".vrm" else {}
    if not mapping:
        table = rig_reader.bone_table(armature)
        # Legs hanging from a root bone map once reparented, as convert does it; positions are unchanged.
        changes = bone_mapping.restructure(table)
        mapping = dict(bone_mapping.solve(changes.applied(table) if changes else table).mapping)
        if changes is not None and changes.added:
            # A bone the mapping needs and the rig lacks (RobotExpressive's hands: fingers straight off the
            # forearm), inserted as convert's fix inserts it, so the mapping names bones that exist.
            rig_fixes.insert_bones(armature, changes.added)
    for arm in (o for o in bpy.data.objects if o.type == "ARMATURE"):
        arm.data.pose_position = "REST"  # type: ignore[union-attr]
    pose = armature.pose
    assert pose is not None
    if arms is not None:
        armature_data.pose_position = "POSE"
        for bone in pose.bones:
            bone.matrix_basis = Matrix.Identity(4)
        context.view_layer().update()
        world = armature.matrix_world
        for side in (1, -1):
            upper = pose.bones[mapping["leftUpperArm" if side > 0 else "rightUpperArm"]]
            head = world @ upper.head
            reach = world @ pose.bones[mapping["leftHand" if side > 0 else "rightHand"]].head - head
            now = math.degrees(math.atan2(-reach.z, math.hypot(reach.x, reach.y)))
            # About the front-to-back axis, the arm's tip going down on either side.
            turn = Matrix.Rotation(math.radians(side * (arms - now)), 4, "Y")
            about = Matrix.Translation(head) @ turn @ Matrix.Translation(-head)
            upper.matrix = world.inverted() @ about @ world @ upper.matrix
            context.view_layer().update()
    depsgraph = bpy.context.evaluated_depsgraph_get()
    depsgraph.update()
    meshes = []
    for obj in (o for o in bpy.data.objects if o.type == "MESH" and o.visible_get()):
        evaluated = obj.evaluated_get(depsgraph)
        mesh = evaluated.to_mesh()
        mesh.calc_loop_triangles()
        co = np.empty(len(mesh.vertices) * 3)
        mesh.vertices.foreach_get("co", co)
        tris = np.empty(len(mesh.loop_triangles) * 3, dtype=np.int64)
        mesh.loop_triangles.foreach_get("vertices", tris)
        m = np.array(evaluated.matrix_world)
        world = co.reshape(-1, 3) @ m[:3, :3].T + m[:3, 3]
        evaluated.to_mesh_clear()
        if len(tris):
            meshes.append((obj.name, world, tris.reshape(-1, 3)))
    m = np.array(armature.matrix_world)
    joints = {vrm: m[:3, :3] @ np.array(pose.bones[name].head) + m[:3, 3] for vrm, name in mapping.items()}
    return meshes, {"joint_names": np.array(list(joints)), "joints": np.array(list(joints.values())).reshape(-1, 3)}


def dump(model: Path, out: Path, arms: float | None = None) -> None:
    meshes, joints = rest_meshes(model, arms)
    arrays: Arrays = {}
    for i, (_, world, tris) in enumerate(meshes):
        arrays[f"v{i}"], arrays[f"t{i}"] = world, tris
    np.savez(out, names=np.array([name for name, _, _ in meshes]), **joints, **arrays)


def main() -> int:
    sys.path.insert(0, str(ROOT))
    out_dir = Path(sys.argv[1])
    for spec in sys.argv[2:]:
        model, _, arms = spec.partition("@")
        stem = Path(model).stem + (f"@{arms}" if arms else "")
        dump(Path(model), out_dir / f"{stem}.npz", float(arms) if arms else None)
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)
