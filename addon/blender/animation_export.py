"""Exports an action (or an NLA strip's action) of a humanoid as a VRM Animation (.vrma) through the VRM Add-on.

`forge.py export-animation`, the sidebar's Export Clip button, the socket's `avatar_export_animation` and
publish's clip half all call export_clip(). The clip check (core/vrm/clip_check.py) runs first; the add-on's
writer then samples the chosen action over its frame range, and the written file is read back with the
promoter's own bounded check before it is put in place. The scene is left as it was: the armature's
action and the scene's frame range are set only for the export.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bpy

from ..core.outputs import output_path, place_new
from ..core.rig.findings import CheckReport, Finding
from ..core.vrm.clip_check import ClipFacts, check_clip
from ..core.vrm.inspect import VrmReport, inspect_vrma_file
from . import context, rig_reader, vrm_addon
from .action_rebase import BONE_PATH
from .paths import refuse_storage_root
from .vrm_export import ExportFailedError, ExportRefusedError

_ROTATIONS = frozenset({"rotation_quaternion", "rotation_euler", "rotation_axis_angle"})


class ClipRefusedError(ExportRefusedError):
    """The clip check found errors: nothing was written. `report` holds the findings."""

    def __init__(self, report: CheckReport) -> None:
        super().__init__(report, "clip check")


@dataclass
class ClipResult:
    path: Path
    bytes: int
    sha256: str
    clip: ClipFacts
    seconds: float
    verification: VrmReport
    findings: list[Finding] = field(default_factory=list)

    @property
    def spec_version(self) -> str:
        return self.verification.spec_version or "1.0"

    @property
    def stats(self) -> dict[str, Any]:
        return self.clip.to_json()

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "bytes": self.bytes,
            "sha256": self.sha256,
            "spec_version": self.spec_version,
            "clip": self.clip.to_json(),
            "seconds": round(self.seconds, 3),
            "verification": self.verification.to_json(),
        }


def _fcurves(action: bpy.types.Action) -> list[Any]:
    """An action's F-curves: Blender 4.4+ keeps them in layers (its first slot's channel bag), older in fcurves."""
    layers: Any = getattr(action, "layers", None)  # absent before 4.4
    if layers is None:
        return list(action.fcurves)
    curves: list[Any] = []
    for layer in layers:
        for strip in layer.strips:
            for slot in action.slots:
                bag = strip.channelbag(slot)
                if bag is not None:
                    curves.extend(bag.fcurves)
    return curves


def _keyed(action: bpy.types.Action, bones: set[str], hips: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(humanoid bones with scale keys, humanoid bones whose keys move them: rotation, or the hips' location)."""
    scaled, moved = set(), set()
    for curve in _fcurves(action):
        match = BONE_PATH.match(curve.data_path)
        if not match or match[1] not in bones:
            continue
        bone, channel = match[1], match[2]
        if channel == "scale":
            scaled.add(bone)
        elif channel in _ROTATIONS or (channel == "location" and bone == hips):
            moved.add(bone)
    return tuple(sorted(scaled)), tuple(sorted(moved))


def _chosen(
    armature: bpy.types.Object, action_name: str | None, strip_name: str | None
) -> tuple[bpy.types.Action | None, tuple[float, float] | None]:
    """The action to export and its own frame range (None: the scene's); LookupError for a name not found."""
    if strip_name is not None:
        animation = armature.animation_data
        strips = [s for t in (animation.nla_tracks if animation else []) for s in t.strips]
        for strip in strips:
            if strip.name == strip_name:
                return strip.action, (strip.action_frame_start, strip.action_frame_end)
        known = ", ".join(s.name for s in strips) or "none"
        raise LookupError(f"no NLA strip '{strip_name}' on {armature.name}; strips: {known}")
    if action_name is not None:
        action = next((a for a in bpy.data.actions if a.name == action_name), None)
        if action is None:
            known = ", ".join(a.name for a in bpy.data.actions) or "none"
            raise LookupError(f"no action '{action_name}' in the file; actions: {known}")
        return action, (action.frame_range[0], action.frame_range[1])
    action = armature.animation_data.action if armature.animation_data else None
    return action, (action.frame_range[0], action.frame_range[1]) if action else None


