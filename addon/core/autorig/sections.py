"""Cross-sections of a triangle mesh by a plane, and the separate regions in one.

A cut gives one segment per triangle that crosses the plane. Regions along an axis are the merged intervals
of the segments' projections onto it (a closed surface's contour projects onto the same interval as the
region it bounds, so this is exact however coarse the mesh). Regions in the plane are the connected cells
of the segments drawn on a grid, for the few cuts where two axes matter (feet, hands).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..rig.model import BoolArray, FloatArray, IntArray

_EDGES = ((0, 1), (1, 2), (2, 0))


@dataclass(frozen=True)
class Surface:
    """Triangles as corner positions, (M, 3, 3), with each one's lowest and highest height."""

    corners: FloatArray
    low: FloatArray
    high: FloatArray

    @staticmethod
    def of(vertices: FloatArray, triangles: IntArray) -> Surface:
        corners = vertices[triangles]
        return Surface(corners, corners[:, :, 2].min(axis=1), corners[:, :, 2].max(axis=1))

    def cut_z(self, z: float) -> FloatArray:
        """The segments, (K, 2, 3), where the horizontal plane at height z cuts the surface."""
        hit = (self.low <= z) & (self.high > z)
        corners = self.corners[hit]
        return _segments(corners, corners[:, :, 2] - z)

    def cuts_z(self, heights: FloatArray) -> list[FloatArray]:
        """`cut_z` at each of these evenly spaced heights, all in one pass over the triangles."""
        z0, step = float(heights[0]), float(heights[1] - heights[0])
        first = np.maximum(np.ceil((self.low - z0) / step), 0).astype(np.int64)
        stop = np.minimum(np.ceil((self.high - z0) / step), len(heights)).astype(np.int64)
        count = np.maximum(stop - first, 0)
        tri = np.repeat(np.arange(len(count)), count)
        k = first[tri] + np.arange(len(tri)) - np.repeat(np.cumsum(count) - count, count)
        corners = self.corners[tri]
        keep, segments = _crossing(corners, corners[:, :, 2] - (z0 + k * step)[:, None])
        k = k[keep]
        order = np.argsort(k, kind="stable")
        bounds = np.searchsorted(k[order], np.arange(len(heights) + 1))
        ordered = segments[order]
        return [ordered[a:b] for a, b in itertools.pairwise(bounds)]

    def cut(self, origin: FloatArray, normal: FloatArray, near: float | None = None) -> FloatArray:
        """The segments where the plane through `origin` with `normal` cuts the surface; only triangles
        with a corner within `near` of `origin` when given."""
        corners = self.corners
        if near is not None:
            rel = corners - origin
            corners = corners[(np.einsum("mki,mki->mk", rel, rel) < near * near).any(axis=1)]
        return _segments(corners, (corners - origin) @ normal)


def _segments(corners: FloatArray, side: FloatArray) -> FloatArray:
    return _crossing(corners, side)[1]


def _crossing(corners: FloatArray, side: FloatArray) -> tuple[BoolArray, FloatArray]:
    """Which triangles cross the plane (corner distances `side`), and their segments."""
    above = side > 0
    crossing = above.any(axis=1) & ~above.all(axis=1)
    corners, side, above = corners[crossing], side[crossing], above[crossing]
    points = []
    flags = []
    for a, b in _EDGES:
        da, db = side[:, a], side[:, b]
        t = da / np.where(da == db, 1.0, da - db)
        points.append(corners[:, a] + (corners[:, b] - corners[:, a]) * t[:, None])
        flags.append(above[:, a] != above[:, b])
    stacked = np.stack(points, axis=1)  # (K, 3, 3)
    crossed = np.stack(flags, axis=1)  # exactly two of three per triangle
    order = np.argsort(~crossed, axis=1, kind="stable")[:, :2]
    return crossing, np.take_along_axis(stacked, order[:, :, None], axis=1)


@dataclass(frozen=True)
class Region:
    """One region of a cut: its interval along the axis, its bounding box and the box's centre."""

    lo: float
    hi: float
    box_min: FloatArray
    box_max: FloatArray

    @property
    def centre(self) -> FloatArray:
        return np.asarray((self.box_min + self.box_max) / 2, dtype=np.float64)

    @property
    def width(self) -> float:
        return self.hi - self.lo

    @property
    def size(self) -> FloatArray:
        return np.asarray(self.box_max - self.box_min, dtype=np.float64)


def regions_along(segments: FloatArray, axis: FloatArray, gap: float) -> list[Region]:
    """The regions of a cut along `axis`, lowest first: intervals closer than `gap` are one region."""
    if len(segments) == 0:
        return []
    u = segments @ axis  # (K, 2)
    lo, hi = u.min(axis=1), u.max(axis=1)
    order = np.argsort(lo, kind="stable")
    lo, hi, segs = lo[order], hi[order], segments[order]
    reach = np.maximum.accumulate(hi)
    starts = np.flatnonzero(np.r_[True, lo[1:] > reach[:-1] + gap])
    ends = np.r_[starts[1:], len(lo)]
    out = []
    for s, e in zip(starts, ends, strict=True):
        pts = segs[s:e].reshape(-1, 3)
        out.append(Region(float(lo[s]), float(reach[e - 1]), pts.min(axis=0), pts.max(axis=0)))
    return out


def regions_in_plane(segments: FloatArray, u: FloatArray, v: FloatArray, cell: float) -> list[FloatArray]:
    """The connected regions of a cut in the plane spanned by `u` and `v`: the segments drawn on a grid of
    `cell`-sized squares, touching squares joined; each region's sample points (3-D), biggest first."""
    if len(segments) == 0:
        return []
    points, labels, _ = _drawn(segments, u, v, cell)
    groups = [points[labels == r] for r in np.unique(labels)]
    return sorted(groups, key=len, reverse=True)


