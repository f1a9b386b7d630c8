import numpy as np

from addon.core.rig import skinning


def _bones():
    heads = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 1.0], [-1.0, 0.0, 1.0], [0.0, 0.0, 2.0]])
    tails = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 2.0], [2.0, 0.0, 1.0], [-2.0, 0.0, 1.0], [0.0, 0.0, 2.3]])
    return heads, tails


def test_weights_sum_to_one_exactly_with_at_most_four_influences():
    rng = np.random.default_rng(7)
    points = rng.uniform(-2, 2, size=(5000, 3))
    heads, tails = _bones()
    index, weight = skinning.envelope_weights(points, heads, tails)
    assert index.shape == weight.shape == (5000, 4)
    units = np.round(weight * 1000)
    assert np.allclose(weight * 1000, units)  # multiples of 1/1000 ...
    assert np.all(units.sum(axis=1) == 1000)  # ... adding up to exactly one
    assert np.all(np.abs(weight.astype(np.float32).sum(axis=1) - 1.0) < 1e-6)
    assert np.all(weight >= 0)


def test_the_nearest_bone_gets_the_largest_weight():
    heads, tails = _bones()
    points = np.array([[0.05, 0.0, 0.5], [1.5, 0.02, 1.0], [-1.6, 0.0, 1.05], [0.0, 0.01, 2.1]])
    index, weight = skinning.envelope_weights(points, heads, tails)
    assert index[:, 0].tolist() == [0, 2, 3, 4]
    assert np.all(weight[:, 0] > 0.5)


def test_segment_distance_is_to_the_segment_not_the_line():
    heads = np.array([[0.0, 0.0, 0.0]])
    tails = np.array([[1.0, 0.0, 0.0]])
    d = skinning.segment_distances(np.array([[2.0, 0.0, 0.0], [0.5, 3.0, 0.0]]), heads, tails)
    assert np.allclose(d[:, 0], [1.0, 3.0])
