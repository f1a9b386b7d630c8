"""Publishes the avatar: rig check and export into local temporary storage, a saved copy of the .blend,
then upload and queue through addon/storage (the part that needs no Blender).

`forge.py publish` and the socket's `avatar_publish` call publish(); `forge.py publish-animation` and
`avatar_publish_animation` call publish_clip(), the same path with a VRM Animation (.vrma) clip in place of
the model. The sidebar calls their two halves: prepare() or prepare_clip() on Blender's main thread, then
upload() on a background thread so that the UI stays live.
"""

from __future__ import annotations

import getpass
import re
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bpy

from ..core import settings
from ..core.errors import ForgeError
from ..core.presets import Preset
from ..core.publish import bucket_keys
from ..core.publish.promotion import ANIMATION, MODEL, Artifact, Request
from ..core.version import VERSION
from ..storage.base import Storage
from ..storage.release import Describe, Release, publish_files
from ..storage.targets import open_storage
from . import animation_export, vrm_addon, vrm_export

Progress = Callable[[float, str], None]
# Called with the new version and its two artifacts just before its promotion request is queued.
BeforeQueue = Callable[[bucket_keys.Versioned, Artifact, Artifact], None]
# Share of the progress bar the export takes; uploading takes the rest.
_EXPORT_SHARE = 0.5


Exported = vrm_export.ExportResult | animation_export.ClipResult


@dataclass(frozen=True)
class PublishResult:
    release: Release
    export: Exported
    seconds: float

    @property
    def request(self) -> Request:
        return self.release.request

    def to_json(self) -> dict[str, Any]:
        request = self.request
        return {
            "published": True,
            "kind": request.kind,
            "name": request.name,
            "version": request.version,
            "location": self.release.location,
            # a model's .vrm under "vrm", a clip's .vrma under "vrma" (the request's artifact roles)
            "vrm" if request.kind == MODEL else "vrma": {**request.vrm.to_json(), "url": self.release.vrm_url},
            "blend": {**request.blend.to_json(), "url": self.release.blend_url},
            "request": self.release.request_url,
            "preset": request.preset,
            "spec_version": request.spec_version,
            "stats": request.stats,
            "check": request.check,
            "seconds": round(self.seconds, 3),
            "unqueued": self.release.unqueued,
            "verification": self.export.verification.to_json(),
            **self._web(),
        }

    def _web(self) -> dict[str, Any]:
        """A model's packing for download and the loader lines it needs (a clip has neither)."""
        if not isinstance(self.export, vrm_export.ExportResult):
            return {"web": None, "loader": []}
        web = self.export.web
        return {"web": web.to_json() if web else None, "loader": vrm_export.loader_lines(self.export)}


def check_summary(findings: list[Any]) -> dict[str, Any]:
    """The rig check's findings, counted by severity, with their ids (what the request records)."""
    data = [f.to_json() if hasattr(f, "to_json") else dict(f) for f in findings]
    severities = Counter(str(f.get("severity", "")) for f in data)
    return {
        "errors": severities.get("error", 0),
        "warnings": severities.get("warning", 0),
        "findings": sorted({str(f.get("id")) for f in data if f.get("id")}),
    }


# The innermost error a bpy operator's RuntimeError carries in its text ("OSError: [Errno 28] No space...").
_INNER_ERROR = re.compile(r"^(\w+(?:Error|Exception)): (.+)$", re.MULTILINE)


def _operator_failure(exc: RuntimeError, what: str) -> Exception:
    """One line for a failed operator: OSError when it could not write (a full temporary folder)."""
    text = str(exc)
    found = [m for m in _INNER_ERROR.finditer(text) if m[1] != "RuntimeError"]
    inner = found[0] if found else None
    if inner is not None and inner[1] in ("OSError", "IOError", "PermissionError"):
        return OSError(f"{what} could not write its temporary file ({inner[2]})")
    if "Cannot open file" in text or "cannot open file" in text:
        return OSError(f"{what} could not write its temporary file ({text.strip().splitlines()[-1]})")
    detail = f"{inner[1]}: {inner[2]}" if inner is not None else text.strip().splitlines()[-1]
    return vrm_export.ExportFailedError(f"{what} failed: {detail[:300]}")


