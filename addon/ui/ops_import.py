"""Operator: import an avatar file into the scene (the same import_avatar() the socket and convert call), then
check it as the Rig panel's Check does; bare meshes come in selected, for the Auto-rig button."""

from __future__ import annotations

from pathlib import Path

import bpy
from bpy.props import StringProperty

from ..blender import avatar_import
from ..blender.context import view_layer
from ..core.errors import ForgeError
from ..core.models.files import FORMATS
from .accessors import rig_state
from .ops_rig import panel_check
from .types import OperatorReturn


class AVATARFORGE_OT_import_avatar(bpy.types.Operator):
    """Import a humanoid avatar (.vrm, .glb, .gltf, .fbx or .blend) into the scene; the file is only read"""

    bl_idname = "avatar_forge.import_avatar"
    bl_label = "Import avatar"
    bl_options = {"REGISTER", "UNDO"}

    filepath: StringProperty(subtype="FILE_PATH", options={"SKIP_SAVE"})  # type: ignore[valid-type]
    filter_glob: StringProperty(default=";".join(f"*{s}" for s in FORMATS), options={"HIDDEN"})  # type: ignore[valid-type]

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[OperatorReturn]:
        wm = context.window_manager
        assert wm is not None
        wm.fileselect_add(self)  # the file browser; it calls execute() with filepath set
        return {"RUNNING_MODAL"}

    def execute(self, context: bpy.types.Context) -> set[OperatorReturn]:
        try:
            result = avatar_import.import_avatar(Path(self.filepath), probe=True, bare_ok=True)
        except (ForgeError, ValueError) as exc:  # ValueError: not a model file
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        if result.armature is None:  # bare meshes, selected for the Auto-rig button
            message = (
                f"Imported {result.path.name}: {_select_meshes(result.objects)} mesh(es) and no armature, "
                "selected: Auto-rig (Rig panel) rigs them"
            )
        else:
            # The panel shows what the imported rig needs straight away, as its Check button would.
            report = panel_check(context, result.armature)
            rig_state(context).store(report)
            state = "ready" if report.ok else f"{len(report.errors())} error(s) to look at in the Rig panel"
            message = (
                f"Imported {result.path.name}: armature {result.armature}, {len(result.objects)} object(s); {state}"
            )
        self.report({"INFO"}, message)
        for line in result.removed:  # what the file brought that could read elsewhere or run Python
            self.report({"WARNING"}, f"Removed from {result.path.name}: {line}")
        return {"FINISHED"}


def _select_meshes(names: list[str]) -> int:
    """Selects the named objects' meshes alone, the first one active; how many there are."""
    layer = view_layer()
    meshes = [o for o in layer.objects if o.name in names and o.type == "MESH"]
    for obj in layer.objects:
        obj.select_set(obj in meshes)
    layer.objects.active = meshes[0]
    return len(meshes)
