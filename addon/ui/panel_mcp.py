"""Sidebar panel: the MCP socket server (start/stop, port, status)."""

from __future__ import annotations

import time

import bpy

from .. import preferences
from ..blender.context import layout
from ..socket_server import runtime
from .panel_base import AvatarPanel


def _ago(when: float) -> str:
    seconds = max(0, int(time.time() - when))
    return f"{seconds} s ago" if seconds < 120 else f"{seconds // 60} min ago"


class AVATARFORGE_PT_mcp(AvatarPanel):
    bl_idname = "AVATARFORGE_PT_mcp"
    bl_label = "MCP Server"

    def draw(self, context: bpy.types.Context) -> None:
        col = layout(self).column()
        server = runtime.current()
        prefs = preferences.get(context)
        if server is None:
            col.operator("avatar_forge.mcp_start", icon="PLAY")
            if prefs is not None:
                col.prop(prefs, "mcp_port")
            if runtime.last_start_error():
                col.label(text=runtime.last_start_error(), icon="ERROR")
            return
        status = server.status()
        col.operator("avatar_forge.mcp_stop", icon="PAUSE")
        col.label(text=f"Listening on {status['host']}:{status['port']}", icon="LINKED")
        col.label(text=f"Clients: {status['clients']}   Commands: {status['commands']}")
        if status["token_required"]:
            col.label(text="Clients must send the token first", icon="LOCKED")
        if status["execute_code_policy"] == "deny":
            col.label(text="execute_code is denied", icon="CANCEL")
        if status["last_command"]:
            col.label(text=f"Last: {status['last_command']} ({_ago(status['last_command_at'])})")
        for fetching in status["fetching"]:
            col.label(text=f"Downloading {fetching}", icon="IMPORT")
        if status["last_error"]:
            col.label(text=f"Error: {status['last_error']} ({_ago(status['last_error_at'])})", icon="ERROR")
