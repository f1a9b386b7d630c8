"""Operators of the Rig panel: check, fix one finding, fix all safe, auto-map bones, auto-rig. Each is one undo step
and calls the same functions as `forge.py check` and the socket's `avatar_check_rig`."""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, StringProperty

from ..blender import autorig, paths, rig_check, rig_fixes, rig_reader
from ..core.autorig import NotHumanoidError
from ..core.errors import ForgeError, InputError
from ..core.presets import Preset, get_preset
from ..core.rig.findings import CheckReport
from .accessors import export_settings, rig_state
from .types import OperatorReturn


def _target(context: bpy.types.Context) -> Preset | None:
    """The export preset chosen in the Export panel: the rig is checked against its spec and budgets."""
    name = export_settings(context).preset
    try:
        return get_preset(name, paths.user_presets_dir()) if name else None
    except InputError:
        return None


def _armature(context: bpy.types.Context) -> str | None:
    """The armature the last check looked at, while it still exists."""
    name = rig_state(context).armature
    return name if name and name in bpy.data.objects else None


def panel_check(context: bpy.types.Context, armature: str | None) -> CheckReport:
    """The Rig panel's Check: the rig check against the preset chosen in the Export panel."""
    return rig_check.check_rig(armature, _target(context))


def _leave_edit_mode(context: bpy.types.Context) -> None:
    if context.mode != "OBJECT" and context.view_layer.objects.active is not None:  # type: ignore[union-attr]
        bpy.ops.object.mode_set(mode="OBJECT")


class _RigOperator(bpy.types.Operator):
    bl_options = {"REGISTER", "UNDO"}

    def _done(self, context: bpy.types.Context, report: CheckReport) -> set[OperatorReturn]:
        rig_state(context).store(report)
        errors = len(report.errors())
        self.report({"INFO"} if report.ok else {"WARNING"}, f"{report.armature or 'No armature'}: "
                    f"{'ready' if report.ok else f'{errors} error(s)'}, {len(report.findings)} finding(s)")  # fmt: skip
        return {"FINISHED"}


class AVATARFORGE_OT_check_rig(_RigOperator):
    """Check the humanoid rig for VRM: mapping, pose, transforms, weights, expressions, budgets"""

    bl_idname = "avatar_forge.check_rig"
    bl_label = "Check rig"

    def execute(self, context: bpy.types.Context) -> set[OperatorReturn]:
        _leave_edit_mode(context)
        try:
            report = panel_check(context, _armature(context))
        except ForgeError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        return self._done(context, report)


class AVATARFORGE_OT_fix_rig_finding(_RigOperator):
    """Apply the fix for this finding; it changes only the objects the finding names (a fix that changes the
    skeleton asks first)"""

    bl_idname = "avatar_forge.fix_rig_finding"
    bl_label = "Fix"

    finding_id: StringProperty(name="Finding")  # type: ignore[valid-type]

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[OperatorReturn]:
        structural = any(f.finding_id == self.finding_id and f.structural for f in rig_state(context).findings)
        if structural:
            message = "This fix changes the skeleton (see the finding). Apply it?"
            return context.window_manager.invoke_confirm(self, event, message=message)  # type: ignore[union-attr]
        return self.execute(context)

    def execute(self, context: bpy.types.Context) -> set[OperatorReturn]:
        _leave_edit_mode(context)
        try:
            report = rig_check.fix_finding(self.finding_id, _armature(context), _target(context))
        except (KeyError, ForgeError) as exc:
            self.report({"ERROR"}, str(exc).strip("'\""))
            return {"CANCELLED"}
        return self._done(context, report)


class AVATARFORGE_OT_fix_rig_all(_RigOperator):
    """Apply every safe fix, then check again"""

    bl_idname = "avatar_forge.fix_rig_all"
    bl_label = "Fix all safe"

    def execute(self, context: bpy.types.Context) -> set[OperatorReturn]:
        _leave_edit_mode(context)
        try:
            report = rig_check.check_rig(_armature(context), _target(context), fix="safe")
        except ForgeError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        return self._done(context, report)


class AVATARFORGE_OT_auto_map_bones(_RigOperator):
    """Map every VRM humanoid bone not mapped yet from bone names and the hierarchy (your own choices stay)"""

    bl_idname = "avatar_forge.auto_map_bones"
    bl_label = "Auto-map bones"

    def execute(self, context: bpy.types.Context) -> set[OperatorReturn]:
        _leave_edit_mode(context)
        armature = rig_reader.pick_armature(_armature(context))
        if armature is None:
            self.report({"ERROR"}, "no armature in the scene")
            return {"CANCELLED"}
        rig_fixes.auto_map(armature)
        return self._done(context, rig_check.check_rig(armature.name, _target(context)))


class AVATARFORGE_OT_auto_rig(_RigOperator):
    """Rig the selected meshes as a VRM humanoid: joints found from the mesh alone, an armature built, every
    mesh skinned to it; then check it"""

    bl_idname = "avatar_forge.auto_rig"
    bl_label = "Auto-rig"

    replace: BoolProperty(  # type: ignore[valid-type]
        name="Replace rig", description="Discard the meshes' own armature and rig them anew", default=False
    )

    def execute(self, context: bpy.types.Context) -> set[OperatorReturn]:
        _leave_edit_mode(context)
        meshes = [o.name for o in context.selected_objects if o.type == "MESH"]
        if not meshes:
            self.report({"ERROR"}, "select the meshes to rig")
            return {"CANCELLED"}
        try:
            result = autorig.auto_rig(meshes, replace=self.replace)
        except (ForgeError, NotHumanoidError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, result.summary())
        return self._done(context, rig_check.check_rig(result.armature, _target(context)))
