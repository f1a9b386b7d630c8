"""Sidebar panel: VRM export."""

from __future__ import annotations

import bpy

from ..blender.context import layout
from .panel_base import AvatarPanel


class AVATARFORGE_PT_export(AvatarPanel):
    bl_idname = "AVATARFORGE_PT_export"
    bl_label = "Export"

    def draw(self, context: bpy.types.Context) -> None:
        layout(self).label(text="VRM export presets arrive with the export feature.")
