"""Sidebar panel: the MCP socket server."""

from __future__ import annotations

import bpy

from ..blender.context import layout
from ..core.version import VERSION
from .panel_base import AvatarPanel


class AVATARFORGE_PT_mcp(AvatarPanel):
    bl_idname = "AVATARFORGE_PT_mcp"
    bl_label = "MCP Server"

    def draw(self, context: bpy.types.Context) -> None:
        layout(self).label(text=f"Avatar Forge {VERSION}")
