"""The artist's export choices (saved with the .blend, on the Scene) and the last export's result
(runtime only, on the WindowManager)."""

from __future__ import annotations

from typing import Any

import bpy
from bpy.props import BoolProperty, CollectionProperty, EnumProperty, FloatProperty, IntProperty, StringProperty

from ..blender import paths
from ..core.presets import PresetError, load_presets

# Blender keeps only pointers to enum item strings: the list must outlive the callback.
_preset_items: list[tuple[str, str, str]] = []


def preset_items(_self: Any, _context: bpy.types.Context | None) -> list[tuple[str, str, str]]:
    try:
        presets = load_presets(paths.user_presets_dir())
    except PresetError as exc:
        presets, error = {}, str(exc)
    else:
        error = ""
    _preset_items[:] = [(p.name, p.name, f"VRM {p.spec_version}: {p.description}") for p in presets.values()]
    if not _preset_items:
        _preset_items.append(("", "no presets", error or "no export presets found"))
    return _preset_items


class AVATARFORGE_PG_export_settings(bpy.types.PropertyGroup):
    preset: EnumProperty(  # type: ignore[valid-type]
        name="Preset", description="Export target: spec version, meta, budgets, textures", items=preset_items
    )
    filepath: StringProperty(  # type: ignore[valid-type]
        name="File", description="The .vrm file to write", default="//Avatar.vrm", subtype="FILE_PATH"
    )
    vrm_name: StringProperty(name="Name", description="Avatar name in the VRM meta (empty: keep)")  # type: ignore[valid-type]
    author: StringProperty(name="Author", description="Author in the VRM meta (empty: keep)")  # type: ignore[valid-type]
    version: StringProperty(name="Version", description="Avatar version in the VRM meta (empty: keep)")  # type: ignore[valid-type]
    clip_filepath: StringProperty(  # type: ignore[valid-type]
        name="Clip", description="The .vrma file Export Clip writes", default="//Clip.vrma", subtype="FILE_PATH"
    )
    overwrite: BoolProperty(name="Replace existing file", default=False)  # type: ignore[valid-type]


class AVATARFORGE_PG_export_finding(bpy.types.PropertyGroup):
    severity: StringProperty()  # type: ignore[valid-type]
    message: StringProperty()  # type: ignore[valid-type]


class AVATARFORGE_PG_export_result(bpy.types.PropertyGroup):
    done: BoolProperty()  # type: ignore[valid-type]
    exported: BoolProperty()  # type: ignore[valid-type]
    message: StringProperty()  # type: ignore[valid-type]
    path: StringProperty()  # type: ignore[valid-type]
    size_mb: FloatProperty()  # type: ignore[valid-type]
    triangles: IntProperty()  # type: ignore[valid-type]
    seconds: FloatProperty()  # type: ignore[valid-type]
    findings: CollectionProperty(type=AVATARFORGE_PG_export_finding)  # type: ignore[valid-type]
