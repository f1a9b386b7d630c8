"""Kit-bashed bodies: a robot of rigid parts, a figure of separate boxes, a generator's multi-shell mesh whose
every shell is one piece of one limb. Such a body moves rigidly: each separate shell follows one bone wholly,
never stretched across two. A soft body has a shell (the skin, a sleeve, trousers) that runs on across the
joints, and is left to the skin weights. The decision takes the geometry alone, not the skeleton placed on
it.

Shells are labelled per vertex (`pieces`); bones are segments over the plan's bones, in
its order, with `sides` +1 (the avatar's left, +x), -1 (its right) or 0 (the middle).

Two rules hold for any body of parts, because a joint is where two parts meet and a fastener sits on a part:
a limb's bone holds only what lies past its joint (a hip's plate above the thigh's joint is the hips', a
foot's sole behind the toes' joint is the foot's), and a fastener (a bolt, a rivet, a stud: a small piece
no bone passes through) rides on the bigger part it sits on, not on whichever bone happens to lie nearest
(a big head's bolts are nearer the shoulders' bones than the head's own).
"""

from __future__ import annotations

import numpy as np

from ..rig.model import FloatArray, IntArray
from ..rig.skinning import segment_distances
from .weights import boxes, shell_votes, shells, weld

# A body is kit-bashed when no shell reaches up this share of its height. The tallest shells of the corpus's
# robots reach 30% (RobotExpressive's torso) and 12% (the debug robot's markers); soft bodies have one that
# reaches 39% (Godette, whose skin is cut in pieces) to 100% (a skin from the feet to the head).
LARGEST = 0.35
# A shell reaching beyond this distance from the mid-plane (a fraction of the height) on both sides straddles
# it: it may follow only a middle bone.
MID_PLANE = 0.01
# A fastener is at most this across (its box's diagonal, a fraction of the height): RobotExpressive's bolts are
# 2-3%, its smallest limb parts (thumb, fingers, which their bones pass through anyway) 9-11%.
FASTENER = 0.04
# How far (a fraction of the height) a fastener's box may stand off the part it sits on, and a vertex lie
# before a limb bone's joint and still count as past it (a joint placed a little off the parts' meeting).
TOUCH = 0.005


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
    middle bone when it straddles the mid-plane (reaches beyond MID_PLANE of the height on both sides). A
    limb's bone (a side's) is nearest only to what lies past its joint; a fastener follows its part's bone
    (`_fasteners`)."""
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
    barred = np.where(allowed[inverse], 0.0, np.inf)
    for b in np.flatnonzero(sides != 0):
        # Before a limb bone's joint (on its parent's side of the plane through the joint) lies the parent's part.
        axis = (tails[b] - heads[b]) / max(float(np.linalg.norm(tails[b] - heads[b])), 1e-12)
        barred[(points - heads[b]) @ axis < -TOUCH * height, b] = np.inf
    nearest = (distances + barred).argmin(axis=1)
    bones, _, inverse = shell_votes(labels, nearest, len(heads))
    return _fasteners(points, inverse, bones, distances, height=height)[inverse]


def _fasteners(
    points: FloatArray, rows: IntArray, bones: IntArray, distances: FloatArray, *, height: float
) -> IntArray:
    """`bones` (one per shell; `rows` gives each vertex's shell) with each fastener's replaced by the bone of
    the part it sits on: a shell at most FASTENER of the height across that its own bone does not pass
    through (the bone lies farther from every vertex than the shell is across; a finger's bone runs through
    the finger) takes the bone of the bigger shell (twice as big across or more) whose box meets its own
    (within TOUCH of the height) most."""
    low, high = boxes(points, rows, len(bones))
    size = np.linalg.norm(high - low, axis=1)
    own = np.full(len(bones), np.inf)
    np.minimum.at(own, rows, distances[np.arange(len(points)), bones[rows]])
    out = bones.copy()
    for shell in np.argsort(-size):  # the bigger first: a part's bone is final before what sits on it
        if size[shell] > FASTENER * height or own[shell] <= size[shell]:
            continue
        reach = TOUCH * height
        meet = np.clip(np.minimum(high, high[shell] + reach) - np.maximum(low, low[shell] - reach), 0.0, None)
        shared = np.prod(meet, axis=1) * (size >= 2 * size[shell])
        if shared.max() > 0:
            out[shell] = out[int(shared.argmax())]
    return out


def rigid_weights(bones: IntArray, count: int) -> FloatArray:
    """(N, count) weights: each vertex wholly on its bone."""
    weights = np.zeros((len(bones), count))
    weights[np.arange(len(bones)), bones] = 1.0
    return weights
