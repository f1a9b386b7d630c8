"""The demo humanoid's skeleton and body proportions, as plain data.

A T-pose facing -Y (Blender's front view looks at its face), the character's left on +X, feet on z=0,
about 1.7 m tall. Every bone carries the body's half-widths at its two ends, from which the Blender side
grows the skin; the same segments drive the skinning weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

Vec3 = tuple[float, float, float]
Radius = tuple[float, float]


@dataclass(frozen=True)
class DemoBone:
    name: str
    head: Vec3
    tail: Vec3
    parent: str | None
    vrm: str | None
    # Body half-widths (across, front-to-back) at the head and at the tail; None: no flesh of its own.
    radius_head: Radius | None = None
    radius_tail: Radius | None = None


def _mirror(bone: DemoBone) -> DemoBone:
    """The right-side twin of a left-side bone (x negated, .L -> .R, left -> right)."""

    def flip(v: Vec3) -> Vec3:
        return (-v[0], v[1], v[2])

    def rename(name: str | None) -> str | None:
        if name is None:
            return None
        return name.replace(".L", ".R").replace("left", "right")

    name = rename(bone.name)
    assert name is not None
    return DemoBone(
        name,
        flip(bone.head),
        flip(bone.tail),
        rename(bone.parent),
        rename(bone.vrm),
        bone.radius_head,
        bone.radius_tail,
    )


_SHOULDER_Z = 1.40
_HAND_END_X = 0.80


def _left_fingers() -> list[DemoBone]:
    bones: list[DemoBone] = []
    # (finger, base position, direction, segment lengths, radius); the thumb points forward and out.
    fingers: tuple[tuple[str, Vec3, Vec3, tuple[float, float, float], float], ...] = (
        ("Thumb", (0.735, -0.022, _SHOULDER_Z - 0.012), (0.55, -0.8, -0.2), (0.03, 0.028, 0.024), 0.0095),
        ("Index", (_HAND_END_X, -0.024, _SHOULDER_Z), (1.0, 0.0, 0.0), (0.035, 0.022, 0.02), 0.0085),
        ("Middle", (_HAND_END_X + 0.004, -0.008, _SHOULDER_Z), (1.0, 0.0, 0.0), (0.038, 0.025, 0.021), 0.0088),
        ("Ring", (_HAND_END_X, 0.008, _SHOULDER_Z), (1.0, 0.0, 0.0), (0.035, 0.023, 0.02), 0.0083),
        ("Little", (_HAND_END_X - 0.006, 0.023, _SHOULDER_Z), (1.0, 0.0, 0.0), (0.028, 0.018, 0.017), 0.0072),
    )
    for finger, base, direction, lengths, radius in fingers:
        segs = ("Metacarpal", "Proximal", "Distal") if finger == "Thumb" else ("Proximal", "Intermediate", "Distal")
        norm = sum(c * c for c in direction) ** 0.5
        unit = tuple(c / norm for c in direction)
        head = base
        parent = "Hand.L"
        for i, (seg, length) in enumerate(zip(segs, lengths, strict=True)):
            tail = (head[0] + unit[0] * length, head[1] + unit[1] * length, head[2] + unit[2] * length)
            name = f"{finger}{i + 1}.L"
            r_head = radius * (1.0 - 0.08 * i)
            bones.append(
                DemoBone(
                    name, head, tail, parent, f"left{finger}{seg}", (r_head, r_head), (r_head * 0.92, r_head * 0.92)
                )
            )
            parent, head = name, tail
    return bones


def _left_side() -> list[DemoBone]:
    z = _SHOULDER_Z
    return [
        DemoBone(
            "Shoulder.L",
            (0.03, 0.0, z - 0.02),
            (0.17, 0.0, z),
            "UpperChest",
            "leftShoulder",
            (0.06, 0.06),
            (0.06, 0.055),
        ),
        DemoBone(
            "UpperArm.L", (0.17, 0.0, z), (0.44, 0.0, z), "Shoulder.L", "leftUpperArm", (0.052, 0.05), (0.038, 0.036)
        ),
        DemoBone(
            "LowerArm.L", (0.44, 0.0, z), (0.69, 0.0, z), "UpperArm.L", "leftLowerArm", (0.037, 0.035), (0.027, 0.024)
        ),
        DemoBone(
            "Hand.L", (0.69, 0.0, z), (_HAND_END_X, 0.0, z), "LowerArm.L", "leftHand", (0.03, 0.018), (0.042, 0.014)
        ),
        *_left_fingers(),
        DemoBone(
            "UpperLeg.L", (0.095, 0.0, 0.92), (0.095, 0.0, 0.50), "Hips", "leftUpperLeg", (0.085, 0.085), (0.055, 0.055)
        ),
        DemoBone(
            "LowerLeg.L",
            (0.095, 0.0, 0.50),
            (0.095, 0.01, 0.085),
            "UpperLeg.L",
            "leftLowerLeg",
            (0.052, 0.052),
            (0.036, 0.036),
        ),
        DemoBone(
            "Foot.L", (0.095, 0.01, 0.085), (0.095, -0.10, 0.03), "LowerLeg.L", "leftFoot", (0.038, 0.04), (0.04, 0.03)
        ),
        DemoBone(
            "Toes.L", (0.095, -0.10, 0.03), (0.095, -0.16, 0.03), "Foot.L", "leftToes", (0.04, 0.028), (0.035, 0.022)
        ),
        DemoBone("Eye.L", (0.033, -0.082, 1.615), (0.033, -0.11, 1.615), "Head", "leftEye"),
    ]


_CENTER: Final[tuple[DemoBone, ...]] = (
    DemoBone("Hips", (0.0, 0.0, 0.92), (0.0, 0.0, 1.04), None, "hips", (0.15, 0.1), (0.135, 0.09)),
    DemoBone("Spine", (0.0, 0.0, 1.04), (0.0, 0.0, 1.16), "Hips", "spine", (0.135, 0.09), (0.13, 0.09)),
    DemoBone("Chest", (0.0, 0.0, 1.16), (0.0, 0.0, 1.28), "Spine", "chest", (0.13, 0.09), (0.15, 0.1)),
    DemoBone("UpperChest", (0.0, 0.0, 1.28), (0.0, 0.0, 1.40), "Chest", "upperChest", (0.15, 0.1), (0.12, 0.08)),
    DemoBone("Neck", (0.0, 0.0, 1.40), (0.0, -0.005, 1.50), "UpperChest", "neck", (0.05, 0.05), (0.045, 0.045)),
    DemoBone("Head", (0.0, -0.005, 1.50), (0.0, -0.005, 1.72), "Neck", "head", (0.075, 0.085), (0.075, 0.08)),
)

# Extra joints that shape the head (a bone's two ends alone make a cone, not a skull).
HEAD_PROFILE: Final[tuple[tuple[float, Radius], ...]] = (
    (0.0, (0.045, 0.045)),
    (0.04, (0.07, 0.08)),
    (0.10, (0.09, 0.105)),
    (0.15, (0.092, 0.105)),
    (0.19, (0.075, 0.085)),
    (0.215, (0.03, 0.035)),
)


def demo_bones() -> tuple[DemoBone, ...]:
    """Every bone of the demo armature, parents before children."""
    left = _left_side()
    return (*_CENTER, *left, *(_mirror(b) for b in left))


def vrm_mapping() -> dict[str, str]:
    """VRM humanoid bone -> demo bone name."""
    return {b.vrm: b.name for b in demo_bones() if b.vrm is not None}
