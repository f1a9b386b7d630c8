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
from .weights import boxes, shells, weld

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
# A part at least this many times as long along a joint's bone as it is across may span the joint (a
# forearm and fist in one piece); a shorter one is a joint's cover (a plate, a ball) or a trunk.
SPAN = 1.5
# A ball (or a cube) at a joint: at most this across (a fraction of the height; a head is bigger), its three
# extents and its vertices' distances from its centre alike within ROUND.
BALL = 0.15
ROUND = 0.15


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
    """Per vertex, the bone its whole shell follows: the bone nearest to the middle of the shell's box (where
    the rigid part sits, whatever its tessellation: a low-poly part's vertices crowd at its rounded or
    detailed end, a torso's at its top by the neck, a sole's at its toes, and its surface at its wide end, a
    tapered plate's at its base), of its own side, or a middle bone when it straddles the mid-plane (reaches
    beyond MID_PLANE of the height on both sides). A limb's bone (a side's) holds only what lies past its
    joint; a fastener follows its part's bone (`_fasteners`)."""
    _, rows = np.unique(labels, return_inverse=True)
    rows = np.asarray(rows, dtype=np.int64).ravel()
    count = int(rows.max(initial=-1)) + 1
    margin = MID_PLANE * height
    left = np.zeros(count, dtype=bool)
    right = np.zeros_like(left)
    np.logical_or.at(left, rows, points[:, 0] > margin)
    np.logical_or.at(right, rows, points[:, 0] < -margin)
    # Per shell: the middle bones, and its side's unless it straddles the mid-plane.
    own = np.where(left & right, 0, np.where(left, 1, -1))
    allowed = (sides[None, :] == 0) | ((own[:, None] != 0) & (sides[None, :] == own[:, None]))
    low, high = boxes(points, rows, count)
    middles = (low + high) / 2
    barred = np.where(allowed, 0.0, np.inf)
    for b in np.flatnonzero(sides != 0):
        # Before a limb bone's joint (on its parent's side of the plane through the joint) lies the parent's part.
        axis = (tails[b] - heads[b]) / max(float(np.linalg.norm(tails[b] - heads[b])), 1e-12)
        barred[(middles - heads[b]) @ axis < -TOUCH * height, b] = np.inf
    distances = segment_distances(middles, heads, tails)
    bones = np.asarray((distances + barred).argmin(axis=1), dtype=np.int64)
    out = _fasteners(low, high, bones, distances[np.arange(count), bones], height=height)
    return np.asarray(out[rows], dtype=np.int64)


def _fasteners(low: FloatArray, high: FloatArray, bones: IntArray, apart: FloatArray, *, height: float) -> IntArray:
    """`bones` (one per shell, its box from `low` to `high`) with each fastener's replaced by the bone of
    the part it sits on: a shell at most FASTENER of the height across that its own bone does not pass
    through (the bone lies `apart` from the shell's middle, farther than the shell is across; a finger's bone
    runs through the finger) takes the bone of the bigger shell (twice as big across or more) whose box meets
    its own (within TOUCH of the height) most."""
    size = np.linalg.norm(high - low, axis=1)
    out = bones.copy()
    for shell in np.argsort(-size):  # the bigger first: a part's bone is final before what sits on it
        if size[shell] > FASTENER * height or apart[shell] <= size[shell]:
            continue
        reach = TOUCH * height
        meet = np.clip(np.minimum(high, high[shell] + reach) - np.maximum(low, low[shell] - reach), 0.0, None)
        shared = np.prod(meet, axis=1) * (size >= 2 * size[shell])
        if shared.max() > 0:
            out[shell] = out[int(shared.argmax())]
    return out


def on_balls(points: FloatArray, labels: IntArray, joints: FloatArray, *, height: float) -> FloatArray:
    """Each joint moved to the centre of the ball holding it (within TOUCH of the height), where a ball does:
    the part a robot's limb swivels on (a hip's ball on the leg's top, an ankle's above the foot) is centred
    on its joint, where the cuts and the parts' ends only bracket it."""
    _, rows = np.unique(labels, return_inverse=True)
    rows = np.asarray(rows, dtype=np.int64).ravel()
    low, high = boxes(points, rows, int(rows.max(initial=-1)) + 1)
    centre, extent = (low + high) / 2, high - low
    radius = np.linalg.norm(points - centre[rows], axis=1)
    near, far = np.full(len(low), np.inf), np.zeros(len(low))
    np.minimum.at(near, rows, radius)
    np.maximum.at(far, rows, radius)
    ball = (
        (np.linalg.norm(extent, axis=1) <= BALL * height)
        & (extent.min(axis=1) >= (1 - ROUND) * extent.max(axis=1))
        & (near >= (1 - ROUND) * far)
    )
    out = np.array(joints, dtype=np.float64)
    reach = TOUCH * height
    for i, joint in enumerate(out):
        holding = ball & np.all((low - reach <= joint) & (joint <= high + reach), axis=1)
        if holding.any():
            out[i] = centre[np.flatnonzero(holding)[np.argmin(np.linalg.norm(centre[holding] - joint, axis=1))]]
    return out


def rigid_weights(bones: IntArray, count: int) -> FloatArray:
    """(N, count) weights: each vertex wholly on its bone."""
    weights = np.zeros((len(bones), count))
    weights[np.arange(len(bones)), bones] = 1.0
    return weights


def shell_weights(
    points: FloatArray, labels: IntArray, bones: IntArray, heads: FloatArray, tails: FloatArray, *, parents: IntArray
) -> FloatArray:
    """(N, B) weights: each vertex wholly on its shell's bone (`bones`, per vertex), but a shell that spans a
    joint, blended across it. A part long along a limb (SPAN times as long along the joint's bone as it is
    across) that holds the joint of a bone and its parent (`parents`, -1 for none) at least a quarter of its
    length from either end is the limb's two segments moulded in one piece (a forearm and fist, a leg in one
    part): it bends there as a skin does, the parent's weight going over to the child's along the middle half
    of the part, in steps of 1/1000. A part across the bone (a plate, a ball, a torso as wide as tall) or with
    the joint near its end stays rigid."""
    weights = rigid_weights(bones, len(heads))
    for root in np.unique(labels):
        mine = np.flatnonzero(labels == root)
        bone = int(bones[mine[0]])
        # The joints it may hold: its own bone's (with the parent) and its bone's children's.
        for child in [bone, *np.flatnonzero(parents == bone)]:
            parent = int(parents[child])
            if parent < 0:
                continue
            axis = (tails[child] - heads[child]) / max(float(np.linalg.norm(tails[child] - heads[child])), 1e-12)
            rel = points[mine] - heads[child]
            along = rel @ axis
            span = float(along.max() - along.min())
            # Across: its widest extent square to the bone.
            side = np.cross(axis, [1.0, 0.0, 0.0] if abs(axis[0]) < 0.9 else [0.0, 1.0, 0.0])
            side /= np.linalg.norm(side)
            width = max(float(np.ptp(rel @ side)), float(np.ptp(rel @ np.cross(axis, side))))
            if span < SPAN * width or along.min() > -span / 4 or along.max() < span / 4:
                continue
            share = np.round(np.clip(0.5 + along / (span / 2), 0.0, 1.0), 3)
            weights[mine] = 0.0
            weights[mine, child] = share
            weights[mine, parent] = 1.0 - share
            break
    return weights
