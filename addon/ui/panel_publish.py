"""Sidebar panel: publish to the avatars bucket (name, destination, Publish, the last result)."""

from __future__ import annotations

from typing import Any

import bpy

from ..blender.context import layout
from .ops_publish import UPLOADS
from .panel_base import AvatarPanel


class AVATARFORGE_PT_publish(AvatarPanel):
    bl_idname = "AVATARFORGE_PT_publish"
    bl_label = "Publish"

    def draw(self, context: bpy.types.Context) -> None:
        scene: Any = context.scene
        column = layout(self).column()
        settings = scene.avatar_forge_publish
        column.prop(settings, "kind")
        column.prop(settings, "name")
        if settings.kind == "model":
            column.prop(scene.avatar_forge_export, "preset")
        column.prop(settings, "destination")
        uploading = UPLOADS.running()
        row = column.row()
        row.enabled = bool(settings.name) and uploading is None
        row.operator("avatar_forge.publish", icon="EXPORT")
        if uploading is not None:
            column.label(text=f"Publishing {uploading}: Publish again once it is done (Esc cancels)", icon="INFO")
        result: Any = context.window_manager.avatar_forge_publish_result  # type: ignore[union-attr]
        if not result.done:
            return
        box = column.box()
        box.label(text=result.message, icon="CHECKMARK" if result.published else "ERROR")
        if result.published:
            box.label(text=f"version {result.version}, {result.size_mb:.2f} MB")
            box.label(text=result.where)
            box.label(text="queued for promotion")
