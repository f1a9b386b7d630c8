"""The auto-rig's weight decisions (addon/core/autorig/weights.py) on small arrays: what bone heat left out
is found per shell, and the weights written are complete, at most 4 per vertex, normalised and masked."""

from __future__ import annotations

import numpy as np

from addon.core.autorig import weights

# A tiny skeleton along x: hips at the origin, a left chain to +x, a right chain to -x.
HEADS = np.array([[0.0, 0, 1], [0.1, 0, 1], [0.4, 0, 1], [0.7, 0, 1], [-0.1, 0, 1], [-0.4, 0, 1]])
TAILS = np.array([[0.0, 0, 1.1], [0.4, 0, 1], [0.7, 0, 1], [0.9, 0, 1], [-0.4, 0, 1], [-0.7, 0, 1]])
PARENTS = [None, 0, 1, 2, 0, 4]  # hips, left upper arm, lower arm, hand, right upper arm, lower arm
SIDES = np.array([0, 1, 1, 1, -1, -1])


def test_a_shell_heat_left_bare_is_found_beside_a_weighted_one() -> None:
    triangles = np.array([[0, 1, 2], [3, 4, 5]])
    raw = np.zeros((6, 2))
    raw[:3, 0] = 1.0
    report = weights.heat_report(raw, weights.shells(6, triangles))
    assert (report.shells, report.unweighted, report.empty_shells) == (2, 3, 1)
    assert not report.failed, "the mesh keeps its bone heat; the bare shell takes the skin's weights"
    assert weights.heat_report(np.zeros((6, 2)), weights.shells(6, triangles)).failed, "nothing weighted: failed"


def test_shells_heat_left_bare_take_the_skins_weights_and_hanging_ones_ride_on_one_bone() -> None:
    """A shell bone heat left bare (the eyes' shells in front of the face) takes the weights of the skin
    around it, elsewhere only a vertex left with nothing does; a shell off the skeleton whose heat lies
    mostly on bones it may not follow (a backpack that saw only the neck) hangs off the body and rides on one
    bone; a garment around the skeleton with the same heat takes the skin's weights."""
    labels = np.repeat([0, 1, 2, 3], 4)  # skin, a bare shell, a backpack, a jacket
    heat = np.zeros((16, 6))
    heat[:3, 0] = heat[8:, 1] = 1.0  # the skin: one vertex of four left without weight
    usable = heat.copy()
    usable[9:12] = usable[13:] = 0.0  # backpack and jacket: one vertex of four with a weight it may follow
    points = np.zeros((16, 3))
    points[:, 2] = 1.0
    points[8:12, 1] = [0.2, 0.3, 0.2, 0.3]  # the backpack behind the back
    points[12:, 0] = [-0.5, 0.5, -0.5, 0.5]  # the jacket around the spine, from arm to arm
    points[12:, 1] = [-0.1, -0.1, 0.1, 0.1]
    carried, hanging = weights.unskinned(heat, usable, labels, points, HEADS)
    assert carried.tolist() == [False, False, False, True, *[True] * 4, *[False] * 4, *[True] * 4]
    assert hanging.tolist() == [*[False] * 8, *[True] * 4, *[False] * 4]


def test_the_weights_written_are_complete_limited_normalised_and_masked() -> None:
    rng = np.random.default_rng(1)
    points = np.column_stack([rng.uniform(-0.9, 0.9, 200), rng.uniform(-0.05, 0.05, 200), np.ones(200)])
    raw = rng.uniform(0, 1, (200, 6))
    raw[:20] = 0.0  # heat gave these nothing
    mask = weights.allowed(points, HEADS, TAILS, PARENTS, SIDES, height=1.7)
    out = weights.finished(raw, mask, points, HEADS, TAILS)
    assert np.allclose(out.sum(axis=1), 1.0) and ((out > 0).sum(axis=1) <= 4).all()
    assert not (out[points[:, 0] > 0.05][:, SIDES == -1]).any(), "the left never follows a right bone"
    assert not (out[points[:, 0] < -0.05][:, SIDES == 1]).any(), "nor the right a left bone"
    hand = points[:, 0] > 0.75
    assert not out[hand][:, 0].any(), "a hand never moves the hips (three bones away)"


def test_a_closed_body_shell_spares_the_voxel_proxy_where_its_heat_saw_only_far_bones() -> None:
    """A generator's fused body is one closed shell, and the voxel proxy would be that surface again, seeing
    the bones its own heat saw: its vertices whose heat lies only on bones they may not follow go to their
    nearest allowed bone without the proxy (a fused chibi's head overhanging its shoulders: 1.8 CPU-s
    spared, the same weights). A vertex heat left bare, a vertex of another shell (a garment), and every
    vertex once the body's shell is open still take the proxy's weights."""
    body = [[0, 1, 2], [0, 3, 1], [1, 3, 2], [2, 3, 0]]  # a tetrahedron: every edge between two triangles
    triangles = np.array([*body, [4, 5, 6]])  # and a loose triangle, an open shell
    points = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [2, 0, 0], [3, 0, 0], [2, 1, 0]], dtype=float)
    heat = np.zeros((7, 6))
    heat[[0, 1, 3, 4, 5, 6], 0] = 1.0  # heat on the hips everywhere but vertex 2, which it left bare
    usable = heat.copy()
    usable[[0, 3, 4, 5, 6]] = 0.0  # which none of those may follow; vertex 1 may
    spared = weights.proxy_spared(heat, usable, weights.welded(points, triangles, height=3.0))
    assert spared.tolist() == [True, False, False, True, False, False, False]
    opened = weights.welded(points, triangles[1:], height=3.0)
    assert not weights.proxy_spared(heat, usable, opened).any(), "an open body: the proxy closes it, and may differ"
