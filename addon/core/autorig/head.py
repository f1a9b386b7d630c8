"""Eyes and the parts that ride on the head rigidly: small parts above the neck; near-spherical ones in
left/right pairs (or one part holding two such shells) are the eyes."""

from __future__ import annotations

import numpy as np

from ..rig.model import FloatArray
from .torso import Torso


def _round(points: FloatArray, height: float) -> bool:
    size = points.max(axis=0) - points.min(axis=0)
    return bool(size.max() < 0.05 * height and size.min() > 0.4 * size.max())


def find_eyes(
    others: list[tuple[str, FloatArray]], torso: Torso, height: float
) -> tuple[dict[str, FloatArray], dict[str, str]]:
    """(eye bone -> centre, part name -> the bone it rides on) from the parts that are not the body."""
    eyes: dict[str, FloatArray] = {}
    rigid: dict[str, str] = {}
    for name, points in others:
        size = points.max(axis=0) - points.min(axis=0)
        centre = (points.max(axis=0) + points.min(axis=0)) / 2
        if centre[2] < torso.neck or float(np.linalg.norm(size)) > 0.15 * height:
            continue
        left, right = points[points[:, 0] > 0], points[points[:, 0] < 0]
        if _round(points, height) and abs(centre[0]) > 0.005 * height:
            bone = "leftEye" if centre[0] > 0 else "rightEye"
            eyes[bone] = centre
            rigid[name] = bone
        elif len(left) and len(right) and _round(left, height) and _round(right, height):
            eyes["leftEye"] = (left.max(axis=0) + left.min(axis=0)) / 2
            eyes["rightEye"] = (right.max(axis=0) + right.min(axis=0)) / 2
            rigid[name] = "head"  # one part holds both eyes: it moves with the head
        else:
            rigid[name] = "head"
    if len([b for b in eyes if b.endswith("Eye")]) != 2:
        eyes.clear()
        rigid = {name: "head" for name in rigid}
    return eyes, rigid
