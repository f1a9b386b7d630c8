"""Builds the third-party humanoid corpus: `python tests/corpus/build.py [OUT_DIR]` (default out/corpus).

Each model comes from a pinned registry package or is made here by a real third-party tool (Rigify, the VRM
Add-on, Blender's FBX and glTF exporters, FBX2glTF); SOURCES.md says which, and manifest.toml what a test
asserts about each. A model is rebuilt only when this script, its pins or the tools' versions change.
Runs under the project's .venv python (the bpy module). `--only=KEY[,KEY]` builds only those models.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib
import json
import math
import os
import platform
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
REQUIREMENTS = HERE / "requirements.txt"
PACKAGE_LOCK = HERE / "package-lock.json"
# The npm package ships one binary per system, in bin/<platform.system()>/.
FBX2GLTF = HERE / "node_modules" / "fbx2gltf" / "bin" / platform.system() / "FBX2glTF"
KAGRA_BVH = "kagra/data/synthetic_dance.bvh"

Vec = tuple[float, float, float]


class CorpusError(Exception):
    """Something the build needs is missing: one line for the user, no traceback."""


@dataclass(frozen=True)
class Bone:
    name: str
    parent: str | None
    head: Vec
    tail: Vec
    deform: bool = True


def _setup_blender() -> Any:
    """Imports bpy with a throwaway user folder and enables the VRM Add-on and Rigify."""
    os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="corpus-user-"))
    os.environ["BLENDER_VRM_AUTOMATIC_LICENSE_CONFIRMATION"] = "true"
    try:
        bpy = importlib.import_module("bpy")
    except ModuleNotFoundError:
        raise CorpusError("the bpy module is missing: run this with the project's .venv python (make venv)") from None
    addon_utils = importlib.import_module("addon_utils")
    bpy.ops.wm.read_homefile(use_empty=True)
    for name in ("io_scene_vrm", "rigify"):
        if addon_utils.enable(name, default_set=True) is None:
            raise CorpusError(f"cannot enable the Blender add-on {name!r} (is bpy-vrm-format installed?)")
    return bpy


bpy: Any = None


# --- geometry -------------------------------------------------------------------------------------------


def _mirror(bones: Sequence[Bone], left: str = ".L", right: str = ".R") -> list[Bone]:
    """Each bone named with `left` gets its right-hand twin, x mirrored."""

    def swap(name: str) -> str:  # the last occurrence is the side: "LowerArmL" -> "LowerArmR"
        head, found, tail = name.rpartition(left)
        return head + right + tail if found else name

    out = list(bones)
    for b in bones:
        if left in b.name:
            out.append(
                Bone(
                    swap(b.name),
                    swap(b.parent) if b.parent else None,
                    (-b.head[0], b.head[1], b.head[2]),
                    (-b.tail[0], b.tail[1], b.tail[2]),
                    b.deform,
                )
            )
    return out


def _transform(bones: Sequence[Bone], fn: Callable[[Vec], Vec]) -> list[Bone]:
    return [Bone(b.name, b.parent, fn(b.head), fn(b.tail), b.deform) for b in bones]


def _scaled(factor: float) -> Callable[[Vec], Vec]:
    return lambda v: (v[0] * factor, v[1] * factor, v[2] * factor)


def _a_pose(bones: Sequence[Bone], shoulder_x: float, degrees: float) -> list[Bone]:
    """Rotates everything outboard of |x| = shoulder_x down by `degrees` about the shoulder (arms only)."""
    angle = math.radians(degrees)

    def fn(v: Vec) -> Vec:
        x, y, z = v
        if abs(x) <= shoulder_x or z < 1.2:
            return v
        side = 1.0 if x > 0 else -1.0
        pivot_z = 1.40
        dx, dz = abs(x) - shoulder_x, z - pivot_z
        nx = dx * math.cos(angle) + dz * math.sin(angle)
        nz = -dx * math.sin(angle) + dz * math.cos(angle)
        return (side * (shoulder_x + nx), y, pivot_z + nz)

    return _transform(bones, fn)


def make_armature(name: str, bones: Sequence[Bone], data_name: str | None = None) -> Any:
    data = bpy.data.armatures.new(data_name or name)
    obj = bpy.data.objects.new(name, data)
    bpy.context.scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    for b in bones:
        eb = data.edit_bones.new(b.name)
        eb.head, eb.tail, eb.use_deform = b.head, b.tail, b.deform
    for b in bones:
        if b.parent:
            data.edit_bones[b.name].parent = data.edit_bones[b.parent]
    bpy.ops.object.mode_set(mode="OBJECT")
    return obj


def _box(head: Vec, tail: Vec, radius: float) -> tuple[list[Vec], list[tuple[int, int, int, int]]]:
    """A square tube from head to tail, in the coordinates the points are given in."""
    h, t = bpy_vector(head), bpy_vector(tail)
    axis = (t - h).normalized()
    side = axis.orthogonal().normalized() * radius
    up = axis.cross(side).normalized() * radius
    ring = [side + up, -side + up, -side - up, side - up]
    verts = [tuple(h + r) for r in ring] + [tuple(t + r) for r in ring]
    faces = [(0, 1, 2, 3), (7, 6, 5, 4)] + [(i, (i + 1) % 4, 4 + (i + 1) % 4, 4 + i) for i in range(4)]
    return verts, faces


def bpy_vector(v: Vec) -> Any:
    return importlib.import_module("mathutils").Vector(v)


def skinned_body(arm: Any, name: str, parts: dict[str, float]) -> Any:
    """One mesh of a box per bone (bone name -> radius), each box fully weighted to its bone."""
    verts: list[Vec] = []
    faces: list[tuple[int, ...]] = []
    groups: dict[str, list[int]] = {}
    bones = arm.data.bones
    for bone_name, radius in parts.items():
        b = bones[bone_name]
        v, f = _box(tuple(b.head_local), tuple(b.tail_local), radius)
        base = len(verts)
        verts += v
        faces += [tuple(base + i for i in face) for face in f]
        groups[bone_name] = list(range(base, base + len(v)))
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(verts, [], faces)
    obj = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    for bone_name, indices in groups.items():
        obj.vertex_groups.new(name=bone_name).add(indices, 1.0, "REPLACE")
    obj.parent = arm
    obj.modifiers.new("Armature", "ARMATURE").object = arm
    return obj


def rigid_part(arm: Any, bone_name: str, radius: float, name: str, mesh: Any = None) -> Any:
    """A box along `bone_name` parented to the bone (no skin); `mesh` shares an existing mesh datablock."""
    bone = arm.data.bones[bone_name]
    if mesh is None:
        v, f = _box((0.0, 0.0, 0.0), (0.0, bone.length, 0.0), radius)
        mesh = bpy.data.meshes.new(name)
        mesh.from_pydata(v, [], f)
    obj = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    obj.parent, obj.parent_type, obj.parent_bone = arm, "BONE", bone_name
    bpy.context.view_layer.update()
    # A bone parent sits at the bone's tail: place the part over the bone's rest frame from its head.
    obj.matrix_world = arm.matrix_world @ bone.matrix_local
    return obj


def add_shape_keys(obj: Any, names: Sequence[str], near: Vec, radius: float) -> None:
    """Basis plus one key per name, each moving the vertices within `radius` of `near` a different way."""
    if obj.data.shape_keys is None:
        obj.shape_key_add(name="Basis", from_mix=False)
    centre = bpy_vector(near)
    around = [v.index for v in obj.data.vertices if (v.co - centre).length <= radius]
    if not around:
        raise CorpusError(f"no vertices of {obj.name} near {near} for its shape keys")
    for i, key_name in enumerate(names):
        key = obj.shape_key_add(name=key_name, from_mix=False)
        step = radius * 0.05 * (1 + i % 5)
        offset = bpy_vector(((-1) ** i * step, -step if i % 2 else step * 0.5, step * ((i % 3) - 1)))
        for index in around:
            key.data[index].co = obj.data.vertices[index].co + offset


def reset() -> None:
    bpy.ops.wm.read_homefile(use_empty=True)


def save_blend(path: Path) -> None:
    bpy.ops.wm.save_as_mainfile(filepath=str(path), compress=True)


def export_fbx(path: Path, **options: Any) -> None:
    bpy.ops.export_scene.fbx(filepath=str(path), **{"add_leaf_bones": False, "bake_anim": False, **options})


def export_glb(path: Path) -> None:
    bpy.ops.export_scene.gltf(filepath=str(path), export_format="GLB", export_animations=False)


def export_vrm(path: Path, arm: Any) -> None:
    result = bpy.ops.export_scene.vrm(filepath=str(path), armature_object_name=arm.name)
    if result != {"FINISHED"} or not path.exists():
        raise CorpusError(f"the VRM Add-on did not export {path.name}")


# --- the human layout the generated models share (metres, Z up, facing -Y, left at +X) --------------------

HIPS = (0.0, 0.0, 0.95)
SPINE = (0.0, 0.0, 1.05)
CHEST = (0.0, 0.0, 1.18)
UPPER_CHEST = (0.0, 0.0, 1.30)
NECK = (0.0, 0.0, 1.42)
HEAD = (0.0, 0.0, 1.52)
HEAD_TOP = (0.0, 0.0, 1.70)
SHOULDER_L = (0.03, 0.0, 1.40)
UPPER_ARM_L = (0.16, 0.0, 1.40)
ELBOW_L = (0.43, 0.0, 1.40)
WRIST_L = (0.68, 0.0, 1.40)
HAND_TIP_L = (0.78, 0.0, 1.40)
HIP_L = (0.09, 0.0, 0.92)
KNEE_L = (0.09, 0.0, 0.50)
ANKLE_L = (0.09, 0.0, 0.08)
BALL_L = (0.09, -0.12, 0.02)
TOE_TIP_L = (0.09, -0.18, 0.02)

RADII = {"torso": 0.12, "neck": 0.05, "head": 0.09, "arm": 0.045, "hand": 0.035, "leg": 0.06, "foot": 0.03}


def _radius(bone_name: str) -> float:
    """Box radius by what the bone is, read from its name (generated models only)."""
    n = bone_name.lower()
    for words, part in (
        (("head",), "head"),
        (("neck",), "neck"),
        (("hand", "wrist", "palm", "fist", "thumb", "finger"), "hand"),
        (("foot", "ankle", "toe"), "foot"),
        (("arm", "elbow", "shoulder", "clavicle"), "arm"),
        (("leg", "thigh", "shin", "knee", "calf"), "leg"),
    ):
        if any(w in n for w in words):
            return RADII[part]
    return RADII["torso"]


def body_parts(arm: Any, skip: Sequence[str] = ()) -> dict[str, float]:
    """Every deform bone that is not a tip or listed in `skip`, with its box radius."""
    return {
        b.name: _radius(b.name)
        for b in arm.data.bones
        if b.use_deform and not b.name.endswith("_end") and b.name not in skip
    }


# --- the models -----------------------------------------------------------------------------------------


def build_rigify(out: Path, _cache: Path) -> None:
    """Rigify's Basic Human metarig, generated; the metarig stays in the file, hidden, as users keep it."""
    reset()
    bpy.ops.object.armature_basic_human_metarig_add()
    metarig = bpy.context.object
    bpy.ops.pose.rigify_generate()
    rig = bpy.data.objects["rig"]
    parts = {b.name: _radius(b.name.removeprefix("DEF-")) for b in rig.data.bones if b.name.startswith("DEF-")}
    parts.pop("DEF-pelvis.L"), parts.pop("DEF-pelvis.R")  # Rigify's pelvis wedges overlap the thighs
    skinned_body(rig, "Body", parts)
    metarig.hide_set(True)
    metarig.hide_render = True
    save_blend(out / "rigify" / "rigify_basic_human.blend")


