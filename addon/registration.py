"""The one list of classes this add-on registers, in registration order, and the properties it hangs
on Blender's types.

Pointers go on WindowManager for runtime state (never saved) and on Scene for the artist's choices
(saved with the .blend, so never a secret).
"""

from __future__ import annotations

import bpy

from .preferences import AvatarForgePreferences
from .socket_server import runtime as mcp_runtime
from .ui.accessors import POINTERS
from .ui.ops_demo import AVATARFORGE_OT_add_demo_avatar
from .ui.ops_export import AVATARFORGE_OT_export_clip, AVATARFORGE_OT_export_vrm
from .ui.ops_import import AVATARFORGE_OT_import_avatar
from .ui.ops_publish import AVATARFORGE_OT_publish
from .ui.ops_rig import (
    AVATARFORGE_OT_auto_map_bones,
    AVATARFORGE_OT_auto_rig,
    AVATARFORGE_OT_check_rig,
    AVATARFORGE_OT_fix_rig_all,
    AVATARFORGE_OT_fix_rig_finding,
)
from .ui.ops_server import AVATARFORGE_OT_mcp_start, AVATARFORGE_OT_mcp_stop
from .ui.panel_export import AVATARFORGE_PT_export
from .ui.panel_mcp import AVATARFORGE_PT_mcp
from .ui.panel_publish import AVATARFORGE_PT_publish
from .ui.panel_rig import AVATARFORGE_PT_rig, AVATARFORGE_UL_rig_findings
from .ui.props_export import (
    AVATARFORGE_PG_export_finding,
    AVATARFORGE_PG_export_result,
    AVATARFORGE_PG_export_settings,
)
from .ui.props_publish import AVATARFORGE_PG_publish_result, AVATARFORGE_PG_publish_settings
from .ui.props_rig import AVATARFORGE_PG_rig_check, AVATARFORGE_PG_rig_finding

CLASSES: tuple[type, ...] = (
    AvatarForgePreferences,
    AVATARFORGE_OT_add_demo_avatar,
    AVATARFORGE_OT_import_avatar,
    AVATARFORGE_PG_export_settings,
    AVATARFORGE_PG_export_finding,
    AVATARFORGE_PG_export_result,
    AVATARFORGE_OT_export_vrm,
    AVATARFORGE_OT_export_clip,
    AVATARFORGE_OT_mcp_start,
    AVATARFORGE_OT_mcp_stop,
    AVATARFORGE_PT_mcp,
    AVATARFORGE_PG_rig_finding,
    AVATARFORGE_PG_rig_check,
    AVATARFORGE_OT_check_rig,
    AVATARFORGE_OT_fix_rig_finding,
    AVATARFORGE_OT_fix_rig_all,
    AVATARFORGE_OT_auto_map_bones,
    AVATARFORGE_OT_auto_rig,
    AVATARFORGE_UL_rig_findings,
    AVATARFORGE_PT_rig,
    AVATARFORGE_PT_export,
    AVATARFORGE_PG_publish_settings,
    AVATARFORGE_PG_publish_result,
    AVATARFORGE_OT_publish,
    AVATARFORGE_PT_publish,
)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    for owner, attribute, group in POINTERS:
        setattr(owner, attribute, bpy.props.PointerProperty(type=group))  # type: ignore[func-returns-value]
    mcp_runtime.register()  # MCP server auto-start (a preference)


def unregister() -> None:
    mcp_runtime.unregister()  # stops a running MCP server: its sockets must not outlive the add-on
    for owner, attribute, _group in reversed(POINTERS):
        delattr(owner, attribute)
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
