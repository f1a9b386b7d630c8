"""The VRM humanoid bone table (VRM 1.0 names; VRM 0.x differences noted), from the VRM specification.

Parents are the specification's: when an optional parent is not mapped, the nearest mapped ancestor
along this table stands in for it.
"""

from __future__ import annotations

import re
from typing import Final

# (vrm bone, parent or None); the order is the specification's.
_TABLE: Final[tuple[tuple[str, str | None], ...]] = (
    ("hips", None),
    ("spine", "hips"),
    ("chest", "spine"),
    ("upperChest", "chest"),
    ("neck", "upperChest"),
    ("head", "neck"),
    ("leftEye", "head"),
    ("rightEye", "head"),
    ("jaw", "head"),
    ("leftUpperLeg", "hips"),
    ("leftLowerLeg", "leftUpperLeg"),
    ("leftFoot", "leftLowerLeg"),
    ("leftToes", "leftFoot"),
    ("rightUpperLeg", "hips"),
    ("rightLowerLeg", "rightUpperLeg"),
    ("rightFoot", "rightLowerLeg"),
    ("rightToes", "rightFoot"),
    ("leftShoulder", "upperChest"),
    ("leftUpperArm", "leftShoulder"),
    ("leftLowerArm", "leftUpperArm"),
    ("leftHand", "leftLowerArm"),
    ("rightShoulder", "upperChest"),
    ("rightUpperArm", "rightShoulder"),
    ("rightLowerArm", "rightUpperArm"),
    ("rightHand", "rightLowerArm"),
    *(
        (f"{side}{finger}{seg}", f"{side}{finger}{prev}" if prev else f"{side}Hand")
        for side in ("left", "right")
        for finger, segs in (
            ("Thumb", ("Metacarpal", "Proximal", "Distal")),
            ("Index", ("Proximal", "Intermediate", "Distal")),
            ("Middle", ("Proximal", "Intermediate", "Distal")),
            ("Ring", ("Proximal", "Intermediate", "Distal")),
            ("Little", ("Proximal", "Intermediate", "Distal")),
        )
        for prev, seg in zip((None, *segs[:-1]), segs, strict=True)
    ),
)

HUMAN_BONES: Final[tuple[str, ...]] = tuple(name for name, _ in _TABLE)
PARENT: Final[dict[str, str | None]] = dict(_TABLE)

REQUIRED_VRM1: Final[frozenset[str]] = frozenset(
    {
        "hips", "spine", "head",
        "leftUpperLeg", "leftLowerLeg", "leftFoot",
        "rightUpperLeg", "rightLowerLeg", "rightFoot",
        "leftUpperArm", "leftLowerArm", "leftHand",
        "rightUpperArm", "rightLowerArm", "rightHand",
    }
)  # fmt: skip
# VRM 0.x also requires chest and neck.
REQUIRED_VRM0: Final[frozenset[str]] = REQUIRED_VRM1 | {"chest", "neck"}

# VRM 0.x names its thumb bones one joint further out than VRM 1.0.
VRM0_NAME: Final[dict[str, str]] = {
    f"{side}Thumb{v1}": f"{side}Thumb{v0}"
    for side in ("left", "right")
    for v1, v0 in (("Metacarpal", "Proximal"), ("Proximal", "Intermediate"), ("Distal", "Distal"))
}


def required_bones(spec_version: str) -> frozenset[str]:
    """The bones a VRM of this spec version ("1.0" or "0.x") cannot be exported without."""
    return REQUIRED_VRM0 if spec_version.startswith("0") else REQUIRED_VRM1


def snake_case(vrm_bone: str) -> str:
    """`leftUpperArm` -> `left_upper_arm`, the VRM Add-on's property name for that bone."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", vrm_bone).lower()


def mapped_parent(vrm_bone: str, mapped: set[str] | frozenset[str]) -> str | None:
    """The nearest ancestor of `vrm_bone` in the specification's table that is in `mapped`."""
    parent = PARENT[vrm_bone]
    while parent is not None and parent not in mapped:
        parent = PARENT[parent]
    return parent
