"""Operator: publish the avatar as the next version (the same publish() the CLI and the socket call)."""

from __future__ import annotations

from typing import Any

import bpy

from ..blender import paths, publish, vrm_addon, vrm_export
from ..core.naming import InvalidNameError
from ..core.presets import PresetError, get_preset
from ..storage.base import StorageError
from .types import OperatorReturn


def _status(context: bpy.types.Context, text: str | None) -> None:
    """Progress in the status bar (absent headless)."""
    if context.workspace is not None:
        context.workspace.status_text_set(text)


def _record(result: Any, *, published: bool, message: str) -> None:
    result.done, result.published, result.message = True, published, message


class AVATARFORGE_OT_publish(bpy.types.Operator):
    """Check and export the avatar, then publish it as the next version and queue it for promotion"""

    bl_idname = "avatar_forge.publish"
    bl_label = "Publish"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context: bpy.types.Context) -> set[OperatorReturn]:
        scene: Any = context.scene
        settings = scene.avatar_forge_publish
        wm = context.window_manager
        assert wm is not None
        result = wm.avatar_forge_publish_result  # type: ignore[attr-defined]
        try:
            preset = get_preset(scene.avatar_forge_export.preset, paths.user_presets_dir())
            target = publish.preferred_storage(settings.destination)
        except (PresetError, ValueError) as exc:
            _record(result, published=False, message=str(exc))
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}

        def progress(fraction: float, what: str) -> None:
            wm.progress_update(int(fraction * 100))
            _status(context, f"Publishing {settings.name}: {what} ({fraction * 100:.0f}%)")

        wm.progress_begin(0, 100)
        try:
            done = publish.publish(settings.name, preset, target, progress=progress)
        except (
            InvalidNameError,
            vrm_addon.VrmAddonMissingError,
            vrm_export.ExportRefusedError,
            vrm_export.ExportFailedError,
            StorageError,
        ) as exc:
            _record(result, published=False, message=str(exc))
            self.report({"ERROR"}, f"Not published: {exc}")
            return {"CANCELLED"}
        finally:
            wm.progress_end()
            _status(context, None)
        request = done.request
        _record(result, published=True, message=f"Published {request.name} v{request.version}")
        result.version, result.size_mb, result.where = request.version, request.vrm.size / 1e6, done.release.vrm_url
        self.report({"INFO"}, f"Published {done.release.vrm_url} ({request.vrm.size / 1e6:.2f} MB), queued")
        return {"FINISHED"}
