"""The 3D-viewport sidebar tab "Avatar". Panels only draw; every button is an operator."""

from __future__ import annotations

import bpy

from ..blender.context import layout as context_layout
from ..core.version import VERSION

CATEGORY = "Avatar"


class _AvatarPanel(bpy.types.Panel):
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = CATEGORY


class AVATARFORGE_PT_mcp(_AvatarPanel):
    bl_idname = "AVATARFORGE_PT_mcp"
    bl_label = "MCP Server"

    def draw(self, context: bpy.types.Context) -> None:
        context_layout(self).label(text=f"Avatar Forge {VERSION}")


class AVATARFORGE_PT_rig(_AvatarPanel):
    bl_idname = "AVATARFORGE_PT_rig"
    bl_label = "Rig"

    def draw(self, context: bpy.types.Context) -> None:
        context_layout(self).operator("avatar_forge.add_demo_avatar", icon="OUTLINER_OB_ARMATURE")


class AVATARFORGE_PT_export(_AvatarPanel):
    bl_idname = "AVATARFORGE_PT_export"
    bl_label = "Export"

    def draw(self, context: bpy.types.Context) -> None:
        context_layout(self).label(text="VRM export presets arrive with the export feature.")


class AVATARFORGE_PT_publish(_AvatarPanel):
    bl_idname = "AVATARFORGE_PT_publish"
    bl_label = "Publish"

    def draw(self, context: bpy.types.Context) -> None:
        context_layout(self).label(text="Publishing arrives with the publish feature.")
