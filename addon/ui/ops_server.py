"""Operators: start and stop the MCP socket server (the same Server class `forge.py serve` runs).

Neither changes anything in the .blend, so there is no undo step to make: bl_options has no UNDO.
"""

from __future__ import annotations

import bpy

from ..socket_server import runtime
from ..socket_server.config import ConfigError
from .types import OperatorReturn


class AVATARFORGE_OT_mcp_start(bpy.types.Operator):
    """Start the MCP socket server with the host, port, token file and policy from the preferences"""

    bl_idname = "avatar_forge.mcp_start"
    bl_label = "Start MCP server"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return runtime.current() is None

    def execute(self, context: bpy.types.Context) -> set[OperatorReturn]:
        try:
            server = runtime.start()
        except ConfigError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        host, port = server.address
        self.report({"INFO"}, f"MCP server listening on {host}:{port}")
        return {"FINISHED"}


class AVATARFORGE_OT_mcp_stop(bpy.types.Operator):
    """Stop the MCP socket server and close every client connection"""

    bl_idname = "avatar_forge.mcp_stop"
    bl_label = "Stop MCP server"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return runtime.current() is not None

    def execute(self, context: bpy.types.Context) -> set[OperatorReturn]:
        runtime.stop()
        self.report({"INFO"}, "MCP server stopped")
        return {"FINISHED"}
