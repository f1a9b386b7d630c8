"""Add-on preferences: saved with Blender's user preferences, never in a .blend. The one secret they may hold
is the user's own Hyper3D Rodin key (a password field; the environment variable is the alternative); S3
credentials come from the standard AWS chain and a server token lives in a file the user names."""

from __future__ import annotations

from typing import Any

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, StringProperty

from .core import settings


class AvatarForgePreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    storage_root: StringProperty(  # type: ignore[valid-type]
        name="Storage root",
        description="Folder publishes go to: the Kasm rclone mount of the avatars bucket",
        default=settings.DEFAULT_STORAGE_ROOT,
        subtype="DIR_PATH",
    )
    s3_endpoint_url: StringProperty(  # type: ignore[valid-type]
        name="S3 endpoint URL",
        description="Publish straight to S3 at this endpoint instead of the storage root (empty: AWS default)",
        default="",
    )
    s3_bucket: StringProperty(name="S3 bucket", default=settings.DEFAULT_S3_BUCKET)  # type: ignore[valid-type]
    s3_prefix: StringProperty(name="S3 prefix", default=settings.DEFAULT_S3_PREFIX)  # type: ignore[valid-type]
    mcp_host: StringProperty(  # type: ignore[valid-type]
        name="MCP host",
        description="Address the MCP socket server binds; anything but loopback needs a token file",
        default=settings.DEFAULT_MCP_HOST,
    )
    mcp_port: IntProperty(  # type: ignore[valid-type]
        name="MCP port", default=settings.DEFAULT_MCP_PORT, min=1, max=65535
    )
    mcp_token_file: StringProperty(  # type: ignore[valid-type]
        name="Token file",
        description="File holding the token clients must send first (required for non-loopback hosts)",
        default="",
        subtype="FILE_PATH",
    )
    mcp_auto_start: BoolProperty(  # type: ignore[valid-type]
        name="Start with Blender",
        description="Start the MCP socket server when Blender loads",
        default=settings.DEFAULT_MCP_AUTO_START,
    )
    execute_code_policy: EnumProperty(  # type: ignore[valid-type]
        name="Execute code",
        description="Whether MCP clients may run arbitrary Python in this Blender",
        items=[
            ("allow", "Allow", "execute_code runs the code it is sent"),
            ("deny", "Deny", "execute_code answers with an error"),
        ],
        default=settings.DEFAULT_EXECUTE_CODE_POLICY,
    )
    mcp_audit_code: BoolProperty(  # type: ignore[valid-type]
        name="Log executed code",
        description="Also write the code MCP clients execute into the audit log (it may hold anything they sent)",
        default=False,
    )
    polyhaven_enabled: BoolProperty(  # type: ignore[valid-type]
        name="Poly Haven",
        description="Let MCP clients search Poly Haven and download its HDRIs, textures and models (CC0) into "
        "this Blender; off by default: nothing is fetched from anywhere until you turn it on",
        default=False,
    )
    hyper3d_enabled: BoolProperty(  # type: ignore[valid-type]
        name="Hyper3D Rodin",
        description="Let MCP clients generate base models from a prompt or images with Hyper3D Rodin (your key, "
        "billed to you); off by default",
        default=False,
    )
    hyper3d_api_key: StringProperty(  # type: ignore[valid-type]
        name="Hyper3D API key",
        description=f"Your Rodin key (or set {settings.HYPER3D_KEY_ENV}); kept in the user preferences, never "
        "in a .blend, never logged",
        default="",
        subtype="PASSWORD",
    )
    mcp_max_connections: IntProperty(  # type: ignore[valid-type]
        name="Max connections",
        description="Clients connected at once; one that has sent nothing yet makes room for a newcomer",
        default=settings.DEFAULT_MCP_MAX_CONNECTIONS,
        min=2,
        max=1000,
    )
    mcp_handshake_seconds: FloatProperty(  # type: ignore[valid-type]
        name="Handshake seconds",
        description="Time a new client has to authenticate (with a token) or send its first request",
        default=settings.DEFAULT_MCP_HANDSHAKE_SECONDS,
        min=0.1,
        max=3600.0,
    )
    mcp_max_buffered_mb: IntProperty(  # type: ignore[valid-type]
        name="Max buffered MB",
        description="Memory for unfinished and queued messages of all clients; over it the largest is refused",
        default=settings.DEFAULT_MCP_MAX_BUFFERED_MB,
        min=1,
        max=16384,
    )
    mcp_max_queued: IntProperty(  # type: ignore[valid-type]
        name="Max queued commands",
        description="Commands waiting for Blender, all clients together; past it clients are answered 'busy'",
        default=settings.DEFAULT_MCP_MAX_QUEUED,
        min=1,
        max=100000,
    )

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        assert layout is not None
        col = layout.column(heading="Storage")
        col.prop(self, "storage_root")
        col.prop(self, "s3_endpoint_url")
        col.prop(self, "s3_bucket")
        col.prop(self, "s3_prefix")
        col = layout.column(heading="MCP server")
        col.prop(self, "mcp_host")
        col.prop(self, "mcp_port")
        col.prop(self, "mcp_token_file")
        col.prop(self, "mcp_auto_start")
        col.prop(self, "execute_code_policy")
        col.prop(self, "mcp_audit_code")
        col = layout.column(heading="Asset sources")
        col.prop(self, "polyhaven_enabled")
        col.prop(self, "hyper3d_enabled")
        col.prop(self, "hyper3d_api_key")
        col = layout.column(heading="MCP limits")
        col.prop(self, "mcp_max_connections")
        col.prop(self, "mcp_handshake_seconds")
        col.prop(self, "mcp_max_buffered_mb")
        col.prop(self, "mcp_max_queued")


def get(context: bpy.types.Context | None = None) -> AvatarForgePreferences | None:
    """This add-on's preferences, or None when it is not enabled (the CLI then uses core's defaults)."""
    prefs_root = (context or bpy.context).preferences
    addon = prefs_root.addons.get(__package__ or "") if prefs_root else None
    prefs: Any = addon.preferences if addon is not None else None
    return prefs if isinstance(prefs, AvatarForgePreferences) else None
