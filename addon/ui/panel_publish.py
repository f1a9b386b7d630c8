"""Sidebar panel: publish to the avatars bucket (name, destination, Publish, the last result)."""

from __future__ import annotations

import bpy

from ..blender.context import layout
from .accessors import export_settings, publish_result, publish_settings
from .ops_publish import UPLOADS
from .panel_base import AvatarPanel


class AVATARFORGE_PT_publish(AvatarPanel):
    bl_idname = "AVATARFORGE_PT_publish"
    bl_label = "Publish"

    def draw(self, context: bpy.types.Context) -> None:
        column = layout(self).column()
        settings = publish_settings(context)
        column.prop(settings, "kind")
        column.prop(settings, "name")
        if settings.kind == "model":
            column.prop(export_settings(context), "preset")
        column.prop(settings, "destination")
        uploading = UPLOADS.running()
        row = column.row()
        row.enabled = bool(settings.name) and uploading is None
        row.operator("avatar_forge.publish", icon="EXPORT")
        if uploading is not None:
            column.label(text=f"Publishing {uploading}: Publish again once it is done (Esc cancels)", icon="INFO")
        result = publish_result(context)
        if not result.done:
            return
        box = column.box()
        box.label(text=result.message, icon="CHECKMARK" if result.published else "ERROR")
        if result.published:
            box.label(text=f"version {result.version}, {result.size_mb:.2f} MB")
            box.label(text=result.where)
            box.label(text="queued for promotion")
