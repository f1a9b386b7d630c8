"""Operator: add the VRM-ready demo humanoid."""

from __future__ import annotations

import bpy
from bpy.props import IntProperty

from ..blender import demo_avatar
from .types import OperatorReturn


class AVATARFORGE_OT_add_demo_avatar(bpy.types.Operator):
    """Add a rigged, skinned, textured humanoid with VRM mapping and expression shape keys"""

    bl_idname = "avatar_forge.add_demo_avatar"
    bl_label = "Add VRM-ready humanoid"
    bl_options = {"REGISTER", "UNDO"}

    detail: IntProperty(  # type: ignore[valid-type]
        name="Detail", description="About 10k vertices per step", default=1, min=1, max=demo_avatar.MAX_DETAIL
    )

    def execute(self, context: bpy.types.Context) -> set[OperatorReturn]:
        if context.mode != "OBJECT":
            bpy.ops.object.mode_set(mode="OBJECT")
        avatar = demo_avatar.build_demo_avatar(self.detail)
        self.report({"INFO"}, f"Added {avatar.armature.name} ({len(avatar.body.data.vertices)} vertices)")  # type: ignore[union-attr]
        return {"FINISHED"}
