"""The checks before a VRM Animation (.vrma) export, on plain facts read from Blender.

The VRM Add-on's VRMA writer samples the armature's action over a frame range and keeps only what
VRMC_vrm_animation can carry: the rotations of humanoid bones and the hips' translation. What it would drop
or get wrong without a word (scale keys, a clip that moves no humanoid bone, a frame range of thousands
of seconds) is refused here, with a finding a person can act on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from ..rig.findings import Finding
from ..rig.humanoid import REQUIRED_VRM1

# Ten minutes at 60 fps: far past any clip a web avatar plays, and every frame is sampled in Blender.
MAX_FRAMES: Final = 36_000
MIN_FPS: Final = 1.0
MAX_FPS: Final = 240.0


@dataclass(frozen=True)
class ClipFacts:
    """What the export would sample: the armature, its humanoid mapping, the action and its range."""

    armature: str | None
    mapping: dict[str, str]  # VRM bone -> Blender bone (the add-on's VRM 1.0 humanoid)
    action: str | None
    frame_start: int
    frame_end: int
    fps: float  # frames per second (fps / fps_base)
    scale_keyed: tuple[str, ...] = ()  # humanoid Blender bones whose scale is keyed
    moved: tuple[str, ...] = ()  # humanoid Blender bones with rotation or (hips) location keys

    @property
    def frames(self) -> int:
        return self.frame_end - self.frame_start + 1

    @property
    def seconds(self) -> float:
        return (self.frames - 1) / self.fps if self.fps > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "armature": self.armature,
            "action": self.action,
            "frame_start": self.frame_start,
            "frame_end": self.frame_end,
            "frames": self.frames,
            "fps": round(self.fps, 6),
            "seconds": round(self.seconds, 6),
            "bones": sorted(vrm for vrm, bone in self.mapping.items() if bone in self.moved),
        }


def _error(finding: str, message: str, objects: tuple[str, ...] = ()) -> Finding:
    return Finding(finding, "error", message, False, objects)


def check_clip(facts: ClipFacts) -> list[Finding]:
    """Every reason the clip cannot be exported as a VRM Animation; empty when it can."""
    if facts.armature is None:
        return [_error("no_armature", "no armature in the scene: a clip animates a humanoid")]
    where = (facts.armature,)
    findings = []
    missing = sorted(REQUIRED_VRM1 - set(facts.mapping))
    if missing:
        findings.append(_error("humanoid_unmapped", f"the humanoid lacks {', '.join(missing)}: no VRM can play a "
                               "clip of it (check_rig --fix maps the bones)", where))  # fmt: skip
    if facts.action is None:
        findings.append(_error("no_action", f"{facts.armature} has no action (or NLA strip) to export", where))
    if facts.frame_end < facts.frame_start:
        range_text = f"{facts.frame_start}-{facts.frame_end}"
        findings.append(_error("bad_frame_range", f"frame range {range_text} ends before it starts"))
    elif facts.frames > MAX_FRAMES:
        message = f"{facts.frames} frames, over the limit of {MAX_FRAMES}: set the frame range to the clip"
        findings.append(_error("bad_frame_range", message))
    elif facts.frames < 2:
        findings.append(_error("bad_frame_range", "a clip needs at least 2 frames"))
    if not MIN_FPS <= facts.fps <= MAX_FPS:
        message = f"frame rate {facts.fps:g} fps is outside {MIN_FPS:g}-{MAX_FPS:g}"
        findings.append(_error("bad_frame_rate", message))
    if facts.scale_keyed:
        findings.append(_error("scale_keys", f"scale is keyed on humanoid bones {', '.join(facts.scale_keyed)}: a "
                               "VRM Animation carries rotations (and the hips' position) only, so the clip would "
                               "play differently; remove the scale keys", facts.scale_keyed))  # fmt: skip
    if facts.action is not None and not facts.moved:
        message = f"action {facts.action} keys no humanoid bone's rotation: the clip would not move"
        findings.append(_error("nothing_animated", message, where))
    return findings
