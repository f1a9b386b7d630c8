"""Puts the objects an imported glTF file hangs on bones (a robot's limb pieces) where the file says they
are: Blender's glTF importer can place them off their bones (see core.models.bone_children)."""

from __future__ import annotations

import bpy
from mathutils import Matrix

from ..core.models.bone_children import Matrix as Rows
from . import context

_MOVED = 1e-6  # of the armature's units: float noise, not a move


def place(objects: list[bpy.types.Object], carried: dict[tuple[str, str], Rows]) -> list[str]:
    """Moves each object parented to a bone to its place in the file relative to that bone, keeping the
    parenting and the rotation and scale the importer gave it; returns the names of those it moved."""
    context.view_layer().update()  # the armatures' world matrices as imported
    moved: list[str] = []
    for obj in objects:
        armature = obj.parent
        if armature is None or obj.parent_type != "BONE" or not isinstance(armature.data, bpy.types.Armature):
            continue
        bone: bpy.types.Bone | None = armature.data.bones.get(obj.parent_bone)  # None: not in the stubs
        local = carried.get((obj.parent_bone, obj.name))
        if bone is None or local is None:
            continue
        # Where Blender hangs a bone's child: at the bone's tail, in the rest pose.
        hanger = armature.matrix_world @ bone.matrix_local @ Matrix.Translation((0.0, bone.length, 0.0))
        parent = hanger @ obj.matrix_parent_inverse
        placed = parent @ obj.matrix_basis
        # The importer turns and scales the child right: the bone's frame in the file is the child's less its
        # own transform, and it starts at the bone's head, where the file's bone node is.
        relative = Matrix([list(row) for row in local])
        frame = placed @ relative.inverted_safe()
        frame.translation = armature.matrix_world @ bone.head_local
        wanted = frame @ relative
        if (wanted.translation - placed.translation).length > _MOVED * armature.matrix_world.median_scale:
            obj.matrix_basis = parent.inverted_safe() @ wanted
            moved.append(obj.name)
    return moved
