"""The parts of bpy.context every Blender-facing module needs, never None where Blender runs."""

from __future__ import annotations

import bpy


def scene() -> bpy.types.Scene:
    current = bpy.context.scene
    assert current is not None, "no scene: Blender has not loaded a file"
    return current


def view_layer() -> bpy.types.ViewLayer:
    current = bpy.context.view_layer
    assert current is not None, "no view layer: Blender has not loaded a file"
    return current


def preferences() -> bpy.types.Preferences:
    current = bpy.context.preferences
    assert current is not None
    return current


def layout(panel: bpy.types.Panel | bpy.types.AddonPreferences) -> bpy.types.UILayout:
    current = panel.layout
    assert current is not None
    return current
