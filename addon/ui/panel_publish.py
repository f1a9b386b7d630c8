"""Sidebar panel: publish to the avatars bucket."""

from __future__ import annotations

import bpy

from ..blender.context import layout
from .panel_base import AvatarPanel


class AVATARFORGE_PT_publish(AvatarPanel):
    bl_idname = "AVATARFORGE_PT_publish"
    bl_label = "Publish"

    def draw(self, context: bpy.types.Context) -> None:
        layout(self).label(text="Publishing arrives with the publish feature.")