def _vrm_basic_armature(cache: Path) -> Any:
    """The VRM Add-on's "Add VRM Humanoid" armature, set up in full as its menu entry does, in a new file.

    The full setup takes seconds of CPU; it is made once per set of inputs and reopened after that.
    """
    made = cache / f"vrm_basic_armature_{inputs_digest()[:16]}.blend"
    if made.exists():
        bpy.ops.wm.open_mainfile(filepath=str(made))
    else:
        reset()
        bpy.ops.icyp.make_basic_armature()
        for stale in cache.glob("vrm_basic_armature_*.blend"):
            stale.unlink()
        bpy.ops.wm.save_as_mainfile(filepath=str(made), copy=True)
    return bpy.data.objects["Armature"]


_VRM_FINGERS = tuple(
    f"{finger}_{segment}.{side}"
    for finger in ("thumb", "index", "middle", "ring", "little")
    for segment in ("proximal", "intermediate", "distal")
    for side in "LR"
)


def build_vrm_basic(out: Path, cache: Path) -> None:
    """VRM Add-on basic humanoid, skinned boxes, plus a bone-parented mesh object named `head` like its bone,
    and two eyes sharing one mesh datablock."""
    arm = _vrm_basic_armature(cache)
    skinned_body(arm, "Body", body_parts(arm, skip=("root", "eye.L", "eye.R", "head", *_VRM_FINGERS)))
    rigid_part(arm, "head", RADII["head"], "head")
    eye = rigid_part(arm, "eye.L", 0.012, "Eye.L")
    rigid_part(arm, "eye.R", 0.012, "Eye.R", mesh=eye.data)
    save_blend(out / "vrm_addon" / "basic_humanoid.blend")