def segment_regions(segments: FloatArray, u: FloatArray, v: FloatArray, cell: float) -> IntArray:
    """Per segment of the cut, the label of its connected region in the plane (as regions_in_plane joins
    them); equal labels, one region."""
    if len(segments) == 0:
        return np.zeros(0, dtype=np.int64)
    _, labels, owner = _drawn(segments, u, v, cell)
    found = np.zeros(len(segments), dtype=np.int64)
    found[owner] = labels
    return found


def _drawn(segments: FloatArray, u: FloatArray, v: FloatArray, cell: float) -> tuple[FloatArray, IntArray, IntArray]:
    """The segments sampled every half cell (so no drawn line skips a square): the sample points, each one's
    region label (touching squares joined) and the segment it lies on."""
    length = np.linalg.norm(segments[:, 1] - segments[:, 0], axis=1)
    steps = np.minimum(np.ceil(length / (cell / 2)).astype(np.int64), 256) + 1
    owner = np.repeat(np.arange(len(segments)), steps)
    t = (np.arange(len(owner)) - np.repeat(np.cumsum(steps) - steps, steps)) / np.repeat(steps - 1, steps).clip(1)
    points = segments[owner, 0] + (segments[owner, 1] - segments[owner, 0]) * t[:, None]
    grid = np.floor(np.stack([points @ u, points @ v], axis=1) / cell).astype(np.int64)
    grid -= grid.min(axis=0) - 1
    width = int(grid[:, 1].max()) + 2
    keys, inverse = np.unique(grid[:, 0] * width + grid[:, 1], return_inverse=True)
    return points, _components(keys, width)[inverse.ravel()], owner


def _components(keys: IntArray, width: int) -> IntArray:
    """Connected components of occupied grid squares (sorted keys row * width + column, 8-neighbours): each
    square's label, by min-label propagation with pointer jumping."""
    pairs = []
    for step in (1, width - 1, width, width + 1):
        at = np.searchsorted(keys, keys + step)
        found = (at < len(keys)) & (keys[np.minimum(at, len(keys) - 1)] == keys + step)
        pairs.append(np.stack([np.flatnonzero(found), at[found]], axis=1))
    edges = np.concatenate(pairs)
    labels = np.arange(len(keys))
    while True:
        new = labels.copy()
        np.minimum.at(new, edges[:, 0], labels[edges[:, 1]])
        np.minimum.at(new, edges[:, 1], labels[edges[:, 0]])
        new = new[new]
        new = new[new]
        if np.array_equal(new, labels):
            return labels
        labels = new


def longest_run(mask: BoolArray, length: int = 3) -> int | None:
    """Where the longest stretch of `mask` holding (at least `length` entries in a row) starts."""
    edges = np.diff(np.r_[0, mask.astype(np.int64), 0])
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    if not len(starts) or (stops - starts).max() < length:
        return None
    return int(starts[np.argmax(stops - starts)])


def loop_at(
    pieces: Sequence[Surface], z: float, near: FloatArray, cell: float, *, skin: bool = False
) -> tuple[FloatArray, FloatArray] | None:
    """`loop_around` in the horizontal cut at z of each of these parts."""
    return loop_around([piece.cut_z(z) for piece in pieces], near, cell, skin=skin)


def loop_around(
    cuts: Sequence[FloatArray], near: FloatArray, cell: float, *, skin: bool = False
) -> tuple[FloatArray, FloatArray] | None:
    """The bounding box of the loop of a horizontal cut (one per mesh part) around `near` (x, y).

    Within one mesh part, the outermost loop holding `near` (the silhouette: shells overlapping inside it are
    hidden), or with `skin` the innermost (the body inside a collar or a coat modelled in the same mesh,
    where a joint's centre belongs). Across parts the innermost (hair lying on the back or hanging beside
    the neck is a part of its own around the body's). With none holding `near`, the loop whose box is
    nearest."""
    holding: list[tuple[FloatArray, FloatArray]] = []
    nearest: tuple[float, tuple[FloatArray, FloatArray]] | None = None
    for cut in cuts:
        boxes = [
            (loop.min(axis=0), loop.max(axis=0))
            for loop in regions_in_plane(cut, np.array([1.0, 0, 0]), np.array([0, 1.0, 0]), cell)
        ]
        gaps = [float(np.linalg.norm(np.clip(near[:2], a[:2], b[:2]) - near[:2])) for a, b in boxes]
        inside = [box for box, gap in zip(boxes, gaps, strict=True) if gap == 0.0]
        if inside:
            holding.append(min(inside, key=_area) if skin else max(inside, key=_area))
        for box, gap in zip(boxes, gaps, strict=True):
            if nearest is None or gap < nearest[0]:
                nearest = (gap, box)
    if holding:
        return min(holding, key=_area)
    return None if nearest is None else nearest[1]


def _area(box: tuple[FloatArray, FloatArray]) -> float:
    return float(np.prod((box[1] - box[0])[:2]))


def loop_centre(pieces: Sequence[Surface], z: float, near: FloatArray, cell: float) -> FloatArray | None:
    """The centre of the skin's loop around `near` at height z (`loop_at`): where a joint goes."""
    box = loop_at(pieces, z, near, cell, skin=True)
    if box is None:
        return None
    centre = (box[0] + box[1]) / 2
    centre[2] = z
    return np.asarray(centre, dtype=np.float64)
