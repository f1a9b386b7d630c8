"""The padded weight form the checks read, and the weight fixes' decisions (no bpy)."""

from __future__ import annotations

import numpy as np

from addon.core.rig import weight_fixes
from addon.core.rig.model import MeshInfo, Transform, padded_weights


def test_padded_weights_keeps_each_vertex_influences_in_group_order():
    dense = np.array([[0.0, 0.5, 0.0, 0.5], [0.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
    index, weight = padded_weights(dense)
    assert index.tolist() == [[1, 3], [-1, -1], [0, -1]]
    assert weight.tolist() == [[0.5, 0.5], [0.0, 0.0], [1.0, 0.0]]


def _mesh(dense: list[list[float]], groups: list[str]) -> MeshInfo:
    index, weight = padded_weights(np.array(dense, dtype=np.float32).reshape(len(dense), len(groups)))
    return MeshInfo("Body", Transform(), None, np.zeros((len(dense), 3)), groups, index, weight, ("Rig",), (), 0, ())


def test_every_vertex_weighted_to_needs_a_weight_in_a_named_group_on_each_vertex():
    mesh = _mesh([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]], ["hips", "spine", "prop"])
    assert mesh.every_vertex_weighted_to({"hips", "prop"})
    assert not mesh.every_vertex_weighted_to({"hips", "spine"})  # the second vertex is only on "prop"
    assert not _mesh([[0.0, 0.0], [1.0, 0.0]], ["hips", "spine"]).every_vertex_weighted_to({"hips", "spine"})
    assert not _mesh([[0.0], [0.0]], ["hips"]).every_vertex_weighted_to({"hips"})  # no vertex in any group
    assert _mesh([], ["hips"]).every_vertex_weighted_to(set())  # no vertices: nothing to leave behind


def test_limited_keeps_the_strongest_four_and_the_total():
    weights = np.array([[0.3, 0.05, 0.25, 0.2, 0.1, 0.1], [0.5, 0.5, 0, 0, 0, 0]])
    rows, new = weight_fixes.limited(weights)
    assert rows.tolist() == [0]  # the second vertex is left alone
    assert np.count_nonzero(new[0]) == 4 and new[0][1] == 0.0
    assert abs(new[0].sum() - 1.0) < 1e-12 and new[0][0] > new[0][2] > new[0][3]


def test_limited_never_scales_a_weight_past_one():
    """Blender caps each weight at 1: rescaling an over-full row to its old total would flatten it."""
    rows, new = weight_fixes.limited(np.array([[1.0, 0.9, 0.8, 0.7, 0.6]]))
    assert rows.tolist() == [0] and new[0].max() <= 1.0 and abs(new[0].sum() - 1.0) < 1e-12
    assert np.allclose(new[0][:4] / new[0][0], [1.0, 0.9, 0.8, 0.7]) and new[0][4] == 0.0


def test_normalized_scales_only_rows_off_one():
    weights = np.array([[0.25, 0.25], [0.5, 0.5], [0.0, 0.0]])
    rows, new = weight_fixes.normalized(weights, 1e-3)
    assert rows.tolist() == [0] and new.tolist() == [[0.5, 0.5]]
