"""Test rigs in the naming conventions artists bring: the demo avatar with its bones (and so its vertex
groups) renamed and the VRM mapping cleared, as an imported rig arrives.

    avatar = build_rig("mixamo")                  # built into the current scene; returns the DemoAvatar
    avatar = build_rig("mixamo", demo_blend)      # faster: opens a saved demo avatar (conftest's demo_blend)
    expected_mapping("mixamo")["leftUpperArm"]    # "mixamorig:LeftArm"

Shared by the rig-check and the export tests. Needs bpy (import bpy before this module).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bpy

from addon.blender import context, demo_avatar
from addon.core.demo import rig as demo_rig
from addon.core.rig import humanoid

_FINGERS = ("Thumb", "Index", "Middle", "Ring", "Little")
_RIGIFY_CENTER = {
    "Hips": "spine", "Spine": "spine.001", "Chest": "spine.002", "UpperChest": "spine.003",
    "Neck": "spine.004", "Head": "spine.006",
}  # fmt: skip
_RIGIFY_SIDED = {
    "Shoulder": "shoulder", "UpperArm": "upper_arm", "LowerArm": "forearm", "Hand": "hand",
    "UpperLeg": "thigh", "LowerLeg": "shin", "Foot": "foot", "Toes": "toe", "Eye": "eye",
    "Thumb": "thumb", "Index": "f_index", "Middle": "f_middle", "Ring": "f_ring", "Little": "f_pinky",
}  # fmt: skip
_MIXAMO = {
    "Hips": "Hips", "Spine": "Spine", "Chest": "Spine1", "UpperChest": "Spine2", "Neck": "Neck", "Head": "Head",
    "Shoulder": "Shoulder", "UpperArm": "Arm", "LowerArm": "ForeArm", "Hand": "Hand", "UpperLeg": "UpLeg",
    "LowerLeg": "Leg", "Foot": "Foot", "Toes": "ToeBase", "Eye": "Eye", "Thumb": "HandThumb",
    "Index": "HandIndex", "Middle": "HandMiddle", "Ring": "HandRing", "Little": "HandPinky",
}  # fmt: skip
_VROID = {
    "Hips": "C_Hips", "Spine": "C_Spine", "Chest": "C_Chest", "UpperChest": "C_UpperChest", "Neck": "C_Neck",
    "Head": "C_Head", "Toes": "ToeBase", "Eye": "FaceEye",
}  # fmt: skip
_UNREAL = {
    "Hips": "pelvis", "Spine": "spine_01", "Chest": "spine_02", "UpperChest": "spine_03", "Neck": "neck_01",
    "Head": "head", "Shoulder": "clavicle", "UpperArm": "upperarm", "LowerArm": "lowerarm", "Hand": "hand",
    "UpperLeg": "thigh", "LowerLeg": "calf", "Foot": "foot", "Toes": "ball", "Eye": "eye", "Thumb": "thumb",
    "Index": "index", "Middle": "middle", "Ring": "ring", "Little": "pinky",
}  # fmt: skip


def _split(demo_name: str) -> tuple[str, str, int]:
    """Demo bone name -> (part, side "L"/"R"/"", finger segment 1-3 or 0)."""
    m = re.match(r"^([A-Za-z]+?)(\d?)(?:\.([LR]))?$", demo_name)
    assert m is not None, demo_name
    return m.group(1), m.group(3) or "", int(m.group(2) or 0)


def _snake(part: str) -> str:
    return humanoid.snake_case(part)


def _rigify(prefix: str) -> Callable[[str, str, int], str]:
    def name(part: str, side: str, seg: int) -> str:
        if not side:
            return prefix + _RIGIFY_CENTER[part]
        return f"{prefix}{_RIGIFY_SIDED[part]}{f'.0{seg}' if seg else ''}.{side}"

    return name


def _mixamo(part: str, side: str, seg: int) -> str:
    word = {"L": "Left", "R": "Right", "": ""}[side]
    return f"mixamorig:{word}{_MIXAMO[part]}{seg or ''}"


def _vroid(part: str, side: str, seg: int) -> str:
    if not side:
        return "J_Bip_" + _VROID[part]
    if part == "Eye":
        return f"J_Adj_{side}_FaceEye"
    return f"J_Bip_{side}_{_VROID.get(part, part)}{seg or ''}"


def _unreal(part: str, side: str, seg: int) -> str:
    return _UNREAL[part] + (f"_0{seg}" if seg else "") + (f"_{side.lower()}" if side else "")


def _left_right(part: str, side: str, seg: int) -> str:
    return {"L": "Left", "R": "Right", "": ""}[side] + part + (str(seg) if seg else "")


def _suffix_lr(part: str, side: str, seg: int) -> str:
    return _snake(part) + (str(seg) if seg else "") + (f"_{side.lower()}" if side else "")


def _dot_lr(part: str, side: str, seg: int) -> str:
    return part + (str(seg) if seg else "") + (f".{side}" if side else "")


CONVENTIONS: dict[str, Callable[[str, str, int], str]] = {
    "metarig": _rigify(""),
    "rigify": _rigify("DEF-"),
    "mixamo": _mixamo,
    "vroid": _vroid,
    "unreal": _unreal,
    "left_right": _left_right,
    "suffix_lr": _suffix_lr,
    "dot_lr": _dot_lr,
}


def convention_names(convention: str) -> dict[str, str]:
    """Demo bone name -> its name in `convention`."""
    rename = CONVENTIONS[convention]
    return {b.name: rename(*_split(b.name)) for b in demo_rig.demo_bones()}


def expected_mapping(convention: str) -> dict[str, str]:
    """VRM bone -> bone name, every VRM bone the demo rig has, in `convention`."""
    names = convention_names(convention)
    return {vrm: names[bone] for vrm, bone in demo_rig.vrm_mapping().items()}


def clear_mapping(armature: bpy.types.Object) -> None:
    """Empties the VRM Add-on's humanoid mapping, as on a rig imported from another tool."""
    data: Any = armature.data
    human_bones = data.vrm_addon_extension.vrm1.humanoid.human_bones
    for vrm in humanoid.HUMAN_BONES:
        # The add-on stores a bone's uuid; emptying it directly skips a 50 ms re-validation per bone.
        getattr(human_bones, humanoid.snake_case(vrm)).node.bone_uuid = ""