VRM0_PRESETS = {
    "a": "A", "i": "I", "u": "U", "e": "E", "o": "O", "blink": "Blink", "blink_l": "Blink_L",
    "blink_r": "Blink_R", "joy": "Joy", "angry": "Angry", "sorrow": "Sorrow", "fun": "Fun",
    "lookup": "LookUp", "lookdown": "LookDown",
}  # fmt: skip
VRM0_CUSTOM = ("Surprised", "Tongue_Out")


def build_vrm0(out: Path, cache: Path) -> None:
    """VRM 0.x by the VRM Add-on: 16 bound blend-shape groups (14 presets, 2 custom), a spring-bone hair chain,
    meta of its own."""
    arm = _vrm_basic_armature(cache)
    bpy.context.view_layer.objects.active = arm
    bpy.ops.object.mode_set(mode="EDIT")
    parent = arm.data.edit_bones["head"]
    for i in range(3):
        hair = arm.data.edit_bones.new(f"hair.{i:03d}")
        hair.head = (0.0, 0.06 + 0.06 * i, 1.66 - 0.08 * i)
        hair.tail = (0.0, 0.06 + 0.06 * (i + 1), 1.66 - 0.08 * (i + 1))
        hair.parent = parent
        parent = hair
    bpy.ops.object.mode_set(mode="OBJECT")
    body = skinned_body(arm, "Body", body_parts(arm, skip=("root", "eye.L", "eye.R", *_VRM_FINGERS)))
    keys = list(VRM0_PRESETS.values()) + list(VRM0_CUSTOM)
    add_shape_keys(body, keys, (0.0, 0.0, 1.61), 0.16)
    ext = arm.data.vrm_addon_extension
    ext.spec_version = "0.0"
    meta = ext.vrm0.meta
    meta.title, meta.version, meta.author = "Corpus Lark", "2.1", "Corpus Artist Lark"
    meta.contact_information, meta.reference = "lark@example.org", "https://example.org/lark"
    meta.allowed_user_name, meta.commercial_ussage_name, meta.license_name = "Everyone", "Allow", "CC_BY"
    groups = ext.vrm0.blend_shape_master.blend_shape_groups
    groups.clear()
    for preset, key in [*VRM0_PRESETS.items(), *((None, k) for k in VRM0_CUSTOM)]:
        group = groups.add()
        group.name = key
        group.preset_name = preset or "unknown"
        bind = group.binds.add()
        bind.mesh.mesh_object_name, bind.index, bind.weight = body.name, key, 1.0
    spring = ext.vrm0.secondary_animation.bone_groups.add()
    spring.comment, spring.stiffiness, spring.drag_force, spring.hit_radius = "hair", 1.0, 0.4, 0.02
    spring.bones.add().bone_name = "hair.000"
    export_vrm(out / "vrm_addon" / "vrm0_expressions.vrm", arm)


VRM1_RIGID_EXPRESSIONS = {"aa": "mouth_open", "blink": "eyes_closed", "happy": "smile"}


def build_vrm1_rigid(out: Path, cache: Path) -> None:
    """VRM 1.0 by the VRM Add-on whose body is rigid boxes parented to bones (no skin); left and right limbs
    share one mesh datablock each, as duplicated-and-mirrored parts do."""
    arm = _vrm_basic_armature(cache)
    shared: dict[str, Any] = {}
    for b in arm.data.bones:
        if not b.use_deform or b.name in ("root", "eye.L", "eye.R") or b.name in _VRM_FINGERS:
            continue
        twin = b.name.removesuffix(".R") + ".L" if b.name.endswith(".R") else None
        part = rigid_part(arm, b.name, _radius(b.name), f"part_{b.name}", mesh=shared.get(twin or ""))
        shared[b.name] = part.data
    head = bpy.data.objects["part_head"]
    add_shape_keys(head, list(VRM1_RIGID_EXPRESSIONS.values()), (0.0, 0.09, 0.0), 0.2)
    ext = arm.data.vrm_addon_extension
    ext.spec_version = "1.0"
    meta = ext.vrm1.meta
    meta.vrm_name, meta.version = "Corpus Robot", "1.0.3"
    meta.authors.clear()
    meta.authors.add().value = "Corpus Artist Robo"
    # No contact address: the add-on's VRM 1.0 writer drops contactInformation (its reader keeps it).
    meta.copyright_information = "(c) Corpus Artist Robo"
    meta.references.add().value = "https://example.org/robot"
    meta.avatar_permission, meta.commercial_usage = "everyone", "personalNonProfit"
    meta.allow_redistribution, meta.modification = True, "allowModification"
    meta.license_url = "https://vrm.dev/licenses/1.0/"
    for expression, key in VRM1_RIGID_EXPRESSIONS.items():
        bind = getattr(ext.vrm1.expressions.preset, expression).morph_target_binds.add()
        bind.node.mesh_object_name, bind.index, bind.weight = head.name, key, 1.0
    export_vrm(out / "vrm_addon" / "vrm1_rigid_parts.vrm", arm)