def save_self_contained_copy(path: Path) -> None:
    """Saves a copy of the open file with every image that lives in a file packed into it.

    The published .blend is opened later from projects/, on other machines: textures the artist keeps
    beside their own file would be missing there. The open file is left as it was (packed for the save,
    unpacked again after, the image files themselves untouched).
    """
    packed_here = []
    for image in bpy.data.images:
        if image.packed_file is None and image.source == "FILE" and image.filepath:
            source = Path(bpy.path.abspath(image.filepath, library=image.library))
            if source.is_file():
                image.pack()
                packed_here.append(image)
    try:
        bpy.ops.wm.save_as_mainfile(filepath=str(path), copy=True, check_existing=False)
    finally:
        for image in packed_here:
            image.unpack(method="REMOVE")


@dataclass
class Prepared:
    """An export and a saved .blend in a private temporary folder, ready to upload; cleanup() removes them."""

    name: str
    kind: str
    export: Exported
    vrm: Path  # the served file: the .vrm, or the clip's .vrma
    blend: Path
    describe: Describe
    scratch: tempfile.TemporaryDirectory[str]
    started: float

    def cleanup(self) -> None:
        self.scratch.cleanup()


def prepare(
    name: str, preset: Preset, *, armature_name: str | None = None, progress: Progress | None = None
) -> Prepared:
    """The Blender half of a publish (main thread only): check and export the avatar, save a copy.

    Raises bucket_keys.InvalidNameError before doing anything, vrm_export's errors when the export is refused
    or fails, and OSError when the temporary folder cannot hold the files. Nothing is uploaded here.
    """

    def export(path: Path, step: Progress) -> Exported:
        return vrm_export.export_vrm(path, preset, armature_name=armature_name, progress=step)

    return _prepare(name, MODEL, preset.name, export, progress)


def prepare_clip(
    name: str,
    *,
    armature_name: str | None = None,
    action: str | None = None,
    strip: str | None = None,
    frames: tuple[int, int] | None = None,
    progress: Progress | None = None,
) -> Prepared:
    """prepare() for an animation clip: check and export the action (or NLA strip) as .vrma, save a copy.

    Raises what animation_export.export_clip raises (its refusal is an ExportRefusedError), and OSError.
    """

    def export(path: Path, _step: Progress) -> Exported:
        return animation_export.export_clip(path, armature_name=armature_name, action=action, strip=strip,
                                            frames=frames)  # fmt: skip

    return _prepare(name, ANIMATION, "vrma", export, progress)


def _prepare(
    name: str, kind: str, preset_name: str, export: Callable[[Path, Progress], Exported], progress: Progress | None
) -> Prepared:
    bucket_keys.check_name(name)
    step = progress or (lambda _fraction, _what: None)
    started = time.perf_counter()
    scratch = tempfile.TemporaryDirectory(prefix="avatar-forge-publish-")
    try:
        served = Path(scratch.name) / f"{name}.{'vrm' if kind == MODEL else 'vrma'}"
        try:
            exported = export(served, lambda fraction, what: step(fraction * _EXPORT_SHARE, what))
        except ForgeError:
            raise  # its own message, and a refusal's findings or verification, are already what the user needs
        except RuntimeError as exc:  # how bpy.ops reports an exporter's exception, traceback and all
            raise _operator_failure(exc, "the export") from None
        step(_EXPORT_SHARE, "saving a copy of the .blend")
        blend = Path(scratch.name) / f"{name}.blend"
        try:
            save_self_contained_copy(blend)
        except RuntimeError as exc:
            raise _operator_failure(exc, "saving a copy of the .blend") from None
    except BaseException:
        scratch.cleanup()
        raise
    # Read from Blender now: the request is built on the upload's thread, which must not touch bpy.
    blender_version, addon_version = bpy.app.version_string, vrm_addon.version()

    def describe(stem: bucket_keys.Versioned, vrm_artifact: Artifact, blend_artifact: Artifact) -> Request:
        return Request(
            name=stem.name,
            version=stem.version,
            vrm=vrm_artifact,
            blend=blend_artifact,
            preset=preset_name,
            spec_version=exported.spec_version,
            stats=exported.stats,
            check=check_summary(exported.findings),
            blender_version=blender_version,
            vrm_addon_version=addon_version,
            avatar_forge_version=VERSION,
            created_by=getpass.getuser(),
            kind=kind,
        )

    return Prepared(name, kind, exported, served, blend, describe, scratch, started)


