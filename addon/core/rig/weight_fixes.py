"""New vertex weights for the skinning fixes, decided on the padded (N, K) arrays of the rig model.

Each function returns the rows it changes and their new weights, so the Blender side writes only
those vertices (a fix changes only what its finding names).
"""

from __future__ import annotations

import numpy as np

from .model import BoolArray, FloatArray, IntArray
from .skinning import MAX_INFLUENCES


def normalized(weights: FloatArray, tolerance: float) -> tuple[IntArray, FloatArray]:
    """Rows whose positive total is off 1 by more than `tolerance`, scaled to add up to 1."""
    total = weights.sum(axis=1)
    rows = np.nonzero((total > tolerance) & (np.abs(total - 1.0) > tolerance))[0]
    return rows.astype(np.int64), weights[rows] / total[rows, None]


def limited(weights: FloatArray, limit: int = MAX_INFLUENCES) -> tuple[IntArray, FloatArray]:
    """Rows with more than `limit` positive weights: the strongest `limit` kept (rescaled to the row's
    former total, at most 1, so normalized rows stay normalized and none goes past Blender's cap of
    1 per weight), the rest set to 0."""
    rows = np.nonzero((weights > 0.0).sum(axis=1) > limit)[0]
    sub = weights[rows]
    order = np.argsort(-sub, axis=1, kind="stable")
    keep = np.zeros_like(sub, dtype=bool)
    np.put_along_axis(keep, order[:, :limit], True, axis=1)
    kept = np.where(keep, sub, 0.0)
    scale = np.minimum(sub.sum(axis=1), 1.0) / np.maximum(kept.sum(axis=1), 1e-12)
    return rows.astype(np.int64), kept * scale[:, None]


def unweighted(weights: FloatArray, tolerance: float) -> BoolArray:
    total = weights.sum(axis=1) if weights.size else np.zeros(len(weights))
    return np.asarray(total <= tolerance)