def _ik_game_bones() -> list[Bone]:
    """A low-poly game character: legs and IK feet hang from Root, pole targets too, `_end` tips."""
    left = [
        Bone("Shoulder.L", "Chest", SHOULDER_L, UPPER_ARM_L),
        Bone("UpperArm.L", "Shoulder.L", UPPER_ARM_L, ELBOW_L),
        Bone("LowerArm.L", "UpperArm.L", ELBOW_L, WRIST_L),
        Bone("Fist.L", "LowerArm.L", WRIST_L, HAND_TIP_L),
        Bone("Thumb1.L", "Fist.L", (0.70, -0.03, 1.40), (0.73, -0.06, 1.40)),
        Bone("Thumb2.L", "Thumb1.L", (0.73, -0.06, 1.40), (0.76, -0.08, 1.40)),
        Bone("Thumb2.L_end", "Thumb2.L", (0.76, -0.08, 1.40), (0.78, -0.09, 1.40), deform=False),
        Bone("UpperLeg.L", "Root", HIP_L, KNEE_L),
        Bone("LowerLeg.L", "UpperLeg.L", KNEE_L, ANKLE_L),
        Bone("Foot.L", "Root", ANKLE_L, BALL_L),
        Bone("Toe.L", "Foot.L", BALL_L, TOE_TIP_L),
        Bone("Toe.L_end", "Toe.L", TOE_TIP_L, (0.09, -0.22, 0.02), deform=False),
        Bone("PoleTarget.L", "Root", (0.09, -0.6, 0.5), (0.09, -0.7, 0.5), deform=False),
    ]
    centre = [
        Bone("Root", None, (0.0, 0.0, 0.0), (0.0, -0.2, 0.0), deform=False),
        Bone("Hips", "Root", HIPS, SPINE),
        Bone("Spine", "Hips", SPINE, CHEST),
        Bone("Chest", "Spine", CHEST, NECK),
        Bone("Neck", "Chest", NECK, HEAD),
        Bone("Head", "Neck", HEAD, HEAD_TOP),
        Bone("Head_end", "Head", HEAD_TOP, (0.0, 0.0, 1.80), deform=False),
    ]
    return _mirror(centre + left)


def _fbx2gltf(fbx: Path, glb: Path) -> None:
    if not FBX2GLTF.exists():
        raise CorpusError(f"{FBX2GLTF.relative_to(ROOT)} missing: run `npm ci --prefix tests/corpus`")
    if not os.access(FBX2GLTF, os.X_OK):
        # npm unpacks the package's binaries without their execute bit (the package declares no "bin").
        FBX2GLTF.chmod(0o755)
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [str(FBX2GLTF), "--binary", "--input", str(fbx), "--output", str(Path(tmp) / glb.stem)],
            capture_output=True,
            text=True,
            check=False,
        )
        made = Path(tmp) / f"{glb.stem}.glb"
        if done.returncode != 0 or not made.exists():
            raise CorpusError(f"FBX2glTF failed on {fbx.name}: {(done.stderr or done.stdout).strip()[-300:]}")
        glb.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(made, glb)


def build_ik_game(out: Path, cache: Path) -> None:
    """A game character exported to FBX by Blender, converted to glTF by FBX2glTF (armature at scale 100)."""
    reset()
    arm = make_armature("Armature", _ik_game_bones(), data_name="CharacterRig")
    for side in "LR":
        ik = arm.pose.bones[f"LowerLeg.{side}"].constraints.new("IK")
        ik.target, ik.subtarget, ik.chain_count = arm, f"Foot.{side}", 2
        ik.pole_target, ik.pole_subtarget = arm, f"PoleTarget.{side}"
    skinned_body(arm, "Character", body_parts(arm))
    fbx = cache / "ik_game_character.fbx"
    export_fbx(fbx)
    _fbx2gltf(fbx, out / "fbx2gltf" / "ik_game_character.glb")


CHIBI_HEIGHT = 3.75  # metres, after import: no power of ten makes it a person (0.375 m or 37.5 m)


def _chibi_bones() -> list[Bone]:
    """A chibi game character: a head as tall as its body, short limbs (laid out 1 unit tall, then scaled)."""
    left = [
        Bone("Shoulder.L", "Chest", (0.02, 0.0, 0.44), (0.07, 0.0, 0.44)),
        Bone("UpperArm.L", "Shoulder.L", (0.07, 0.0, 0.44), (0.15, 0.0, 0.44)),
        Bone("LowerArm.L", "UpperArm.L", (0.15, 0.0, 0.44), (0.22, 0.0, 0.44)),
        Bone("Hand.L", "LowerArm.L", (0.22, 0.0, 0.44), (0.27, 0.0, 0.44)),
        Bone("UpperLeg.L", "Hips", (0.06, 0.0, 0.28), (0.06, 0.0, 0.15)),
        Bone("LowerLeg.L", "UpperLeg.L", (0.06, 0.0, 0.15), (0.06, 0.0, 0.04)),
        Bone("Foot.L", "LowerLeg.L", (0.06, 0.0, 0.04), (0.06, -0.06, 0.01)),
        Bone("Toe.L", "Foot.L", (0.06, -0.06, 0.01), (0.06, -0.09, 0.01)),
    ]
    centre = [
        Bone("Hips", None, (0.0, 0.0, 0.30), (0.0, 0.0, 0.34)),
        Bone("Spine", "Hips", (0.0, 0.0, 0.34), (0.0, 0.0, 0.40)),
        Bone("Chest", "Spine", (0.0, 0.0, 0.40), (0.0, 0.0, 0.46)),
        Bone("Neck", "Chest", (0.0, 0.0, 0.46), (0.0, 0.0, 0.50)),
        Bone("Head", "Neck", (0.0, 0.0, 0.50), (0.0, 0.0, 0.99)),
    ]
    return _transform(_mirror(centre + left), _scaled(CHIBI_HEIGHT))


def build_chibi(out: Path, cache: Path) -> None:
    """A chibi game character 3.75 m tall exported to FBX by Blender, converted to glTF by FBX2glTF (armature
    at scale 100, as ik_game)."""
    reset()
    arm = make_armature("Armature", _chibi_bones(), data_name="ChibiRig")
    parts = {name: radius * CHIBI_HEIGHT * 0.5 for name, radius in body_parts(arm).items()}
    parts["Head"] = 0.1 * CHIBI_HEIGHT  # the big round head: as wide as it is tall, half the figure
    skinned_body(arm, "Chibi", parts)
    fbx = cache / "chibi.fbx"
    export_fbx(fbx)
    _fbx2gltf(fbx, out / "fbx2gltf" / "chibi.glb")


