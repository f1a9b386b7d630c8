"""Sidebar panel: the humanoid rig."""

from __future__ import annotations

import bpy

from ..blender.context import layout
from .panel_base import AvatarPanel


class AVATARFORGE_PT_rig(AvatarPanel):
    bl_idname = "AVATARFORGE_PT_rig"
    bl_label = "Rig"

    def draw(self, context: bpy.types.Context) -> None:
        layout(self).operator("avatar_forge.add_demo_avatar", icon="OUTLINER_OB_ARMATURE")
