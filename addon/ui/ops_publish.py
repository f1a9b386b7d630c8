"""Operator: publish the avatar, or the current action as a VRM Animation clip, as the next version (the
same functions the CLI and the socket call).

From the sidebar button (invoke) the export runs on Blender's main thread, then the upload runs on a
background thread while a modal timer shows its progress in the status bar; Esc cancels it, and what it
had uploaded is removed. From a script (execute) the whole publish runs before the call returns.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import bpy

from ..blender import paths, publish
from ..core.errors import ForgeError
from ..core.presets import get_preset
from ..storage.background import BackgroundJob, JobRunningError, OneAtATime
from ..storage.base import Storage
from .accessors import export_settings, publish_result, publish_settings
from .props_publish import AVATARFORGE_PG_publish_result
from .types import OperatorReturn

# What a publish can fail with that is the user's to fix: a message, never a traceback.
_PUBLISH_ERRORS = (
    ForgeError,
    LookupError,  # a clip's action not found (no armature is a ForgeError already)
    OSError,  # the temporary folder is full or unwritable
)
_POLL_SECONDS = 0.1
# The sidebar's one upload at a time; the panel shows it while it runs.
UPLOADS = OneAtATime("a publish of {what} is still uploading (Esc cancels it): publish again once it is done")


def _status(context: bpy.types.Context, text: str | None) -> None:
    """Progress in the status bar (absent headless)."""
    if context.workspace is not None:
        context.workspace.status_text_set(text)


def _record(result: AVATARFORGE_PG_publish_result, *, published: bool, message: str) -> None:
    result.done, result.published, result.message = True, published, message


class AVATARFORGE_OT_publish(bpy.types.Operator):
    """Check and export the avatar (or the current action as a clip), publish it as the next version, queue it"""

    bl_idname = "avatar_forge.publish"
    bl_label = "Publish"
    bl_options = {"REGISTER", "UNDO"}

    _job: BackgroundJob[publish.PublishResult] | None = None
    _timer: Any = None
    _name = ""

    def _start(
        self, context: bpy.types.Context
    ) -> tuple[str, Callable[[publish.Progress], publish.Prepared], Storage] | None:
        """The name, the export (of the avatar with its preset, or of the clip) and the storage the sidebar
        chose; None (reported) when they cannot be used, or while an earlier publish is still uploading
        (checked before this one exports anything)."""
        try:
            UPLOADS.check()
        except JobRunningError as exc:
            self._failed(context, exc)
            return None
        settings = publish_settings(context)
        name = settings.name
        try:
            target = publish.preferred_storage(settings.destination)
            if settings.kind == "animation":
                return name, lambda progress: publish.prepare_clip(name, progress=progress), target
            preset = get_preset(export_settings(context).preset, paths.user_presets_dir())
        except (ForgeError, ValueError) as exc:  # ValueError: storage preferences that cannot be used
            self._failed(context, exc)
            return None
        return name, lambda progress: publish.prepare(name, preset, progress=progress), target

    def _failed(self, context: bpy.types.Context, exc: BaseException) -> set[OperatorReturn]:
        _record(publish_result(context), published=False, message=str(exc))
        self.report({"ERROR"}, f"Not published: {exc}")
        return {"CANCELLED"}

    def _succeeded(self, context: bpy.types.Context, done: publish.PublishResult) -> set[OperatorReturn]:
        result, request = publish_result(context), done.request
        _record(result, published=True, message=f"Published {request.name} v{request.version}")
        result.version, result.size_mb, result.where = request.version, request.vrm.size / 1e6, done.release.vrm_url
        self.report({"INFO"}, f"Published {done.release.vrm_url} ({request.vrm.size / 1e6:.2f} MB), queued")
        for left in done.release.unqueued:
            self.report({"WARNING"}, f"{left} has no promotion request: left by an interrupted publish")
        return {"FINISHED"}

    def _show(self, context: bpy.types.Context, name: str, fraction: float, what: str) -> None:
        wm = context.window_manager
        assert wm is not None
        wm.progress_update(int(fraction * 100))
        _status(context, f"Publishing {name}: {what} ({fraction * 100:.0f}%)")

    def execute(self, context: bpy.types.Context) -> set[OperatorReturn]:
        chosen = self._start(context)
        if chosen is None:
            return {"CANCELLED"}
        name, prepare, target = chosen
        wm = context.window_manager
        assert wm is not None
        wm.progress_begin(0, 100)
        try:
            show: publish.Progress = lambda fraction, what: self._show(context, name, fraction, what)  # noqa: E731
            done = publish.upload(prepare(show), target, progress=show)
        except _PUBLISH_ERRORS as exc:
            return self._failed(context, exc)
        finally:
            wm.progress_end()
            _status(context, None)
        return self._succeeded(context, done)

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[OperatorReturn]:
        wm = context.window_manager
        if wm is None or context.window is None:  # no window to keep live: publish in one go
            return self.execute(context)
        chosen = self._start(context)
        if chosen is None:
            return {"CANCELLED"}
        name, prepare, target = chosen
        self._name = name
        wm.progress_begin(0, 100)
        try:
            # Blender's data can only be read here, on the main thread: the export blocks the UI a while.
            prepared = prepare(lambda fraction, what: self._show(context, name, fraction, what))
        except _PUBLISH_ERRORS as exc:
            wm.progress_end()
            _status(context, None)
            return self._failed(context, exc)
        self._job = BackgroundJob(
            lambda progress, cancel: publish.upload(prepared, target, progress=progress, cancel=cancel),
            name=f"avatar-forge-publish-{name}",
        )
        try:
            UPLOADS.start(self._job, name)
        except JobRunningError as exc:  # another started during this one's export
            wm.progress_end()
            _status(context, None)
            return self._failed(context, exc)
        self._timer = wm.event_timer_add(_POLL_SECONDS, window=context.window)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context: bpy.types.Context, event: bpy.types.Event) -> set[OperatorReturn]:
        job = self._job
        assert job is not None
        if event.type == "ESC":
            job.cancel()  # the upload stops at its next chunk; the timer then sees it done
            return {"RUNNING_MODAL"}
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        fraction, what = job.progress
        self._show(context, self._name, fraction, "cancelling" if job.cancelling else f"{what} (Esc to cancel)")
        if not job.done:
            return {"PASS_THROUGH"}
        wm = context.window_manager
        assert wm is not None
        wm.event_timer_remove(self._timer)
        wm.progress_end()
        _status(context, None)
        try:
            done = job.outcome()
        except _PUBLISH_ERRORS as exc:
            return self._failed(context, exc)
        return self._succeeded(context, done)