def build_classic_fbx(out: Path, _cache: Path) -> None:
    """An FBX of the Blender 2.7x era's naming: `Body` above `Hips`, Hips→Abdomen→Torso→Chest, `UpperArmL`
    with no separator, `Palm.L` hands, `_end` tips; two eyes share one mesh."""
    left = [
        Bone("ShoulderL", "Chest", SHOULDER_L, UPPER_ARM_L),
        Bone("UpperArmL", "ShoulderL", UPPER_ARM_L, ELBOW_L),
        Bone("LowerArmL", "UpperArmL", ELBOW_L, WRIST_L),
        Bone("Palm.L", "LowerArmL", WRIST_L, HAND_TIP_L),
        Bone("Palm.L_end", "Palm.L", HAND_TIP_L, (0.82, 0.0, 1.40), deform=False),
        Bone("ThighL", "Hips", HIP_L, KNEE_L),
        Bone("ShinL", "ThighL", KNEE_L, ANKLE_L),
        Bone("FootL", "ShinL", ANKLE_L, BALL_L),
        Bone("ToeL", "FootL", BALL_L, TOE_TIP_L),
        Bone("ToeL_end", "ToeL", TOE_TIP_L, (0.09, -0.22, 0.02), deform=False),
        Bone("EyeL", "Head", (0.03, -0.08, 1.60), (0.03, -0.11, 1.60)),
    ]
    centre = [
        Bone("Body", None, (0.0, 0.0, 0.90), (0.0, 0.0, 0.95), deform=False),
        Bone("Hips", "Body", HIPS, SPINE),
        Bone("Abdomen", "Hips", SPINE, CHEST),
        Bone("Torso", "Abdomen", CHEST, UPPER_CHEST),
        Bone("Chest", "Torso", UPPER_CHEST, NECK),
        Bone("Neck", "Chest", NECK, HEAD),
        Bone("Head", "Neck", HEAD, HEAD_TOP),
        Bone("Head_end", "Head", HEAD_TOP, (0.0, 0.0, 1.80), deform=False),
    ]
    reset()
    bones = _mirror(centre + left, "L", "R")
    arm = make_armature("Armature", bones)
    skinned_body(arm, "Mesh", body_parts(arm, skip=("EyeL", "EyeR")))
    eye = rigid_part(arm, "EyeL", 0.015, "EyeL")
    rigid_part(arm, "EyeR", 0.015, "EyeR", mesh=eye.data)
    export_fbx(out / "blender_fbx" / "classic_names.fbx")