def read_clip(
    armature_name: str | None = None,
    action_name: str | None = None,
    strip_name: str | None = None,
    frames: tuple[int, int] | None = None,
) -> tuple[ClipFacts, bpy.types.Action | None]:
    """What an export would sample, as core's plain facts, and the action itself.

    The range is `frames`, else the strip's or the action's own keyed range (as Blender's glTF exporter
    takes it), else the scene's.
    """
    scene = context.scene()
    armature = rig_reader.pick_armature(armature_name)
    fps = scene.render.fps / (scene.render.fps_base or 1.0)
    if armature is None:
        return ClipFacts(None, {}, None, scene.frame_start, scene.frame_end, fps), None
    action, own_range = _chosen(armature, action_name, strip_name)
    if frames is None:
        frames = (round(own_range[0]), round(own_range[1])) if own_range else (scene.frame_start, scene.frame_end)
    mapping = vrm_addon.humanoid_mapping(armature)
    scaled, moved = _keyed(action, set(mapping.values()), mapping.get("hips")) if action else ((), ())
    facts = ClipFacts(armature.name, mapping, action.name if action else None, frames[0], frames[1], fps, scaled, moved)
    return facts, action


@contextlib.contextmanager
def _sampling(armature: bpy.types.Object, action: bpy.types.Action, facts: ClipFacts) -> Iterator[None]:
    """The armature on `action` and the scene on the clip's range, as the add-on's writer reads them; put back after."""
    scene = context.scene()
    animation = armature.animation_data or armature.animation_data_create()
    saved_action, saved_range = animation.action, (scene.frame_start, scene.frame_end)
    saved_spec = armature.data.vrm_addon_extension.spec_version  # type: ignore[union-attr]
    try:
        animation.action = action
        # frame_end first when moving the range up: Blender clamps start to end as each is set.
        scene.frame_end, scene.frame_start = facts.frame_end, facts.frame_start
        scene.frame_start, scene.frame_end = facts.frame_start, facts.frame_end
        armature.data.vrm_addon_extension.spec_version = "1.0"  # type: ignore[union-attr]  # the VRMA writer needs it
        yield
    finally:
        armature.data.vrm_addon_extension.spec_version = saved_spec  # type: ignore[union-attr]
        scene.frame_end, scene.frame_start = saved_range[1], saved_range[0]
        scene.frame_start, scene.frame_end = saved_range
        animation.action = saved_action


def export_clip(
    out: Path,
    *,
    armature_name: str | None = None,
    action: str | None = None,
    strip: str | None = None,
    frames: tuple[int, int] | None = None,
    overwrite: bool = False,
) -> ClipResult:
    """Checks the clip, exports it to `out` (.vrma) through the VRM Add-on and verifies the written file.

    Raises ValueError / FileExistsError for an unusable `out`, PermissionError inside a storage root,
    LookupError for an armature, action or strip not found, ClipRefusedError when the clip check finds
    errors (nothing written), ExportFailedError when the add-on fails or the file fails verification.
    """
    started = time.perf_counter()
    out = output_path(out, ".vrma", overwrite=overwrite)
    refuse_storage_root(out)
    vrm_addon.ensure_enabled()
    facts, chosen = read_clip(armature_name, action, strip, frames)
    findings = check_clip(facts)
    if findings or chosen is None or facts.armature is None:
        raise ClipRefusedError(CheckReport.from_findings(facts.armature, facts.mapping, findings, {}))
    armature = bpy.data.objects[facts.armature]
    handle, name = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=".part.vrma", dir=out.parent)
    os.close(handle)
    scratch = Path(name)
    try:
        with _sampling(armature, chosen, facts):
            try:
                writer: Any = getattr(bpy.ops.export_scene, "vrma")  # noqa: B009 (the VRM Add-on's: no stub)
                done = writer(filepath=str(scratch), armature_object_name=armature.name)
            except RuntimeError as exc:  # the add-on's exception, as bpy.ops reports it
                raise ExportFailedError(
                    f"the VRM Animation export failed: {str(exc).strip().splitlines()[-1]}"
                ) from None
        if "FINISHED" not in done:
            reasons = "; ".join(vrm_addon.validation_errors(armature.name)) or "it named no reason"
            raise ExportFailedError(f"the VRM Add-on cancelled the VRM Animation export: {reasons}")
        verification = inspect_vrma_file(scratch)
        if verification.problems:
            raise ExportFailedError(
                f"not exported: the written clip fails verification: {'; '.join(verification.problems)}"
            )
        data = scratch.read_bytes()
        if overwrite:
            os.replace(scratch, out)
        else:
            place_new(scratch, out)
    finally:
        scratch.unlink(missing_ok=True)
    return ClipResult(
        out, len(data), hashlib.sha256(data).hexdigest(), facts, time.perf_counter() - started, verification
    )
