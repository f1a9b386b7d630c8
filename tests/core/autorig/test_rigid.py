"""Kit-bashed bodies (core.autorig.rigid): which shells make one part, whether a body is made of parts, and the
one bone each part follows wholly."""

from __future__ import annotations

import numpy as np

from addon.core.autorig import rigid
from addon.core.rig.model import FloatArray, IntArray

from .figures import block, capsule, merged, squashed

# Three bones on a line up the middle, and an upper arm and a forearm to the left (+x), one to the right.
NAMES = ["hips", "spine", "head", "leftUpperArm", "leftLowerArm", "rightUpperArm"]
HEADS = np.array([[0, 0, 0.9], [0, 0, 1.1], [0, 0, 1.5], [0.2, 0, 1.4], [0.45, 0, 1.4], [-0.2, 0, 1.4]], float)
TAILS = np.array([[0, 0, 1.1], [0, 0, 1.5], [0, 0, 1.7], [0.45, 0, 1.4], [0.7, 0, 1.4], [-0.45, 0, 1.4]], float)
SIDES = np.array([0, 0, 0, 1, 1, -1])


def split_corners(vertices: FloatArray, triangles: IntArray) -> tuple[FloatArray, IntArray]:
    """The mesh as an exporter writes it: every triangle with corners of its own (split normals)."""
    return vertices[triangles.reshape(-1)], np.arange(3 * len(triangles)).reshape(-1, 3)


def test_a_part_written_with_split_corners_is_one_piece_and_two_parts_are_two() -> None:
    one = split_corners(*capsule((0, 0, 0), (0, 0, 0.3), 0.05))
    two = split_corners(*merged([capsule((0, 0, 0), (0, 0, 0.3), 0.05), capsule((0.2, 0, 0), (0.2, 0, 0.3), 0.05)]))
    assert len(np.unique(rigid.pieces(*one))) == 1
    assert len(np.unique(rigid.pieces(*two))) == 2


def test_a_body_of_parts_is_kit_bashed_and_one_with_a_skin_from_the_feet_to_the_neck_is_not() -> None:
    parts = [capsule((0, 0, 0.05), (0, 0, 0.35), 0.05), capsule((0, 0, 0.52), (0, 0, 0.85), 0.1),
             capsule((0, 0, 1.0), (0, 0, 1.3), 0.12)]  # fmt: skip
    points, triangles = merged(parts)
    assert rigid.kit_bashed(points, rigid.pieces(points, triangles), height=1.7)
    skin, skin_triangles = merged([*parts, capsule((0.3, 0, 0.05), (0.3, 0, 1.3), 0.05)])
    assert not rigid.kit_bashed(skin, rigid.pieces(skin, skin_triangles), height=1.7)
    alone, alone_triangles = parts[1]
    assert not rigid.kit_bashed(alone, rigid.pieces(alone, alone_triangles), height=1.7), "one shell is no kit"


def test_each_part_follows_the_one_bone_it_mostly_lies_along_on_its_own_side() -> None:
    # Over the elbow, mostly along the upper arm; its rounded end reaches the shoulder's joint, not into the
    # torso (what lies before a limb's joint is the body's: below).
    upper_arm = capsule((0.24, 0, 1.4), (0.5, 0, 1.4), 0.04)
    forearm = capsule((0.5, 0, 1.4), (0.68, 0, 1.4), 0.035)
    # A collar from arm to arm, most of it nearer the upper arms than the spine: it straddles the mid-plane, so
    # it follows a middle bone, never one side's.
    collar = capsule((-0.45, 0, 1.45), (0.42, 0, 1.45), 0.03)
    points, triangles = merged([upper_arm, forearm, collar])
    labels = rigid.pieces(points, triangles)
    bones = rigid.shell_bones(points, labels, HEADS, TAILS, SIDES, height=1.7)
    follows = [{NAMES[b] for b in bones[labels == root]} for root in np.unique(labels)]
    assert follows == [{"leftUpperArm"}, {"leftLowerArm"}, {"spine"}]
    weights = rigid.rigid_weights(bones, len(NAMES))
    assert np.array_equal(weights.sum(axis=1), np.ones(len(points))) and set(np.unique(weights)) == {0.0, 1.0}


def _follows(shells: list[tuple[FloatArray, IntArray]], heads: FloatArray, tails: FloatArray, sides: IntArray,
             names: list[str]) -> list[str]:  # fmt: skip
    """The bone each shell follows, in order."""
    points, triangles = merged(shells)
    labels = rigid.pieces(points, triangles)
    bones = rigid.shell_bones(points, labels, heads, tails, sides, height=1.7)
    starts = np.cumsum([0] + [len(v) for v, _ in shells[:-1]])
    return [names[bones[start]] for start in starts]