def upload(
    prepared: Prepared,
    target: Storage,
    *,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    before_queue: BeforeQueue | None = None,
) -> PublishResult:
    """The storage half of a publish, on any thread (no bpy): upload and queue, then remove the files.
    `before_queue` runs once the version is uploaded, before its request is queued (a batch records it done).

    Raises StorageError (PublishCancelledError once `cancel` is set); nothing is queued then.
    """
    step = progress or (lambda _fraction, _what: None)

    def describe(stem: bucket_keys.Versioned, vrm: Artifact, blend: Artifact) -> Request:
        if before_queue is not None:
            before_queue(stem, vrm, blend)
        return prepared.describe(stem, vrm, blend)

    try:
        release = publish_files(
            target,
            prepared.name,
            prepared.vrm,
            prepared.blend,
            describe=describe,
            progress=lambda fraction, what: step(_EXPORT_SHARE + fraction * (1 - _EXPORT_SHARE), what),
            cancel=cancel,
            kind=prepared.kind,
        )
    finally:
        prepared.cleanup()
    return PublishResult(release, prepared.export, time.perf_counter() - prepared.started)


def publish(
    name: str,
    preset: Preset,
    target: Storage,
    *,
    armature_name: str | None = None,
    progress: Progress | None = None,
) -> PublishResult:
    """Exports the avatar with `preset` and publishes it as the next version of `name` to `target`.

    Raises bucket_keys.InvalidNameError before doing anything, vrm_export's errors when the export is refused
    or fails (nothing is uploaded then), OSError when the temporary folder is full, and StorageError when
    the storage fails (nothing is queued then). The artist's open file is left as it was: the .blend goes
    up as a saved copy.
    """
    prepared = prepare(name, preset, armature_name=armature_name, progress=progress)
    return upload(prepared, target, progress=progress)


def publish_clip(
    name: str,
    target: Storage,
    *,
    armature_name: str | None = None,
    action: str | None = None,
    strip: str | None = None,
    frames: tuple[int, int] | None = None,
    progress: Progress | None = None,
) -> PublishResult:
    """Exports the action (or NLA strip) as a VRM Animation and publishes it as the next version of `name`
    (animations/<name>-v<N>.vrma, with the .blend under projects/), queued for promotion. Raises as publish()."""
    prepared = prepare_clip(name, armature_name=armature_name, action=action, strip=strip, frames=frames,
                            progress=progress)  # fmt: skip
    return upload(prepared, target, progress=progress)


def preferred_storage(destination: str = "root") -> Storage:
    """The storage the preferences name: the storage root folder, or S3 ("s3") at endpoint/bucket/prefix.

    Raises ValueError when it cannot be used (no such folder, a bad bucket or prefix).
    """
    from .. import preferences

    prefs = preferences.get()
    if destination == "s3":
        bucket = prefs.s3_bucket if prefs else settings.DEFAULT_S3_BUCKET
        prefix = prefs.s3_prefix if prefs else settings.DEFAULT_S3_PREFIX
        endpoint = prefs.s3_endpoint_url if prefs else ""
        return open_storage(s3_url=f"s3://{bucket}/{prefix}", endpoint_url=endpoint or None)
    root = bpy.path.abspath(prefs.storage_root) if prefs and prefs.storage_root else settings.DEFAULT_STORAGE_ROOT
    return open_storage(root=root)
