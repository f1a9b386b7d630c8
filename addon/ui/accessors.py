"""Typed accessors for the property groups Avatar Forge hangs on Blender types (as the VRM Add-on's
extension_accessor does): the one place their attribute names are written, and what registration hangs.

Blender's stubs cannot know an attribute added at run time; reading it here once, checked against its
class, spares every operator and panel a `getattr` or a `type: ignore`.
"""

from __future__ import annotations

from typing import Any, TypeVar

import bpy

from .props_export import AVATARFORGE_PG_export_result, AVATARFORGE_PG_export_settings
from .props_publish import AVATARFORGE_PG_publish_result, AVATARFORGE_PG_publish_settings
from .props_rig import AVATARFORGE_PG_rig_check

Group = TypeVar("Group", bound=bpy.types.PropertyGroup)

# (Blender type, attribute name, the PropertyGroup class registered on it)
POINTERS: tuple[tuple[type[bpy.types.ID], str, type[bpy.types.PropertyGroup]], ...] = (
    (bpy.types.Scene, "avatar_forge_export", AVATARFORGE_PG_export_settings),
    (bpy.types.WindowManager, "avatar_forge_rig", AVATARFORGE_PG_rig_check),
    (bpy.types.WindowManager, "avatar_forge_export_result", AVATARFORGE_PG_export_result),
    (bpy.types.Scene, "avatar_forge_publish", AVATARFORGE_PG_publish_settings),
    (bpy.types.WindowManager, "avatar_forge_publish_result", AVATARFORGE_PG_publish_result),
)


def _group(owner: Any, cls: type[Group]) -> Group:
    """The instance of `cls` hung on `owner` (the scene or the window manager)."""
    attribute = next(name for _type, name, group in POINTERS if group is cls)
    value = getattr(owner, attribute)
    assert isinstance(value, cls), f"{attribute} is not registered"
    return value


def _scene(context: bpy.types.Context) -> bpy.types.Scene:
    scene = context.scene
    assert scene is not None, "an operator or panel always has a scene"
    return scene


def _window_manager(context: bpy.types.Context) -> bpy.types.WindowManager:
    wm = context.window_manager
    assert wm is not None, "an operator or panel always has a window manager"
    return wm


def export_settings(context: bpy.types.Context) -> AVATARFORGE_PG_export_settings:
    """The Export panel's choices (preset, file, meta), saved with the scene."""
    return _group(_scene(context), AVATARFORGE_PG_export_settings)


def publish_settings(context: bpy.types.Context) -> AVATARFORGE_PG_publish_settings:
    """The Publish panel's choices (name, destination), saved with the scene."""
    return _group(_scene(context), AVATARFORGE_PG_publish_settings)


def rig_state(context: bpy.types.Context) -> AVATARFORGE_PG_rig_check:
    """The last rig check the Rig panel shows (not saved: it belongs to this session)."""
    return _group(_window_manager(context), AVATARFORGE_PG_rig_check)


def export_result(context: bpy.types.Context) -> AVATARFORGE_PG_export_result:
    """What the last export did, for the Export panel."""
    return _group(_window_manager(context), AVATARFORGE_PG_export_result)


def publish_result(context: bpy.types.Context) -> AVATARFORGE_PG_publish_result:
    """What the last publish did, for the Publish panel."""
    return _group(_window_manager(context), AVATARFORGE_PG_publish_result)
