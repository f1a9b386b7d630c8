"""The arms from cuts perpendicular to each arm's own direction (so T- and A-poses read alike): the arm's
centre line, the wrist at its narrowest cut before the hand, the elbow midway."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..rig.model import FloatArray
from .sections import Surface, regions_in_plane
from .torso import Torso
from .types import NotHumanoidError

SLICES = 64


@dataclass(frozen=True)
class Arm:
    shoulder: FloatArray  # the upper arm's head
    elbow: FloatArray
    wrist: FloatArray
    tip: FloatArray  # the hand's far end
    direction: FloatArray  # unit, shoulder to tip
    surface: Surface  # the arm's triangles only
    angle: float  # degrees below horizontal


def _perpendiculars(direction: FloatArray) -> tuple[FloatArray, FloatArray]:
    helper = np.array([0.0, 1.0, 0.0]) if abs(direction[1]) < 0.9 else np.array([0.0, 0.0, 1.0])
    e1 = np.cross(direction, helper)
    e1 /= np.linalg.norm(e1)
    return e1, np.cross(direction, e1)


def cut_across(surface: Surface, origin: FloatArray, direction: FloatArray, cell: float) -> list[FloatArray]:
    """The regions of the cut through `origin` perpendicular to `direction`, nearest to `origin` first."""
    e1, e2 = _perpendiculars(direction)
    found = regions_in_plane(surface.cut(origin, direction), e1, e2, cell)
    return sorted(found, key=lambda r: float(np.min(np.linalg.norm(r - origin, axis=1))))


def find_arm(triangles: FloatArray, torso: Torso, crotch: float, *, side: float, height: float) -> Arm:
    """The arm on the +X side (`side` = 1) or the −X side (−1)."""
    centroids = triangles.mean(axis=1)
    below = (centroids[:, 2] < torso.armpit) & (centroids[:, 2] > crotch) & torso.outside(centroids, 0.005 * height)
    above = (
        (centroids[:, 2] >= torso.armpit)
        & (centroids[:, 2] < torso.neck_base)  # hair hanging beside the head is no arm
        & (side * centroids[:, 0] > 1.05 * torso.chest_half_width)
    )
    on_arm = (below | above) & (side * centroids[:, 0] > 0)
    if on_arm.sum() < 4:
        raise NotHumanoidError(f"no {'left' if side > 0 else 'right'} arm beside the torso")
    corners = triangles[on_arm]
    surface = Surface(corners, corners[:, :, 2].min(axis=1), corners[:, :, 2].max(axis=1))
    start = np.array([side * torso.chest_half_width, torso.y_at(torso.armpit), torso.armpit + 0.04 * height])
    points = corners.reshape(-1, 3)
    tip = points[np.argmax(np.linalg.norm(points - start, axis=1))]
    length = float(np.linalg.norm(tip - start))
    direction = (tip - start) / length
    ts = np.linspace(0.05, 0.995, SLICES) * length
    centres = np.full((SLICES, 3), np.nan)
    widths = np.full(SLICES, np.nan)
    e1, e2 = _perpendiculars(direction)
    for k, t in enumerate(ts):
        origin = start + t * direction
        found = cut_across(surface, origin, direction, 0.01 * height)
        if not found:
            continue
        region = found[0]
        a, b = region @ e1, region @ e2
        centres[k] = (
            origin + e1 * ((a.max() + a.min()) / 2 - origin @ e1) + e2 * ((b.max() + b.min()) / 2 - origin @ e2)
        )
        widths[k] = max(a.max() - a.min(), b.max() - b.min())
    ok = ~np.isnan(widths)
    if ok.sum() < SLICES // 2:
        raise NotHumanoidError(f"the {'left' if side > 0 else 'right'} arm's cross-sections are mostly empty")
    window = ok & (ts >= 0.55 * length) & (ts <= 0.85 * length)
    if window.any():
        # The far end of the narrowest stretch: a forearm narrows toward the wrist, the hand widens after it.
        narrow = np.flatnonzero(window & (widths <= 1.05 * np.min(widths[window])))
        wrist_k = int(narrow[-1])
    else:
        wrist_k = int(0.75 * SLICES)
    wrist = centres[wrist_k]
    upper = ok & (ts >= 0.15 * length) & (ts <= 0.45 * length)
    line = centres[upper]
    mean = line.mean(axis=0)
    axis = np.linalg.svd(line - mean)[2][0]
    axis = axis if axis @ direction > 0 else -axis
    # Where the upper arm's centre line crosses into the torso's side: the shoulder joint.
    x_joint = side * torso.chest_half_width * 0.95
    shoulder = mean + axis * ((x_joint - mean[0]) / axis[0]) if abs(axis[0]) > 0.2 else start
    mid_t = (float((shoulder - start) @ direction) + ts[wrist_k]) / 2
    elbow_k = int(np.nanargmin(np.where(ok, abs(ts - mid_t), np.nan)))
    angle = float(np.degrees(np.arcsin(np.clip(-direction[2], -1, 1))))
    return Arm(shoulder, centres[elbow_k], wrist, tip, direction, surface, angle)
