"""Sidebar panel: VRM export (preset, meta, Export button, the last result) and Export Clip (.vrma)."""

from __future__ import annotations

import bpy

from ..blender import vrm_addon
from ..blender.context import layout
from .accessors import export_result, export_settings
from .panel_base import AvatarPanel


class AVATARFORGE_PT_export(AvatarPanel):
    bl_idname = "AVATARFORGE_PT_export"
    bl_label = "Export"

    def draw(self, context: bpy.types.Context) -> None:
        column = layout(self).column()
        if not vrm_addon.is_enabled():
            box = column.box()
            box.label(text="VRM Add-on for Blender missing", icon="ERROR")
            for part in vrm_addon.INSTALL_HINT.split(": ", 1)[-1].split(", or "):
                box.label(text=part)
            return
        settings = export_settings(context)
        column.prop(settings, "preset")
        column.prop(settings, "filepath")
        meta = column.box().column(align=True)
        meta.label(text="Meta (empty: keep)")
        meta.prop(settings, "vrm_name")
        meta.prop(settings, "author")
        meta.prop(settings, "version")
        column.prop(settings, "overwrite")
        column.operator("avatar_forge.export_vrm", icon="EXPORT")
        clip = column.box().column(align=True)
        clip.label(text="Animation clip (the current action)")
        clip.prop(settings, "clip_filepath")
        clip.operator("avatar_forge.export_clip", icon="ACTION")
        result = export_result(context)
        if not result.done:
            return
        box = column.box()
        box.label(text=result.message, icon="CHECKMARK" if result.exported else "CANCEL")
        if result.exported:
            box.label(text=f"{result.size_mb:.2f} MB, {result.triangles} triangles, {result.seconds:.1f} s")
        for finding in result.findings:
            box.label(text=finding.message, icon="ERROR" if finding.severity == "error" else "INFO")