VRCHAT_KEYS = (
    *(f"viseme/{v}" for v in ("sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "ih", "oh")),
    "viseme/ou",
    "eye/blink",
    "eye/blink_left",
    "eye/blink_right",
)


def build_vrchat(out: Path, _cache: Path) -> None:
    """A VRChat avatar as its tools name it: `Left leg`/`Left knee`/`Left ankle`/`Left wrist`, `viseme/*` and
    `eye/blink` shape keys."""
    sides = []
    for side, sign in (("Left", 1.0), ("Right", -1.0)):

        def m(v: Vec, s: float = sign) -> Vec:
            return (v[0] * s, v[1], v[2])

        sides += [
            Bone(f"{side} shoulder", "Chest", m(SHOULDER_L), m(UPPER_ARM_L)),
            Bone(f"{side} arm", f"{side} shoulder", m(UPPER_ARM_L), m(ELBOW_L)),
            Bone(f"{side} elbow", f"{side} arm", m(ELBOW_L), m(WRIST_L)),
            Bone(f"{side} wrist", f"{side} elbow", m(WRIST_L), m(HAND_TIP_L)),
            Bone(f"{side} leg", "Hips", m(HIP_L), m(KNEE_L)),
            Bone(f"{side} knee", f"{side} leg", m(KNEE_L), m(ANKLE_L)),
            Bone(f"{side} ankle", f"{side} knee", m(ANKLE_L), m(BALL_L)),
            Bone(f"{side} toe", f"{side} ankle", m(BALL_L), m(TOE_TIP_L)),
            Bone(f"{side} eye", "Head", m((0.03, -0.08, 1.60)), m((0.03, -0.11, 1.60))),
        ]
    centre = [
        Bone("Hips", None, HIPS, SPINE),
        Bone("Spine", "Hips", SPINE, CHEST),
        Bone("Chest", "Spine", CHEST, NECK),
        Bone("Neck", "Chest", NECK, HEAD),
        Bone("Head", "Neck", HEAD, HEAD_TOP),
    ]
    reset()
    arm = make_armature("Armature", centre + sides)
    body = skinned_body(arm, "Body", body_parts(arm, skip=("Left eye", "Right eye")))
    add_shape_keys(body, VRCHAT_KEYS, (0.0, 0.0, 1.61), 0.16)
    export_fbx(out / "vrchat" / "visemes.fbx")


UNIVRM_KEYS = (
    "lip_a", "lip_i", "lip_u", "lip_e", "lip_o", "eye_blink", "eye_blink_L", "eye_blink_R",
    "face_happy", "face_angry", "face_sad", "face_fun", "face_surprised", "MTH_A",
)  # fmt: skip


def build_univrm_fbx(out: Path, _cache: Path) -> None:
    """A UniVRM sample's FBX shape: J_Bip_* bones in A-pose, armature at scale 0.01 over centimetre bones,
    a Face mesh with `lip_a`/`face_happy`/`MTH_A` keys, hair spring bones."""
    left = [
        Bone("J_Bip_L_Shoulder", "J_Bip_C_UpperChest", SHOULDER_L, UPPER_ARM_L),
        Bone("J_Bip_L_UpperArm", "J_Bip_L_Shoulder", UPPER_ARM_L, ELBOW_L),
        Bone("J_Bip_L_LowerArm", "J_Bip_L_UpperArm", ELBOW_L, WRIST_L),
        Bone("J_Bip_L_Hand", "J_Bip_L_LowerArm", WRIST_L, HAND_TIP_L),
        Bone("J_Bip_L_UpperLeg", "J_Bip_C_Hips", HIP_L, KNEE_L),
        Bone("J_Bip_L_LowerLeg", "J_Bip_L_UpperLeg", KNEE_L, ANKLE_L),
        Bone("J_Bip_L_Foot", "J_Bip_L_LowerLeg", ANKLE_L, BALL_L),
        Bone("J_Bip_L_ToeBase", "J_Bip_L_Foot", BALL_L, TOE_TIP_L),
        Bone("J_Adj_L_FaceEye", "J_Bip_C_Head", (0.03, -0.08, 1.60), (0.03, -0.11, 1.60)),
    ]
    centre = [
        Bone("Root", None, (0.0, 0.0, 0.0), (0.0, 0.0, 0.1), deform=False),
        Bone("J_Bip_C_Hips", "Root", HIPS, SPINE),
        Bone("J_Bip_C_Spine", "J_Bip_C_Hips", SPINE, CHEST),
        Bone("J_Bip_C_Chest", "J_Bip_C_Spine", CHEST, UPPER_CHEST),
        Bone("J_Bip_C_UpperChest", "J_Bip_C_Chest", UPPER_CHEST, NECK),
        Bone("J_Bip_C_Neck", "J_Bip_C_UpperChest", NECK, HEAD),
        Bone("J_Bip_C_Head", "J_Bip_C_Neck", HEAD, HEAD_TOP),
        Bone("J_Sec_Hair1_01", "J_Bip_C_Head", (0.0, 0.08, 1.68), (0.0, 0.12, 1.58)),
        Bone("J_Sec_Hair2_01", "J_Sec_Hair1_01", (0.0, 0.12, 1.58), (0.0, 0.14, 1.48)),
    ]
    bones = _transform(_a_pose(_mirror(centre + left, "_L_", "_R_"), UPPER_ARM_L[0], 40.0), _scaled(100.0))
    reset()
    arm = make_armature("Armature", bones)
    arm.scale = (0.01, 0.01, 0.01)
    skinned_body(arm, "Body", {k: v * 100 for k, v in body_parts(arm, skip=("J_Bip_C_Head",)).items()})
    face = skinned_body(arm, "Face", {"J_Bip_C_Head": RADII["head"] * 100})
    add_shape_keys(face, UNIVRM_KEYS, (0.0, -9.0, 161.0), 16.0)
    export_fbx(out / "univrm" / "apose_centimetres.fbx", apply_unit_scale=False)


OCULUS_VISEMES = tuple(
    f"viseme_{v}" for v in ("sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "I", "O", "U")
)


def _kagra_bvh(cache: Path) -> Path:
    """The BVH skeleton shipped in the pinned kagra wheel (MIT), downloaded by pip and read from the wheel."""
    bvh = cache / "synthetic_dance.bvh"
    if bvh.exists():
        return bvh
    wheels = cache / "wheels"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
         "--require-hashes", "--only-binary=:all:", "--platform", "manylinux_2_28_x86_64",
         "--python-version", "3.11", "-r", str(REQUIREMENTS), "-d", str(wheels)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    found = sorted(wheels.glob("kagra-*.whl"))
    if done.returncode != 0 or not found:
        last = (done.stderr.strip().splitlines() or ["no wheel"])[-1]
        raise CorpusError(f"could not download the pinned kagra wheel ({REQUIREMENTS.name}): {last}")
    with zipfile.ZipFile(found[0]) as wheel:
        bvh.write_bytes(wheel.read(KAGRA_BVH))
    shutil.rmtree(wheels)  # 7.6 MB for one 24 kB file: keep only the file
    return bvh


def build_mixamo_web(out: Path, cache: Path) -> None:
    """kagra's BVH skeleton (Mixamo names without the `mixamorig:` prefix, offsets in centimetres) imported
    by Blender's BVH importer at scale 1, skinned boxes with Oculus viseme and ARKit blink morph targets,
    exported by Blender's glTF exporter: a web avatar stored in centimetres."""
    reset()
    bpy.ops.import_anim.bvh(filepath=str(_kagra_bvh(cache)), global_scale=1.0)
    arm = bpy.context.object
    arm.animation_data_clear()
    for pb in arm.pose.bones:
        pb.location, pb.rotation_quaternion, pb.rotation_euler = (0, 0, 0), (1, 0, 0, 0), (0, 0, 0)
    arm.name = arm.data.name = "Armature"
    parts = {b.name: _radius(b.name) * 100 for b in arm.data.bones}
    body = skinned_body(arm, "AvatarBody", parts)
    head = arm.data.bones["Head"]
    add_shape_keys(body, [*OCULUS_VISEMES, "eyeBlinkLeft", "eyeBlinkRight"], tuple(head.head_local), 14.0)
    export_glb(out / "web" / "mixamo_centimetres.glb")


ARKIT_52 = (
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft", "eyeSquintLeft",
    "eyeWideLeft", "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight", "eyeLookOutRight", "eyeLookUpRight",
    "eyeSquintRight", "eyeWideRight", "jawForward", "jawLeft", "jawRight", "jawOpen", "mouthClose", "mouthFunnel",
    "mouthPucker", "mouthLeft", "mouthRight", "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft",
    "mouthFrownRight", "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthPressLeft", "mouthPressRight",
    "mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft", "mouthUpperUpRight", "browDownLeft",
    "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight", "cheekPuff", "cheekSquintLeft",
    "cheekSquintRight", "noseSneerLeft", "noseSneerRight", "tongueOut",
)  # fmt: skip
# A Ready Player Me-style head: ARKit's 52, Oculus visemes and a few of its own (72); its teeth carry the
# visemes and the mouth keys again (24): 96 morph targets over two meshes.
RPM_HEAD_KEYS = (*ARKIT_52, *OCULUS_VISEMES, "mouthOpen", "mouthSmile", "eyesClosed", "eyesLookUp", "eyesLookDown")
RPM_TEETH_KEYS = (*OCULUS_VISEMES, "jawOpen", "jawForward", "jawLeft", "jawRight", "mouthOpen", "mouthClose",
                  "mouthFunnel", "mouthPucker", "tongueOut")  # fmt: skip
JOINT_SCALE = 0.01


def _glb_chunks(path: Path) -> tuple[dict[str, Any], bytearray]:
    data = path.read_bytes()
    size = struct.unpack_from("<I", data, 12)[0]
    document = json.loads(data[20 : 20 + size])
    binary = bytearray(data[20 + size + 8 :])
    return document, binary


def _write_glb(path: Path, document: dict[str, Any], binary: bytes | bytearray) -> None:
    text = json.dumps(document, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 4)
    binary = bytes(binary) + b"\0" * (-len(binary) % 4)
    document_chunk = struct.pack("<II", len(text), 0x4E4F534A) + text
    binary_chunk = struct.pack("<II", len(binary), 0x004E4942) + binary
    path.write_bytes(struct.pack("<4sII", b"glTF", 2, 12 + len(document_chunk) + len(binary_chunk))
                     + document_chunk + binary_chunk)  # fmt: skip


def _centimetre_joint(path: Path) -> None:
    """Rewrites a glTF exported in metres the way centimetre exporters write it: the armature node becomes the
    skin's root joint with scale 0.01, every node under it is placed in centimetres (translations x100), and
    the inverse bind matrices follow (x100). The mesh data and every joint's world place stay as they were."""
    document, binary = _glb_chunks(path)
    nodes = document["nodes"]
    skin = document["skins"][0]
    joints = set(skin["joints"])
    parent = {c: i for i, n in enumerate(nodes) for c in n.get("children", ())}
    roots = {parent[j] for j in joints if j in parent and parent[j] not in joints}
    if len(roots) != 1:
        raise CorpusError(f"{path.name}: expected one armature node above the joints, found {len(roots)}")
    root = roots.pop()
    nodes[root]["scale"] = [JOINT_SCALE] * 3
    todo = list(nodes[root].get("children", ()))
    while todo:
        node = nodes[todo.pop()]
        if "translation" in node:
            node["translation"] = [t / JOINT_SCALE for t in node["translation"]]
        todo += node.get("children", ())
    accessor = document["accessors"][skin["inverseBindMatrices"]]
    view = document["bufferViews"][accessor["bufferView"]]
    start = view.get("byteOffset", 0) + accessor.get("byteOffset", 0)
    count = accessor["count"]
    matrices = list(struct.unpack_from(f"<{16 * count}f", binary, start))
    for m in range(count):  # column-major: the bottom row (3, 7, 11, 15) stays
        for k in range(16):
            if k % 4 != 3:
                matrices[16 * m + k] /= JOINT_SCALE
    # The root joint's own: the inverse of its world matrix, scale 0.01 at the origin.
    matrices += [1 / JOINT_SCALE, 0, 0, 0, 0, 1 / JOINT_SCALE, 0, 0, 0, 0, 1 / JOINT_SCALE, 0, 0, 0, 0, 1]
    offset = len(binary) + (-len(binary) % 4)
    binary += b"\0" * (offset - len(binary)) + struct.pack(f"<{16 * (count + 1)}f", *matrices)
    document["buffers"][0]["byteLength"] = len(binary)
    document["bufferViews"].append({"buffer": 0, "byteOffset": offset, "byteLength": 64 * (count + 1)})
    document["accessors"].append({"bufferView": len(document["bufferViews"]) - 1, "componentType": 5126,
                                  "count": count + 1, "type": "MAT4"})  # fmt: skip
    skin["joints"] = [*skin["joints"], root]
    skin["inverseBindMatrices"] = len(document["accessors"]) - 1
    skin["skeleton"] = root
    _write_glb(path, document, binary)


def build_rpm_web(out: Path, cache: Path) -> None:
    """A Ready Player Me-style web avatar: kagra's Mixamo-named skeleton (no prefix) in metres, a skinned body,
    head and teeth with 96 morph targets, exported by Blender's glTF exporter, then written the way centimetre
    exporters do: the skinned meshes under a root joint of node scale 0.01, the joints in centimetres, inverse
    bind matrices x100 (Blender's glTF importer makes that a rest pose 100x too big shown through a 0.01
    pose-bone scale)."""
    reset()
    bpy.ops.import_anim.bvh(filepath=str(_kagra_bvh(cache)), global_scale=0.01)
    arm = bpy.context.object
    arm.animation_data_clear()
    for pb in arm.pose.bones:
        pb.location, pb.rotation_quaternion, pb.rotation_euler = (0, 0, 0), (1, 0, 0, 0), (0, 0, 0)
    arm.name = arm.data.name = "Armature"
    parts = {b.name: _radius(b.name) for b in arm.data.bones}
    parts.pop("Head")
    skinned_body(arm, "Wolf3D_Body", parts)
    head_bone = arm.data.bones["Head"]
    head = skinned_body(arm, "Wolf3D_Head", {"Head": RADII["head"]})
    teeth = skinned_body(arm, "Wolf3D_Teeth", {"Head": RADII["head"] * 0.3})
    centre = tuple(head_bone.head_local)
    add_shape_keys(head, RPM_HEAD_KEYS, centre, 0.3)
    add_shape_keys(teeth, RPM_TEETH_KEYS, centre, 0.3)
    glb = out / "web" / "rpm_centimetre_joint.glb"
    export_glb(glb)
    _centimetre_joint(glb)


def _makehuman_bones() -> list[Bone]:
    """MakeHuman's default skeleton's chain (names and parents), standing, in metres."""
    spine = [(f"spine0{5 - i}", z0, z1) for i, (z0, z1) in enumerate(((0.95, 1.04), (1.04, 1.13), (1.13, 1.22),
                                                                        (1.22, 1.31), (1.31, 1.42)))]  # fmt: skip
    bones = [Bone("root", None, (0.0, 0.0, 0.90), HIPS)]
    parent = "root"
    for name, z0, z1 in spine:
        bones.append(Bone(name, parent, (0.0, 0.0, z0), (0.0, 0.0, z1)))
        parent = name
    bones += [
        Bone("neck01", "spine01", NECK, (0.0, 0.0, 1.47)),
        Bone("neck02", "neck01", (0.0, 0.0, 1.47), HEAD),
        Bone("head", "neck02", HEAD, HEAD_TOP),
    ]
    left = [
        Bone("pelvis.L", "root", (0.0, 0.0, 0.90), HIP_L),
        Bone("upperleg01.L", "pelvis.L", HIP_L, (0.09, 0.0, 0.71)),
        Bone("upperleg02.L", "upperleg01.L", (0.09, 0.0, 0.71), KNEE_L),
        Bone("lowerleg01.L", "upperleg02.L", KNEE_L, (0.09, 0.0, 0.29)),
        Bone("lowerleg02.L", "lowerleg01.L", (0.09, 0.0, 0.29), ANKLE_L),
        Bone("foot.L", "lowerleg02.L", ANKLE_L, BALL_L),
        Bone("toe1-1.L", "foot.L", BALL_L, TOE_TIP_L),
        Bone("clavicle.L", "spine01", SHOULDER_L, UPPER_ARM_L),
        Bone("shoulder01.L", "clavicle.L", UPPER_ARM_L, (0.20, 0.0, 1.40)),
        Bone("upperarm01.L", "shoulder01.L", (0.20, 0.0, 1.40), (0.31, 0.0, 1.40)),
        Bone("upperarm02.L", "upperarm01.L", (0.31, 0.0, 1.40), ELBOW_L),
        Bone("lowerarm01.L", "upperarm02.L", ELBOW_L, (0.55, 0.0, 1.40)),
        Bone("lowerarm02.L", "lowerarm01.L", (0.55, 0.0, 1.40), WRIST_L),
        Bone("wrist.L", "lowerarm02.L", WRIST_L, HAND_TIP_L),
    ]
    return _mirror(bones + left)


def build_makehuman(out: Path, _cache: Path) -> None:
    """MakeHuman's default skeleton with its rest pose lying on its back and the upright figure only in the
    pose, as Blender's FBX import of a MakeHuman export leaves it; saved as .blend and as FBX."""

    def lying(v: Vec) -> Vec:  # a quarter turn about X: up (+Z) becomes +Y, the figure lies on its back
        return (v[0], v[2], -v[1])

    reset()
    arm = make_armature("MakeHuman_default", _transform(_makehuman_bones(), lying))
    body = skinned_body(arm, "human", body_parts(arm))
    add_shape_keys(body, ["expr-smile", "expr-blink"], lying((0.0, 0.0, 1.61)), 0.16)
    bpy.context.view_layer.objects.active = arm
    bpy.ops.object.mode_set(mode="POSE")
    root = arm.pose.bones["root"]
    # The inverse quarter turn about the origin stands the figure up on its feet at z = 0.
    upright = importlib.import_module("mathutils").Matrix.Rotation(math.radians(90.0), 4, "X")
    root.matrix = upright @ root.bone.matrix_local
    bpy.ops.object.mode_set(mode="OBJECT")
    save_blend(out / "makehuman" / "default_skeleton_lying.blend")
    # The FBX carries the pose as a one-frame action, so its import leaves the same lying rest and upright pose.
    for pb in arm.pose.bones:
        pb.keyframe_insert("location", frame=1)
        pb.keyframe_insert("rotation_quaternion", frame=1)
    export_fbx(
        out / "makehuman" / "default_skeleton_lying.fbx",
        bake_anim=True,
        bake_anim_use_all_actions=False,
        bake_anim_use_nla_strips=False,
    )


@dataclass(frozen=True)
class Model:
    key: str
    outputs: tuple[str, ...]
    build: Callable[[Path, Path], None]


MODELS = (
    Model("rigify", ("rigify/rigify_basic_human.blend",), build_rigify),
    Model("vrm_basic", ("vrm_addon/basic_humanoid.blend",), build_vrm_basic),
    Model("vrm0", ("vrm_addon/vrm0_expressions.vrm",), build_vrm0),
    Model("vrm1_rigid", ("vrm_addon/vrm1_rigid_parts.vrm",), build_vrm1_rigid),
    Model("ik_game", ("fbx2gltf/ik_game_character.glb",), build_ik_game),
    Model("chibi", ("fbx2gltf/chibi.glb",), build_chibi),
    Model("classic_fbx", ("blender_fbx/classic_names.fbx",), build_classic_fbx),
    Model("vrchat", ("vrchat/visemes.fbx",), build_vrchat),
    Model("univrm_fbx", ("univrm/apose_centimetres.fbx",), build_univrm_fbx),
    Model("mixamo_web", ("web/mixamo_centimetres.glb",), build_mixamo_web),
    Model("rpm_web", ("web/rpm_centimetre_joint.glb",), build_rpm_web),
    Model(
        "makehuman", ("makehuman/default_skeleton_lying.blend", "makehuman/default_skeleton_lying.fbx"), build_makehuman
    ),
)


def inputs_digest() -> str:
    """What a built file depends on: this script, the pins, and the versions of Blender and the VRM Add-on."""
    digest = hashlib.sha256()
    for path in (Path(__file__), REQUIREMENTS, PACKAGE_LOCK):
        digest.update(path.read_bytes())
    digest.update(bpy.app.version_string.encode())
    digest.update(repr(importlib.import_module("io_scene_vrm").bl_info.get("version")).encode())
    return digest.hexdigest()


def build(out: Path, only: Sequence[str] = ()) -> list[str]:
    """Builds every model not already built from the same inputs; returns the keys it built."""
    global bpy  # noqa: PLW0603
    unknown = [key for key in only if key not in {m.key for m in MODELS}]
    if unknown:
        raise CorpusError(f"no model named {', '.join(unknown)} (known: {', '.join(m.key for m in MODELS)})")
    for needed in (REQUIREMENTS, PACKAGE_LOCK):
        if not needed.exists():
            raise CorpusError(f"{needed.relative_to(ROOT)} missing")
    bpy = _setup_blender()
    digest = inputs_digest()
    stamps, cache = out / ".stamps", out / ".cache"
    stamps.mkdir(parents=True, exist_ok=True)
    cache.mkdir(parents=True, exist_ok=True)
    with (out / ".lock").open("w") as lock:
        # Another builder of the same folder (a second pytest worker, a `make corpus`) waits here, then finds
        # what the first one built up to date instead of writing over the files it is writing.
        fcntl.flock(lock, fcntl.LOCK_EX)
        built = _build_stale(out, only, digest, stamps, cache)
    reset()
    return built


def _build_stale(out: Path, only: Sequence[str], digest: str, stamps: Path, cache: Path) -> list[str]:
    built = []
    for model in MODELS:
        if only and model.key not in only:
            continue
        stamp = stamps / model.key
        targets = [out / p for p in model.outputs]
        if stamp.exists() and stamp.read_text() == digest and all(t.exists() for t in targets):
            continue
        for t in targets:
            t.parent.mkdir(parents=True, exist_ok=True)
            t.unlink(missing_ok=True)
        stamp.unlink(missing_ok=True)
        started = time.perf_counter()
        model.build(out, cache)
        print(f"corpus: built {model.key} in {time.perf_counter() - started:.1f} s", flush=True)
        missing = [str(t) for t in targets if not t.exists()]
        if missing:
            raise CorpusError(f"{model.key} did not write {', '.join(missing)}")
        stamp.write_text(digest)
        built.append(model.key)
    return built


def main(argv: Sequence[str]) -> int:
    args = list(argv)
    only = [k for a in args if a.startswith("--only=") for k in a.removeprefix("--only=").split(",")]
    rest = [a for a in args if not a.startswith("--")]
    out = Path(rest[0] if rest else ROOT / "out" / "corpus").resolve()
    try:
        built = build(out, only)
    except CorpusError as error:
        print(f"corpus: {error}", file=sys.stderr)
        return 1
    print(f"corpus: {len(built)} built, {len(MODELS) - len(built)} up to date in {out}")
    return 0


if __name__ == "__main__":
    code = main(sys.argv[1:])
    # A process that imported bpy and the VRM Add-on can hang at exit.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
