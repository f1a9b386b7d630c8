"""The auto-rig measured against the artists: a rigged avatar's skeleton stripped off (a bare .glb of its
meshes in their rest shape), the bare mesh auto-rigged and converted, and the VRMs compared in three-vrm
(tests/node/autorig_compare.mjs): the joints with the artist's skeleton placed on the same bare mesh and
converted the same way (the reference), the posed surface with the artist's own rig converted. Shared by
tests/corpus/test_autorig.py and bench/bench_autorig.py; runs in a process with bpy loaded and the VRM
Add-on enabled."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bpy
import numpy as np

from addon.blender import avatar_import, context, rig_check, rig_reader, vrm_addon
from addon.blender.autorig import read
from addon.blender.convert import convert
from addon.core.autorig import Bone, MeshPart, RigPlan, place
from addon.core.presets import Preset
from addon.core.rig import humanoid

ROOT = Path(__file__).resolve().parent.parent.parent
NODE_DIR = ROOT / "tests" / "node"
SHARED_CORPUS = ROOT.parent / "shared" / "corpus"
# The artists' humanoids.
ARTISTS = (
    "glb_quaternius_women_casual.glb",
    "fbx_quaternius_female_casual.fbx",
    "fbx_seedsan_univrm.fbx",
    "vrm0_godette.vrm",
)
# Robots: rigid parts carried by bones (three-vrm poses those through their bones too, so the posed surfaces
# compare), RobotExpressive with skinned hands.
ROBOTS = ("glb_robot_expressive.glb",)
# Bare meshes the auto-rig refuses, with the start of the reason: the debug robot's "body" is an axis marker on
# each of 22 bones (three bars, a gap between every two), which no cut reads as limbs; its two sides' shoulders
# come out over a quarter of the height apart once mirrored.
REFUSED = {"vrm1_debug_robot.vrm": "not a standing humanoid: left and right do not mirror: the "}


@dataclass(frozen=True)
class Stripped:
    bare: Path
    oracle: RigPlan  # the artist's own skeleton as a plan (in the bare mesh's world frame)
    vertices: int


def _plan_of(armature: bpy.types.Object, meshes: list[bpy.types.Object]) -> RigPlan:
    """The artist's mapped humanoid bones as a RigPlan: what a perfect placement would give."""
    mapping = vrm_addon.humanoid_mapping(armature)
    world = np.array(armature.matrix_world)
    bones = armature.data.bones  # type: ignore[union-attr]

    def at(v: Any) -> tuple[float, float, float]:
        p = world[:3, :3] @ np.array(v) + world[:3, 3]
        return (float(p[0]), float(p[1]), float(p[2]))

    mapped = frozenset(v for v in humanoid.HUMAN_BONES if v in mapping)
    heights = np.concatenate([read.read_part(o).vertices[:, 2] for o in meshes])
    plan_bones = tuple(
        Bone(v, at(bones[mapping[v]].head_local), at(bones[mapping[v]].tail_local), humanoid.mapped_parent(v, mapped))
        for v in humanoid.HUMAN_BONES
        if v in mapped
    )
    identity = tuple(tuple(float(i == j) for j in range(4)) for i in range(4))
    return RigPlan(plan_bones, identity, float(np.ptp(heights)), notes=("the artist's own skeleton (oracle)",))  # type: ignore[arg-type]


def strip(source: Path, bare: Path) -> Stripped:
    """Imports `source` into an empty scene, applies every fix (`convert --fix all`), bakes each of its
    avatar meshes in the rest pose, drops the armature, skin and VRM data, and writes the meshes alone to
    `bare` (a .glb)."""
    bpy.ops.wm.read_homefile(use_empty=True)
    imported = avatar_import.import_avatar(source, bind_pose=True)
    assert imported.armature is not None
    # As the artist's own convert sees it: in its bind pose (not a take's first frame), restructured, mapped,
    # in metres, standing (convert --fix all).
    rig_check.check_rig(imported.armature, None, fix="all")
    armature = bpy.data.objects[imported.armature]
    armature.data.pose_position = "REST"  # type: ignore[union-attr]
    context.view_layer().update()
    meshes = rig_reader.avatar_meshes(armature)
    depsgraph = bpy.context.evaluated_depsgraph_get()
    baked: list[bpy.types.Object] = []
    for obj in meshes:
        data = bpy.data.meshes.new_from_object(obj.evaluated_get(depsgraph))
        copy = bpy.data.objects.new(f"{obj.name}_bare", data)
        copy.matrix_world = obj.matrix_world.copy()
        context.scene().collection.objects.link(copy)
        copy.vertex_groups.clear()
        baked.append(copy)
    oracle = _plan_of(armature, baked)
    for obj in [o for o in context.scene().objects if o not in baked]:
        bpy.data.objects.remove(obj, do_unlink=True)
    for obj in baked:
        obj.name = obj.name.removesuffix("_bare")
    bpy.ops.export_scene.gltf(
        filepath=str(bare), export_format="GLB", export_skins=False, export_animations=False, export_morph=False
    )
    count = sum(len(read.read_part(o).vertices) for o in baked)
    return Stripped(bare, oracle, count)


def oracle_convert(stripped: Stripped, out: Path, preset: Preset) -> dict[str, Any]:
    """`convert --rig auto --fix all` of the bare mesh in this process, with the artist's skeleton placed
    instead of the automatic placement: the reference the auto-rig's joints are measured against (everything
    after the placement is the same pipeline), and what the weights and export lose on their own."""

    def planner(parts: Sequence[MeshPart], spec_version: str = "1.0") -> RigPlan:
        del parts, spec_version
        return stripped.oracle

    automatic = place.plan_rig
    place.plan_rig = planner
    try:
        return convert(stripped.bare, out, preset, fix="all", rig="auto").to_json()
    finally:
        place.plan_rig = automatic


def compare(auto: Path, artist: Path, reference: Path) -> dict[str, Any]:
    """Errors (fractions of the artist's height) of `auto`, in three-vrm: its joints against `reference`'s
    (oracle_convert), its posed surface against `artist`'s."""
    done = subprocess.run(
        ["node", "autorig_compare.mjs", str(auto), str(artist), str(reference)],
        cwd=NODE_DIR, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    if done.returncode != 0 or not done.stdout.strip():
        raise RuntimeError(f"autorig_compare.mjs failed (exit {done.returncode}): {done.stderr[-1500:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result
