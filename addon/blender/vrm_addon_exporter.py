"""The VRM Add-on's exporters called below its operator, for the add-on version we pin.

`export_scene.vrm` validates the scene again (with a heavy migration that maps VRM 0.x bones nobody asked
for) before it exports: about 3 s on a 200k-vertex avatar, and our rig check has just done that work. It
also cannot pass `export_morph_normal` to Blender's glTF exporter. So, when the add-on is the version this
code was written against, the export calls its `Vrm1Exporter` (or `Vrm0Exporter`) directly, after the
light migration the add-on runs on every file load (a no-op on a current file), and gives the glTF
exporter the morph normals setting. With any other add-on version `internals()` is None and the caller
uses the operator: slower, never wrong. tests/test_vrm_export.py fails loudly when the pinned add-on's internals move.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import bpy

from . import console, vrm_addon

PINNED_VERSION = (4, 10, 2)
# The glTF exporter arguments the pinned add-on passes for Blender 4.2+ (ExportSceneGltfArguments' fields).
GLTF_ARGUMENTS = frozenset(
    {"filepath", "check_existing", "export_format", "export_extras", "export_def_bones", "export_current_frame",
     "use_selection", "use_active_scene", "export_animations", "export_armature_object_remove",
     "export_rest_position_armature", "export_all_influences", "export_vertex_color", "export_lights",
     "export_try_sparse_sk", "export_apply"}
)  # fmt: skip


@dataclasses.dataclass
class _Preferences:
    """The add-on's ExportPreferencesProtocol, filled from a preset (the operator's own properties)."""

    export_invisibles: bool
    export_only_selections: bool
    export_all_influences: bool
    enable_advanced_preferences: bool = True
    export_lights: bool = False
    export_gltf_animations: bool = False
    export_try_sparse_sk: bool = False  # the sparse rewrite is ours: its indices are never UNSIGNED_BYTE


@dataclasses.dataclass(frozen=True)
class Internals:
    """The pinned add-on's modules this export reaches into."""

    export_scene: ModuleType
    migration: ModuleType
    workspace: ModuleType
    gltf_support: ModuleType


def internals() -> Internals | None:
    """The pinned add-on's modules, or None when the enabled add-on is another version or lacks one."""
    package = vrm_addon.ensure_enabled()
    try:
        version = importlib.import_module(f"{package}.common.version").get_addon_version()
        if tuple(version) != PINNED_VERSION:
            return None
        found = Internals(
            export_scene=importlib.import_module(f"{package}.exporter.export_scene"),
            migration=importlib.import_module(f"{package}.editor.migration"),
            workspace=importlib.import_module(f"{package}.common.workspace"),
            gltf_support=importlib.import_module(f"{package}.external.io_scene_gltf2_support"),
        )
    except (ImportError, AttributeError):
        return None
    fields = {f.name for f in dataclasses.fields(found.gltf_support.ExportSceneGltfArguments)}
    needed = ("Vrm1Exporter", "Vrm0Exporter", "_collect_export_objects")
    if fields != GLTF_ARGUMENTS or not all(hasattr(found.export_scene, name) for name in needed):
        return None
    if not hasattr(found.gltf_support, "_invoke_export_scene_gltf"):
        return None
    return found


@contextlib.contextmanager
def _gltf_options(gltf_support: ModuleType, options: dict[str, Any]) -> Iterator[None]:
    """The add-on's call of Blender's glTF exporter, with `options` added to its arguments."""
    name = "_invoke_export_scene_gltf"
    original = getattr(gltf_support, name)
    gltf: Any = bpy.ops.export_scene.gltf

    def invoke(arguments: Any) -> set[str]:
        with console.gltf_log_alone():
            result: set[str] = gltf(**dataclasses.asdict(arguments), **options)
        return result

    setattr(gltf_support, name, invoke)
    try:
        yield
    finally:
        setattr(gltf_support, name, original)


def export(
    found: Internals,
    armature: bpy.types.Object,
    spec_version: str,
    preferences: dict[str, bool],
    gltf_options: dict[str, Any],
) -> bytes | None:
    """The file's bytes from the add-on's VRM 1.0 or 0.x exporter (None when it cancels), without the
    operator's validation; `preferences` are the operator's export_* flags, `gltf_options` go to Blender's
    glTF exporter (VRM 1.0 only: the 0.x writer is the add-on's own)."""
    context = bpy.context
    prefs = _Preferences(**preferences)
    armatures, objects = found.export_scene._collect_export_objects(context, armature.name, prefs)
    if armatures != [armature]:
        return None
    with found.workspace.save_workspace(context, armature):
        found.migration.migrate(context, armature.name, heavy_migration=False)
        with _gltf_options(found.gltf_support, gltf_options):
            if spec_version == "1.0":
                exporter = found.export_scene.Vrm1Exporter(context, objects, armature, prefs)
            else:
                exporter = found.export_scene.Vrm0Exporter(context, objects, armature)
            data: bytes | None = exporter.export()
    return data
