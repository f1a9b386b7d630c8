"""The hand from cuts across it, wrist to tip: separate fingers show as four or more regions past the webs;
a region that parts from the palm before them is the thumb. A mitten (fused fingers) gets no finger bones."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ..rig.model import FloatArray
from .arms import Arm, cut_across
from .sections import longest_run

SLICES = 40
FINGERS = ("Index", "Middle", "Ring", "Little")


@dataclass(frozen=True)
class Hand:
    wrist: FloatArray
    tip: FloatArray
    # finger name -> its joints from the knuckle out, and its tip (four points)
    fingers: dict[str, FloatArray] = field(default_factory=dict)


def _track(slices: list[list[FloatArray]], start_k: int, start: FloatArray, reach: float) -> list[FloatArray]:
    """One finger's centres outward from slice `start_k`: the nearest region in each next cut."""
    path = [start]
    for found in slices[start_k + 1 :]:
        centres = [r.mean(axis=0) for r in found]
        near = [c for c in centres if np.linalg.norm(c - path[-1]) < reach]
        if not near:
            break
        path.append(min(near, key=lambda c: float(np.linalg.norm(c - path[-1]))))
    return path


def _first_run(mask: npt.NDArray[np.bool_], length: int = 3) -> int | None:
    """The first index where `mask` holds for `length` entries in a row."""
    runs = np.convolve(mask.astype(np.int64), np.ones(length, dtype=np.int64), mode="valid")
    hits = np.flatnonzero(runs == length)
    return int(hits[0]) if len(hits) else None


def find_hand(arm: Arm, height: float) -> Hand:
    direction = arm.tip - arm.narrowest
    length = float(np.linalg.norm(direction))
    direction /= length
    cell = 0.0012 * height  # fingers a few millimetres apart stay apart
    ts = np.linspace(0.1, 0.98, SLICES) * length
    slices: list[list[FloatArray]] = []
    for t in ts:
        origin = arm.narrowest + t * direction
        found = [r for r in cut_across(arm.surface, origin, direction, cell) if len(r) >= 3]
        slices.append([r for r in found if np.min(np.linalg.norm(r - origin, axis=1)) < 0.06 * height])
    counts = np.array([len(s) for s in slices])
    # Shells that overlap (palm and forearm, palm and fingers) split a cut or two here and there: a count
    # holds only when it lasts for three cuts in a row, and the fingers are the longest such stretch.
    k4 = longest_run(counts >= 4)
    if k4 is None:
        return Hand(arm.wrist, arm.tip)
    centres = [r.mean(axis=0) for r in sorted(slices[k4], key=len, reverse=True)]
    thumb_path: list[FloatArray] = []
    first = _first_run(counts >= 2)
    if first is not None and first < k4 and counts[first] < 4:
        # The thumb parts from the palm before the fingers part from each other.
        thumb_path = _track(slices, first, min(slices[first], key=len).mean(axis=0), 0.03 * height)
        if len(thumb_path) > k4 - first:
            at = thumb_path[k4 - first]
            centres.pop(int(np.argmin([np.linalg.norm(c - at) for c in centres])))
    elif len(centres) >= 5:
        # Five regions in a row at once: the thumb is the end whose region ends sooner.
        five = np.array(centres[:5])
        row = np.linalg.svd(five - five.mean(axis=0))[2][0]
        ends = [int(np.argmin(five @ row)), int(np.argmax(five @ row))]
        paths = {i: _track(slices, k4, five[i], 0.03 * height) for i in ends}
        thumb_i = min(ends, key=lambda i: len(paths[i]))
        thumb_path = paths[thumb_i]
        centres.pop(thumb_i)
    if len(centres) < 4:
        return Hand(arm.wrist, arm.tip)
    four = np.array(centres[:4])
    four = four[np.argsort(four[:, 1])]  # index at the front (−Y), little at the back
    step = float(ts[1] - ts[0])
    fingers: dict[str, FloatArray] = {}
    for name, start in zip(FINGERS, four, strict=True):
        path = np.array(_track(slices, k4, start, 0.03 * height))
        web_t = float(ts[k4])
        tip_t = web_t + step * (len(path) - 1) + step / 2
        whole = (tip_t - web_t) / 0.75  # the webs sit a quarter of a finger past the knuckles
        knuckle = path[0] - direction * (whole * 0.25)
        along = web_t + np.arange(len(path)) * step
        joints = [knuckle]
        for share in (0.45, 0.75):
            t = tip_t - whole + share * whole
            joints.append(np.array([np.interp(t, along, path[:, i]) for i in range(3)]))
        joints.append(path[-1] + direction * step / 2)
        fingers[name] = np.array(joints)
    if len(thumb_path) >= 2:
        thumb = np.array(thumb_path)
        base = thumb[0]
        fingers["Thumb"] = np.array(
            [arm.wrist + 0.35 * (base - arm.wrist), base, base + 0.55 * (thumb[-1] - base), thumb[-1]]
        )
    return Hand(arm.wrist, arm.tip, fingers)
