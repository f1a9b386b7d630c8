"""The avatar put into the plan's rig frame, and the plan's skeleton built as an ordinary armature.

The rest pose is the plan's as given (an A-pose stays an A-pose): the VRM export's own T-pose handling
poses it for the file, and the artist's mesh keeps exactly the shape it was modelled in.
"""

from __future__ import annotations

import re

import bpy
import mathutils

from ...core.autorig import RigPlan
from .. import context, rig_fixes

ARMATURE_NAME = "Armature"


def bone_name(vrm_bone: str) -> str:
    """The Blender bone for a VRM humanoid bone, in a convention the mapper reads: `hips` -> `Hips`,
    `leftUpperArm` -> `UpperArm.L`, `rightIndexProximal` -> `IndexProximal.R`."""
    side = re.match(r"(left|right)(?=[A-Z])", vrm_bone)
    if side is None:
        return vrm_bone[:1].upper() + vrm_bone[1:]
    return f"{vrm_bone[side.end() :]}.{'L' if side.group(1) == 'left' else 'R'}"


def armatures_of(meshes: list[bpy.types.Object]) -> set[bpy.types.Object]:
    """The armatures that drive or carry any of the meshes."""
    found = {m.object for obj in meshes for m in obj.modifiers if m.type == "ARMATURE" and m.object}  # type: ignore[attr-defined]
    return found | {obj.parent for obj in meshes if obj.parent is not None and obj.parent.type == "ARMATURE"}


def discard_armatures(meshes: list[bpy.types.Object]) -> list[str]:
    """For `--rig replace`: the meshes lose every armature that drives or carries them (its modifiers, its
    bones' vertex groups, their parenting, kept where they are in the rest pose); the armatures are deleted.
    Returns their names."""
    found = armatures_of(meshes)
    for armature in found:
        armature.data.pose_position = "REST"  # type: ignore[union-attr]
    context.view_layer().update()
    for obj in meshes:
        world = obj.matrix_world.copy()
        for modifier in [m for m in obj.modifiers if m.type == "ARMATURE"]:
            obj.modifiers.remove(modifier)
        bones = {b.name for a in found for b in a.data.bones}  # type: ignore[union-attr]
        for group in [g for g in obj.vertex_groups if g.name in bones]:
            obj.vertex_groups.remove(group)
        if obj.parent in found:
            obj.parent = None
            obj.matrix_world = world
    names = sorted(a.name for a in found)
    for armature in found:
        bpy.data.objects.remove(armature, do_unlink=True)
    context.view_layer().update()
    return names


def apply_frame(meshes: list[bpy.types.Object], to_rig_frame: mathutils.Matrix) -> None:
    """Moves the avatar into the rig frame as one transform, baked into the mesh data (shape keys too) so
    every object ends at the origin with no parent, rotation or scale: bone heat needs applied scale."""
    worlds = {obj.name: obj.matrix_world.copy() for obj in meshes}
    for obj in meshes:
        data = obj.data
        assert isinstance(data, bpy.types.Mesh)
        if data.users > 1:
            obj.data = data = data.copy()  # a shared mesh would be moved once per user
        data.transform(to_rig_frame @ worlds[obj.name], shape_keys=True)
        if (to_rig_frame @ worlds[obj.name]).determinant() < 0:
            data.flip_normals()
        data.update()
        obj.parent = None
        obj.matrix_world = mathutils.Matrix.Identity(4)
    context.view_layer().update()


def build_armature(plan: RigPlan, collection: bpy.types.Collection) -> bpy.types.Object:
    """The plan's bones as a new armature at the origin, each bone where the plan puts it, parents as planned."""
    data = bpy.data.armatures.new(ARMATURE_NAME)
    armature = bpy.data.objects.new(ARMATURE_NAME, data)
    collection.objects.link(armature)
    context.view_layer().update()
    with rig_fixes.in_mode(armature, "EDIT") as edit:
        made: dict[str, bpy.types.EditBone] = {}
        for bone in plan.bones:
            edit_bone = edit.edit_bones.new(bone_name(bone.name))
            edit_bone.head, edit_bone.tail = bone.head, bone.tail
            edit_bone.use_deform = True
            if bone.parent is not None:
                edit_bone.parent = made[bone.parent]
            made[bone.name] = edit_bone
    return armature
