"""Kit-bashed bodies: a robot of rigid parts, a figure of separate boxes, a generator's multi-shell mesh whose
every shell is one piece of one limb. Such a body moves rigidly: each separate shell follows one bone wholly,
never stretched across two. A soft body has a shell (the skin, a sleeve, trousers) that runs on across the
joints, and is left to the skin weights. The decision takes the geometry alone, not the skeleton placed on
it.

Shells are labelled per vertex (`pieces`); bones are segments over the plan's bones, in
its order, with `sides` +1 (the avatar's left, +x), -1 (its right) or 0 (the middle).
"""

from __future__ import annotations

import numpy as np

from ..rig.model import FloatArray, IntArray
from ..rig.skinning import segment_distances
from .weights import shell_votes, shells, weld

# A body is kit-bashed when no shell reaches up this share of its height. The tallest shells of the corpus's
# robots reach 30% (RobotExpressive's torso) and 12% (the debug robot's markers); soft bodies have one that
# reaches 39% (Godette, whose skin is cut in pieces) to 100% (a skin from the feet to the head).
LARGEST = 0.35
# A shell reaching beyond this distance from the mid-plane (a fraction of the height) on both sides straddles
# it: it may follow only a middle bone.
MID_PLANE = 0.01


def pieces(points: FloatArray, triangles: IntArray) -> IntArray:
    """A label per vertex, equal for vertices of one separate piece: connected through triangles once vertices
    at the same place are one (an exporter splits a box's corner into one vertex per face)."""
    first, index = weld(points, 1e-6)
    welded = first[index]  # each vertex's first original vertex at its place: labels are vertex indices
    return np.asarray(shells(len(points), welded[triangles])[welded], dtype=np.int64)


def kit_bashed(points: FloatArray, labels: IntArray, *, height: float) -> bool:
    """Whether the body is made of several parts none of which reaches up LARGEST of the height. A soft body
    has one that does: its skin, from the feet or the hips to the neck. (Across, a robot's head may be wider
    than half its height.)"""
    roots, inverse = np.unique(labels, return_inverse=True)
    if len(roots) < 2:
        return False
    low = np.full(len(roots), np.inf)
    high = np.full(len(roots), -np.inf)
    np.minimum.at(low, inverse, points[:, 2])
    np.maximum.at(high, inverse, points[:, 2])
    return bool(((high - low) < LARGEST * height).all())


def shell_bones(
    points: FloatArray, labels: IntArray, heads: FloatArray, tails: FloatArray, sides: IntArray, *, height: float
) -> IntArray:
    """Per vertex, the bone its whole shell follows: the bone nearest to most of the shell's vertices (the bone
    whose region holds it, or the one it mostly lies along; `weights.shell_votes`), of its own side, or a
    middle bone when it straddles the mid-plane (reaches beyond MID_PLANE of the height on both sides)."""
    _, inverse = np.unique(labels, return_inverse=True)
    inverse = np.asarray(inverse, dtype=np.int64).ravel()
    margin = MID_PLANE * height
    left = np.zeros(int(inverse.max(initial=-1)) + 1, dtype=bool)
    right = np.zeros_like(left)
    np.logical_or.at(left, inverse, points[:, 0] > margin)
    np.logical_or.at(right, inverse, points[:, 0] < -margin)
    # Per shell: the middle bones, and its side's unless it straddles the mid-plane.
    own = np.where(left & right, 0, np.where(left, 1, -1))
    allowed = (sides[None, :] == 0) | ((own[:, None] != 0) & (sides[None, :] == own[:, None]))
    distances = segment_distances(points, heads, tails)
    nearest = (distances + np.where(allowed[inverse], 0.0, np.inf)).argmin(axis=1)
    bones, _, inverse = shell_votes(labels, nearest, len(heads))
    return bones[inverse]


def rigid_weights(bones: IntArray, count: int) -> FloatArray:
    """(N, count) weights: each vertex wholly on its bone."""
    weights = np.zeros((len(bones), count))
    weights[np.arange(len(bones)), bones] = 1.0
    return weights
