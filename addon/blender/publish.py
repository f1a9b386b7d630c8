"""Publishes the avatar: rig check and export into local temporary storage, a saved copy of the .blend,
then upload and queue through addon/storage (the part that needs no Blender).

The sidebar's Publish button, `forge.py publish` and the socket's `avatar_publish` all call publish().
"""

from __future__ import annotations

import getpass
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bpy

from ..core import naming, settings
from ..core.presets import Preset
from ..core.promotion import Artifact, Request
from ..core.version import VERSION
from ..storage.base import Storage
from ..storage.release import Release, publish_files
from ..storage.targets import open_storage
from . import vrm_addon, vrm_export

Progress = Callable[[float, str], None]
# Share of the progress bar the export takes; uploading takes the rest.
_EXPORT_SHARE = 0.5


@dataclass(frozen=True)
class PublishResult:
    release: Release
    export: vrm_export.ExportResult
    seconds: float

    @property
    def request(self) -> Request:
        return self.release.request

    def to_json(self) -> dict[str, Any]:
        request = self.request
        return {
            "published": True,
            "name": request.name,
            "version": request.version,
            "location": self.release.location,
            "vrm": {**request.vrm.to_json(), "url": self.release.vrm_url},
            "blend": {**request.blend.to_json(), "url": self.release.blend_url},
            "request": self.release.request_url,
            "preset": request.preset,
            "spec_version": request.spec_version,
            "stats": request.stats,
            "check": request.check,
            "seconds": round(self.seconds, 3),
        }


def check_summary(findings: list[Any]) -> dict[str, Any]:
    """The rig check's findings, counted by severity, with their ids (what the request records)."""
    data = [f.to_json() if hasattr(f, "to_json") else dict(f) for f in findings]
    severities = Counter(str(f.get("severity", "")) for f in data)
    return {
        "errors": severities.get("error", 0),
        "warnings": severities.get("warning", 0),
        "findings": sorted({str(f.get("id")) for f in data if f.get("id")}),
    }


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


def publish(
    name: str,
    preset: Preset,
    target: Storage,
    *,
    armature_name: str | None = None,
    progress: Progress | None = None,
) -> PublishResult:
    """Exports the avatar with `preset` and publishes it as the next version of `name` to `target`.

    Raises naming.InvalidNameError before doing anything, vrm_export's errors when the export is refused
    or fails (nothing is uploaded then), and StorageError when the storage fails (nothing is queued then).
    The artist's open file is left as it was: the .blend goes up as a saved copy.
    """
    naming.check_name(name)
    step = progress or (lambda _fraction, _what: None)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="avatar-forge-publish-") as scratch:
        vrm = Path(scratch) / f"{name}.vrm"
        exported = vrm_export.export_vrm(
            vrm,
            preset,
            armature_name=armature_name,
            progress=lambda fraction, what: step(fraction * _EXPORT_SHARE, what),
        )
        step(_EXPORT_SHARE, "saving a copy of the .blend")
        blend = Path(scratch) / f"{name}.blend"
        save_self_contained_copy(blend)

        def describe(stem: naming.Versioned, vrm_artifact: Artifact, blend_artifact: Artifact) -> Request:
            return Request(
                name=stem.name,
                version=stem.version,
                vrm=vrm_artifact,
                blend=blend_artifact,
                preset=preset.name,
                spec_version=exported.spec_version,
                stats=exported.stats,
                check=check_summary(exported.findings),
                blender_version=bpy.app.version_string,
                vrm_addon_version=vrm_addon.version(),
                avatar_forge_version=VERSION,
                created_by=getpass.getuser(),
            )

        release = publish_files(
            target,
            name,
            vrm,
            blend,
            describe=describe,
            progress=lambda fraction, what: step(_EXPORT_SHARE + fraction * (1 - _EXPORT_SHARE), what),
        )
    return PublishResult(release, exported, time.perf_counter() - started)


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
