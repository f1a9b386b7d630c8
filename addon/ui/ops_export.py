"""Operators: export the avatar to .vrm with the chosen preset, and the current action as a VRM Animation
clip (the same export_vrm() and export_clip() the CLI calls)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bpy

from ..blender import animation_export, paths, vrm_export
from ..core.errors import ForgeError, InputError
from ..core.presets import get_preset
from ..core.rig.findings import Finding
from .accessors import export_result, export_settings
from .props_export import AVATARFORGE_PG_export_result
from .types import OperatorReturn


def _record(
    result: AVATARFORGE_PG_export_result,
    *,
    exported: bool,
    message: str,
    findings: list[Finding],
    stats: dict[str, Any],
) -> None:
    result.done, result.exported, result.message = True, exported, message
    result.triangles = int(stats.get("triangles", 0))
    result.findings.clear()
    for finding in findings:
        item = result.findings.add()
        item.severity, item.message = finding.severity, finding.message


class AVATARFORGE_OT_export_vrm(bpy.types.Operator):
    """Check the rig, then export the avatar to .vrm with the chosen preset"""

    bl_idname = "avatar_forge.export_vrm"
    bl_label = "Export VRM"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context: bpy.types.Context) -> set[OperatorReturn]:
        settings, result = export_settings(context), export_result(context)
        wm = context.window_manager
        assert wm is not None
        try:
            preset = get_preset(settings.preset, paths.user_presets_dir())
        except InputError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        out = Path(bpy.path.abspath(settings.filepath))
        overrides = {"name": settings.vrm_name, "author": settings.author, "version": settings.version}
        wm.progress_begin(0, 100)
        try:
            done = vrm_export.export_vrm(
                out,
                preset,
                meta_overrides={k: v for k, v in overrides.items() if v},
                overwrite=settings.overwrite,
                progress=lambda fraction, _what: wm.progress_update(int(fraction * 100)),
            )
        except ForgeError as exc:
            message = (
                f"{exc}; tick 'Replace existing file' to replace it" if isinstance(exc, FileExistsError) else str(exc)
            )
            report = exc.report
            findings, stats = (report.findings, report.stats) if report else ([], {})
            _record(result, exported=False, message=message, findings=findings, stats=stats)
            self.report({"ERROR"}, message)
            return {"CANCELLED"}
        finally:
            wm.progress_end()
        _record(result, exported=True, message=f"Exported {done.path.name}", findings=done.findings, stats=done.stats)
        result.path, result.size_mb, result.seconds = str(done.path), done.bytes / 1e6, done.seconds
        self.report({"INFO"}, f"Exported {done.path} ({done.bytes / 1e6:.2f} MB, VRM {done.spec_version})")
        return {"FINISHED"}


class AVATARFORGE_OT_export_clip(bpy.types.Operator):
    """Check the armature's current action, then export it as a VRM Animation (.vrma) clip"""

    bl_idname = "avatar_forge.export_clip"
    bl_label = "Export Clip"
    bl_options = {"REGISTER"}

    def execute(self, context: bpy.types.Context) -> set[OperatorReturn]:
        settings, result = export_settings(context), export_result(context)
        out = Path(bpy.path.abspath(settings.clip_filepath))
        try:
            done = animation_export.export_clip(out, overwrite=settings.overwrite)
        except (ForgeError, LookupError) as exc:  # LookupError: no action to export
            message = (
                f"{exc}; tick 'Replace existing file' to replace it" if isinstance(exc, FileExistsError) else str(exc)
            )
            report = exc.report if isinstance(exc, ForgeError) else None
            _record(result, exported=False, message=message, findings=report.findings if report else [], stats={})
            self.report({"ERROR"}, message)
            return {"CANCELLED"}
        clip = done.clip
        message = f"Exported {done.path.name}: {clip.action}, {clip.frames} frames at {clip.fps:g} fps"
        _record(result, exported=True, message=message, findings=[], stats={})
        result.path, result.size_mb, result.seconds = str(done.path), done.bytes / 1e6, done.seconds
        self.report({"INFO"}, f"Exported {done.path} ({done.bytes / 1e3:.1f} kB, VRM Animation)")
        return {"FINISHED"}