def fresh_humanoid(armature: bpy.types.Object) -> None:
    """The VRM Add-on's VRM 1.0 humanoid as on a freshly imported rig: no bone mapped, no bone UUID, no
    candidate list computed."""
    data: Any = armature.data
    human_bones = data.vrm_addon_extension.vrm1.humanoid.human_bones
    nodes = [getattr(human_bones, humanoid.snake_case(v)).node for v in humanoid.HUMAN_BONES]
    clear_mapping(armature)
    for bone in data.bones:
        bone.vrm_addon_extension.uuid = ""
    type(nodes[0]).clear_bone_name_candidates_cache(nodes)


def held_humanoid(armature: bpy.types.Object) -> dict[str, Any]:
    """What the VRM Add-on holds of the VRM 1.0 humanoid, read through its own getters: each VRM bone's
    Blender bone and whether the node stores that bone's UUID, whether every bone has its own UUID, each VRM
    bone's candidates (what its bone menus offer and its validation and exporter check against) and its
    validation's messages."""
    data: Any = armature.data
    human_bones = data.vrm_addon_extension.vrm1.humanoid.human_bones
    nodes = {v: getattr(human_bones, humanoid.snake_case(v)).node for v in humanoid.HUMAN_BONES}
    uuids = {b.name: b.vrm_addon_extension.uuid for b in data.bones}
    return {
        "mapped": {v: (n.bone_name, n.bone_uuid == uuids.get(n.bone_name)) for v, n in nodes.items()},
        "own uuids": all(uuids.values()) and len(set(uuids.values())) == len(uuids),
        "candidates": {v: sorted(n.bone_name_candidates) for v, n in nodes.items()},
        "errors": list(human_bones.error_messages()),
    }


def rename_bones(armature: bpy.types.Object, names: dict[str, str]) -> None:
    """Renames bones; Blender renames the vertex groups of the meshes the armature deforms with them."""
    data: Any = armature.data
    for old, new in names.items():
        data.bones[old].name = new


def _add_org_twins(armature: bpy.types.Object) -> None:
    """Rigify's non-deforming ORG- copies of every DEF- bone, which a mapper must not pick."""
    context.view_layer().objects.active = armature
    bpy.ops.object.mode_set(mode="EDIT")
    try:
        data: Any = armature.data
        bones = data.edit_bones
        for bone in list(bones):
            twin = bones.new("ORG-" + bone.name.removeprefix("DEF-"))
            twin.head, twin.tail, twin.use_deform = bone.head, bone.tail, False
        for bone in list(bones):
            if bone.name.startswith("ORG-") and bone.parent is None:
                source = bones["DEF-" + bone.name.removeprefix("ORG-")]
                if source.parent is not None:
                    bone.parent = bones["ORG-" + source.parent.name.removeprefix("DEF-")]
    finally:
        bpy.ops.object.mode_set(mode="OBJECT")


def build_rig(convention: str, demo_blend: Path | None = None, detail: int = 1) -> demo_avatar.DemoAvatar:
    """The demo avatar in `convention`'s bone names, VRM mapping cleared (Rigify also gets ORG- twins).

    With `demo_blend` (a saved demo avatar) that file is opened instead of building one.
    """
    if demo_blend is None:
        avatar = demo_avatar.build_demo_avatar(detail)
    else:
        bpy.ops.wm.open_mainfile(filepath=str(demo_blend))
        avatar = demo_avatar.DemoAvatar(bpy.data.objects["Avatar"], bpy.data.objects["AvatarBody"])
    rename_bones(avatar.armature, convention_names(convention))
    if convention == "rigify":
        _add_org_twins(avatar.armature)
    clear_mapping(avatar.armature)
    return avatar
