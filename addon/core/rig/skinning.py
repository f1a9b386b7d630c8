"""Skinning weights from bone segments, with numpy: the demo body's weights, and the nearest-bone
assignment a rig fix gives to unweighted vertices."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

MAX_INFLUENCES = 4


def segment_distances(points: FloatArray, heads: FloatArray, tails: FloatArray) -> FloatArray:
    """Distance from each of N points to each of B segments: an (N, B) array."""
    axis = tails - heads  # (B, 3)
    length_sq = np.maximum(np.einsum("ij,ij->i", axis, axis), 1e-12)
    out = np.empty((len(points), len(heads)), dtype=np.float64)
    # Column by column keeps the peak memory at a few N-sized arrays even for 200k points.
    for b in range(len(heads)):
        rel = points - heads[b]
        t = np.clip(rel @ axis[b] / length_sq[b], 0.0, 1.0)
        closest = rel - np.outer(t, axis[b])
        out[:, b] = np.sqrt(np.einsum("ij,ij->i", closest, closest))
    return out


def envelope_weights(
    points: FloatArray,
    heads: FloatArray,
    tails: FloatArray,
    *,
    influences: int = MAX_INFLUENCES,
    falloff: float = 4.0,
    quantum: int = 1000,
) -> tuple[IntArray, FloatArray]:
    """Per point, the `influences` nearest bones and weights that fall off with distance.

    Returns (bone indices, weights), both (N, influences). Weights are multiples of 1/quantum that sum
    to exactly 1 per point (largest-remainder rounding), so they survive a float32 round trip still
    normalized, and a writer can batch the points that share a weight.
    """
    dist = segment_distances(points, heads, tails)
    k = min(influences, dist.shape[1])
    nearest = np.argsort(dist, axis=1)[:, :k]
    d = np.take_along_axis(dist, nearest, axis=1)
    raw = 1.0 / (d + 0.01) ** falloff
    return nearest.astype(np.int64), quantized(raw / raw.sum(axis=1, keepdims=True), quantum)


def quantized(weights: FloatArray, quantum: int = 1000) -> FloatArray:
    """Rows of weights summing to 1, as multiples of 1/quantum that still sum to exactly 1 (largest-remainder
    rounding): they survive a float32 round trip normalized, and a writer can batch vertices sharing a weight."""
    scaled = weights * quantum
    units = np.floor(scaled).astype(np.int64)
    short = quantum - units.sum(axis=1)
    order = np.argsort(-(scaled - units), axis=1)
    for rank in range(weights.shape[1]):
        rows = np.nonzero(short > rank)[0]
        units[rows, order[rows, rank]] += 1
    out: FloatArray = units.astype(np.float64) / quantum
    return out
