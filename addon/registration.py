"""The one list of classes this add-on registers, in registration order."""

from __future__ import annotations

import bpy

from .preferences import AvatarForgePreferences
from .ui.ops_demo import AVATARFORGE_OT_add_demo_avatar
from .ui.panels import AVATARFORGE_PT_export, AVATARFORGE_PT_mcp, AVATARFORGE_PT_publish, AVATARFORGE_PT_rig

CLASSES: tuple[type, ...] = (
    AvatarForgePreferences,
    AVATARFORGE_OT_add_demo_avatar,
    AVATARFORGE_PT_mcp,
    AVATARFORGE_PT_rig,
    AVATARFORGE_PT_export,
    AVATARFORGE_PT_publish,
)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister() -> None:
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