def test_a_part_that_lies_mostly_before_a_limbs_joint_follows_the_body_not_the_limb() -> None:
    """A hip's plate beside the thigh's joint, mostly above it, is the pelvis's: it stays when the thigh swings
    (nearest the thigh's bone at its lower edge, it went with the leg); the thigh's own part goes with it."""
    names = ["hips", "spine", "leftUpperLeg"]
    heads = np.array([[0, 0, 0.9], [0, 0, 1.1], [0.1, 0, 0.9]], float)
    tails = np.array([[0, 0, 1.1], [0, 0, 1.5], [0.1, 0, 0.5]], float)
    plate = block((0.05, -0.05, 0.87), (0.16, 0.05, 1.0))
    thigh = capsule((0.1, 0, 0.88), (0.1, 0, 0.52), 0.05)
    assert _follows([plate, thigh], heads, tails, np.array([0, 0, 1]), names) == ["hips", "leftUpperLeg"]


def test_a_bolt_on_a_big_head_rides_with_the_head_not_the_arm_whose_bone_is_nearer() -> None:
    """A robot's head wider than its shoulders carries bolts on its sides, nearer the upper arm's bone than the
    head's own: each rides on the head it is fastened to. A small part its own bone runs through (a finger)
    keeps that bone even when it touches a bigger part."""
    head = block((-0.3, -0.12, 1.52), (0.3, 0.12, 1.76))
    bolts = [block((s * 0.29, -0.01, 1.55), (s * 0.31, 0.01, 1.57)) for s in (1, -1)]
    forearm = capsule((0.47, 0, 1.4), (0.68, 0, 1.4), 0.035)
    finger = capsule((0.71, 0, 1.4), (0.74, 0, 1.4), 0.008)  # touching the forearm's end, along the hand's bone
    names = [*NAMES, "leftHand"]
    heads = np.concatenate([HEADS, [[0.7, 0, 1.4]]])
    tails = np.concatenate([TAILS, [[0.76, 0, 1.4]]])
    found = _follows([head, *bolts, forearm, finger], heads, tails, np.array([*SIDES, 1]), names)
    assert found == ["head", "head", "head", "leftLowerArm", "leftHand"]


def test_a_part_moulded_across_a_joint_bends_there_and_a_plate_or_a_part_ending_at_it_stays_rigid() -> None:
    """A forearm and fist in one part, the wrist inside it, bends at the wrist as a skin does: the forearm's
    weight going over to the hand's along its middle; a plate across the elbow (wider than long) and the upper
    arm's part ending at the elbow each follow one bone wholly."""
    names = ["spine", "leftUpperArm", "leftLowerArm", "leftHand"]
    heads = np.array([[0, 0, 1.1], [0.2, 0, 1.4], [0.45, 0, 1.4], [0.7, 0, 1.4]], float)
    tails = np.array([[0, 0, 1.5], [0.45, 0, 1.4], [0.7, 0, 1.4], [0.8, 0, 1.4]], float)
    parents = np.array([-1, 0, 1, 2])
    # 0.545 to 0.785 along the arm, 0.08 across: the wrist (0.7) 0.155 from one end, 0.085 from the other.
    fist = squashed(capsule((0.665, 0, 1.4), (0.665, 0, 1.4), 0.04), (0.665, 0, 1.4), (3.0, 1.0, 1.0))
    plate = block((0.43, -0.1, 1.33), (0.47, 0.1, 1.47))
    upper = capsule((0.24, 0, 1.4), (0.44, 0, 1.4), 0.04)
    points, triangles = merged([fist, plate, upper])
    labels = rigid.pieces(points, triangles)
    bones = rigid.shell_bones(points, labels, heads, tails, np.array([0, 1, 1, 1]), height=1.7)
    weights = rigid.shell_weights(points, labels, bones, heads, tails, parents=parents)
    assert np.allclose(weights.sum(axis=1), 1.0)
    n = len(fist[0])
    on_fist = weights[:n]
    before, beyond = points[:n, 0] < 0.6, points[:n, 0] > 0.77
    assert (on_fist[before, 2] == 1.0).all() and (on_fist[beyond, 3] == 1.0).all()
    assert ((on_fist[:, 2] > 0) & (on_fist[:, 3] > 0)).any()
    assert set(on_fist.nonzero()[1]) == {2, 3}  # the forearm's and the hand's only
    rest = weights[n:]
    assert set(np.unique(rest)) == {0.0, 1.0}
    assert len({names[b] for b in rest[: len(plate[0])].argmax(axis=1)}) == 1
    assert {names[b] for b in rest[len(plate[0]) :].argmax(axis=1)} == {"leftUpperArm"}
