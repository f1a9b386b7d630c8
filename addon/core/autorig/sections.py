"""Cross-sections of a triangle mesh by a plane, and the separate regions in one.

A cut gives one segment per triangle that crosses the plane. Regions along an axis are the merged intervals
of the segments' projections onto it (a closed surface's contour projects onto the same interval as the
region it bounds, so this is exact however coarse the mesh). Regions in the plane are the connected cells
of the segments drawn on a grid, for the few cuts where two axes matter (feet, hands).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..rig_model import FloatArray, IntArray

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

    def cut(self, origin: FloatArray, normal: FloatArray, near: float | None = None) -> FloatArray:
        """The segments where the plane through `origin` with `normal` cuts the surface; only triangles
        with a corner within `near` of `origin` when given."""
        corners = self.corners
        if near is not None:
            rel = corners - origin
            corners = corners[(np.einsum("mki,mki->mk", rel, rel) < near * near).any(axis=1)]
        return _segments(corners, (corners - origin) @ normal)


def _segments(corners: FloatArray, side: FloatArray) -> FloatArray:
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
    return np.take_along_axis(stacked, order[:, :, None], axis=1)


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
    length = np.linalg.norm(segments[:, 1] - segments[:, 0], axis=1)
    steps = int(np.clip(np.ceil(length.max() / (cell / 2)), 1, 64))
    t = np.linspace(0.0, 1.0, steps + 1)
    points = (segments[:, :1] + (segments[:, 1:] - segments[:, :1]) * t[None, :, None]).reshape(-1, 3)
    grid = np.floor(np.stack([points @ u, points @ v], axis=1) / cell).astype(np.int64)
    cells, inverse = np.unique(grid, axis=0, return_inverse=True)
    index = {(int(a), int(b)): i for i, (a, b) in enumerate(cells)}
    parent = list(range(len(cells)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, (a, b) in enumerate(cells):
        for da, db in ((1, -1), (1, 0), (1, 1), (0, 1)):
            j = index.get((int(a) + da, int(b) + db))
            if j is not None:
                ri, rj = root(i), root(j)
                if ri != rj:
                    parent[max(ri, rj)] = min(ri, rj)
    labels = np.array([root(i) for i in range(len(cells))])[inverse.ravel()]
    groups = [points[labels == r] for r in np.unique(labels)]
    return sorted(groups, key=len, reverse=True)


def loop_centre(surface: Surface, z: float, near: FloatArray, cell: float) -> FloatArray | None:
    """The centre (bounding box) of the region of the horizontal cut at z whose centre is nearest to `near`
    (x, y): a leg or the torso apart from a coat's tail or hair hanging behind, which a cut's extent along X
    alone would fold in."""
    loops = regions_in_plane(surface.cut_z(z), np.array([1.0, 0, 0]), np.array([0, 1.0, 0]), cell)
    if not loops:
        return None
    middles = np.array([(loop.max(axis=0) + loop.min(axis=0)) / 2 for loop in loops])
    best = middles[np.argmin(np.linalg.norm(middles[:, :2] - near[:2], axis=1))]
    best[2] = z
    return np.asarray(best, dtype=np.float64)
