"""The torso from horizontal cuts above the crotch: the region on the mid-line, where the arms join it (the
armpits), where it narrows above the shoulders (the neck) and widens again (the head)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..rig.model import BoolArray, FloatArray, IntArray
from .sections import Surface, longest_run, loop_around, regions_along, regions_in_plane
from .types import NotHumanoidError
from .weights import shells, weld

_X = np.array([1.0, 0.0, 0.0])
_Y = np.array([0.0, 1.0, 0.0])
# Of the height: the least a head reaches above the neck's base (an adult's an eighth, a box figure's 9%): a
# crown narrows above it.
HEAD_MIN = 0.06


@dataclass(frozen=True)
class Torso:
    heights: FloatArray  # (S,)
    lo: FloatArray  # the mid-line region's extent along X at each height
    hi: FloatArray
    depth_centre: FloatArray  # its centre along Y (midway between front and back)
    depth: FloatArray
    armpit: float
    chest_half_width: float  # the torso's half width just below the armpits
    neck_base: float
    neck: float  # the narrowest cut of the neck
    head_base: float
    top: float
    notes: tuple[str, ...]
    # The neck's depth when no cut narrows above the shoulders: the chest's, continuing the trunk's line (the
    # loop there may be a head or a hood reaching behind the neck); None where the neck's own loop shows it.
    column: float | None = None

    def y_at(self, z: float) -> float:
        return float(np.interp(z, self.heights, self.depth_centre))

    def outside(self, points: FloatArray, margin: float) -> FloatArray:
        """Which points lie beside the torso region at their height (arms below the armpits)."""
        lo = np.interp(points[:, 2], self.heights, self.lo)
        hi = np.interp(points[:, 2], self.heights, self.hi)
        return np.asarray((points[:, 0] < lo - margin) | (points[:, 0] > hi + margin))


def find_torso(surface: Surface, pieces: Sequence[Surface], crotch: float, top: float, height: float) -> Torso:
    """The torso in `surface` (all body parts) above the crotch; `pieces` are the parts one by one."""
    step = 0.005 * height
    heights = np.arange(crotch + step, top, step)
    rows = []
    kept: list[FloatArray] = []  # each cut as read, without the loops hanging apart
    y = None
    for z, cut in zip(heights, surface.cuts_z(heights), strict=True):
        kept.append(_beside(cut, y, 0.004 * height))
        found = regions_along(kept[-1], _X, 0.004 * height)
        mid = [r for r in found if r.lo <= 0.0 <= r.hi]
        if not mid:
            mid = sorted(found, key=lambda r: min(abs(r.lo), abs(r.hi)))[:1]
        if not mid:
            rows.append((z, np.nan, np.nan, np.nan, np.nan, 0.0))
            continue
        r = mid[0]
        y = float(r.centre[1])
        # Parts on both sides close beside the torso's (a robot's arms, apart from it by a gap).
        near = 0.05 * height
        beside = any(0 < r.lo - o.hi < near for o in found) and any(0 < o.lo - r.hi < near for o in found)
        rows.append((z, r.lo, r.hi, y, float(r.size[1]), float(beside)))
    table = np.array(rows)
    ok = ~np.isnan(table[:, 1])
    if ok.sum() < 10:
        raise NotHumanoidError("no torso above the legs: the cross-sections above the crotch are empty")
    table = table[ok]
    z, lo, hi, yc, depth, beside = table.T
    width = hi - lo
    span = top - crotch
    notes: list[str] = []
    cuts = [cut for cut, keep in zip(kept, ok, strict=True) if keep]
    off = np.zeros(len(z), dtype=bool)
    for i in range(1, len(z)):
        off[i] = _off_the_middle(cuts[i], (lo[i], hi[i]), (lo[i - 1], hi[i - 1]), yc[i - 1], depth[i - 1])
    armpit_i = _armpit(z, width, beside > 0, off, crotch=crotch, span=span, height=height, notes=notes)
    armpit = float(z[armpit_i])
    chest = max(armpit_i - round(0.015 * height / step), 0)
    chest_half = float((hi[chest] - lo[chest]) / 2)
    # Above the armpits hair hangs beside the neck: follow the body's own loop of each cut instead.
    row = np.flatnonzero(ok)  # each kept cut's index among `heights`
    per_piece = [piece.cuts_z(heights) for piece in pieces]
    for i in range(armpit_i, len(z)):
        cuts = [piece_cuts[row[i]] for piece_cuts in per_piece]
        box = loop_around(cuts, np.array([0.0, yc[i - 1] if i > armpit_i else yc[i]]), 0.004 * height)
        if box is not None:
            lo[i], hi[i], yc[i], depth[i] = box[0][0], box[1][0], (box[0][1] + box[1][1]) / 2, box[1][1] - box[0][1]
    base, neck, head_base = _neck(z, hi - lo, depth, armpit=armpit, chest_half=chest_half, top=top, height=height)
    column = None
    if base is None:
        base = neck = float(z[min(int(np.searchsorted(z, armpit + 0.08 * height)), len(z) - 1)])
        head_base = neck + 0.03 * height
        column = float(yc[chest])
        notes.append("neck from proportions: no narrowing above the shoulders")
    return Torso(z, lo, hi, yc, depth, armpit, chest_half, base, neck, head_base, top, tuple(notes), column)


def _armpit(
    z: FloatArray,
    width: FloatArray,
    beside: BoolArray,
    off: BoolArray,
    *,
    crotch: float,
    span: float,
    height: float,
    notes: list[str],
) -> int:
    """The index of the armpits' cut among the torso's cuts at heights `z` (its `width` along X; `beside`:
    whether a part lies close beside it on both sides; `off`: whether what widens it beyond the cut below lies
    off the middle of the body's depth, `_off_the_middle`)."""
    # The arms join the torso's cut in one step (the hips widen gradually); so does a sheet's edge touching the
    # back (a coat's tail), but behind the body, where no arm joins. The waist is the belly's narrower cuts: a
    # chibi's arms lie as low as a tenth of its span above the crotch (its head is half of it).
    belly = (z >= crotch + 0.05 * span) & (z <= crotch + 0.3 * span)
    waist = float(np.percentile(width[belly], 20)) if belly.any() else float(np.median(width))
    joins = np.r_[False, np.diff(width) > 0.02 * height] & ~off
    # Above a cut half as wide as the waist (a neck) the steps are the head's: a robot's head may be wider
    # than its shoulders.
    necks = np.flatnonzero((z > crotch + 0.1 * span) & (width < 0.5 * waist))
    below = z < (z[necks[0]] if len(necks) else np.inf)
    above = np.flatnonzero((z > crotch + 0.1 * span) & (width > 1.35 * waist) & joins & below)
    if len(above):
        return int(above[0])
    run = longest_run(beside & below)
    if run is not None:
        # Arms of parts apart from the torso never join its cut: their armpits are where the longest stretch
        # of cuts with a part close beside it on both sides begins (the shoulders' or upper arms' parts).
        notes.append("armpits where the arms' parts begin beside the torso: they never join its cross-section")
        return run
    notes.append("armpits from proportions: the arms never join the torso's cross-section")
    return int(np.searchsorted(z, crotch + 0.52 * span))


def _off_the_middle(
    cut: FloatArray, extent: tuple[float, float], below: tuple[float, float], y: float, depth: float
) -> bool:
    """Whether what widens the torso's region of the `cut` (its `extent` along X) beyond the cut below's
    (`below`) lies wholly behind or wholly in front of the middle half of that cut's depth (`depth` about
    `y`): the edge of a sheet hanging on the back or the front (a coat's tail), not an arm, whose own cut,
    joining the torso's side, reaches across the body's middle depth."""
    x = cut.mean(axis=1)[:, 0]
    widens = ((x >= extent[0]) & (x < below[0])) | ((x > below[1]) & (x <= extent[1]))
    beyond = cut[widens][:, :, 1]
    if not len(beyond):
        return False
    return bool(beyond.min() > y + depth / 4 or beyond.max() < y - depth / 4)


def _beside(cut: FloatArray, y: float | None, cell: float) -> FloatArray:
    """The cut without the loops hanging apart behind or in front of the body's (a sheet of long hair on the
    back, wider than the shoulders, would read as the torso's width): those whose depth misses the loop
    around the mid-line at depth `y` (the cut below's centre)."""
    if y is None or len(cut) == 0:
        return cut
    loops = regions_in_plane(cut, _X, _Y, cell)
    boxes = [(loop.min(axis=0), loop.max(axis=0)) for loop in loops]
    body = [(lo, hi) for lo, hi in boxes if lo[0] <= 0.0 <= hi[0] and lo[1] <= y <= hi[1]]
    if not body:
        return cut
    front, back = min(lo[1] for lo, _ in body), max(hi[1] for _, hi in body)
    apart = [(lo, hi) for lo, hi in boxes if hi[1] < front or lo[1] > back]
    if not apart:
        return cut
    mids = cut.mean(axis=1)
    keep = np.ones(len(cut), dtype=bool)
    for lo, hi in apart:
        keep &= ~np.all((mids >= lo - cell) & (mids <= hi + cell), axis=1)
    return np.asarray(cut[keep], dtype=np.float64)


def _neck(
    z: FloatArray, width: FloatArray, depth: FloatArray, *, armpit: float, chest_half: float, top: float, height: float
) -> tuple[float | None, float, float]:
    """(the neck's base, its narrowest cut, the head's base): above the armpits, the first cut narrower than
    70% of the chest with a head's height still above it, then the narrowest one within the next tenth of
    the height, then where the cut is more than 1.6 times that wide again. (None, 0, 0) when nothing above
    the shoulders narrows: a head's crown narrows too, and a head as wide as the chest (a box) shows no
    other narrowing."""
    narrow = np.flatnonzero((z > armpit) & (width < 0.7 * 2 * chest_half) & (z < top - HEAD_MIN * height))
    if not len(narrow):
        return None, 0.0, 0.0
    base_i = int(narrow[0])
    window = np.flatnonzero((z >= z[base_i]) & (z <= z[base_i] + 0.1 * height) & (z < top - 0.05 * height))
    area = width * depth
    neck_i = int(window[np.argmin(area[window])]) if len(window) else base_i
    wide = np.flatnonzero((z > z[neck_i]) & (area > 1.6 * area[neck_i]))
    head_base = float(z[wide[0]]) if len(wide) else float(z[neck_i]) + 0.03 * height
    return float(z[base_i]), float(z[neck_i]), head_base


def shells_of(piece: Surface) -> IntArray:
    """A label per triangle of the piece, equal within one connected shell; corners are welded by position
    first (exporters split vertices at UV seams, which would cut one skin into hundreds of patches)."""
    corners = piece.corners.reshape(-1, 3)
    _, index = weld(corners - corners.min(axis=0), 1e-5 * max(float(np.ptp(corners[:, 2])), 1e-9))
    triangles = index.reshape(-1, 3)
    return np.asarray(shells(int(triangles.max()) + 1, triangles)[triangles[:, 0]], dtype=np.int64)


def trunk_centre(
    parts: Sequence[tuple[Surface, IntArray]], z: float, near: FloatArray, cell: float
) -> FloatArray | None:
    """The centre of the skin's loop around `near` at height z (`trunk_box`)."""
    box = trunk_box(parts, z, near, cell)
    if box is None:
        return None
    centre = (box[0] + box[1]) / 2
    centre[2] = z
    return np.asarray(centre, dtype=np.float64)


def trunk_box(
    parts: Sequence[tuple[Surface, IntArray]], z: float, near: FloatArray, cell: float
) -> tuple[FloatArray, FloatArray] | None:
    """The bounding box of the skin's loop around `near` at height z (sections.loop_around with `skin`), each
    part's cut keeping only its shells whose own cut surrounds `near` (`parts`: each mesh part with its
    `shells_of`): what hangs off the back as a shell of its own (a backpack, a robot arm's mount, a strap)
    may touch the body's loop, which would then reach behind the back and pull the centre backwards."""
    cuts = []
    for piece, label in parts:
        hit = (piece.low <= z) & (piece.high > z)
        # Exactly the triangles the plane crosses, in order: one segment each.
        cut = Surface(piece.corners[hit], piece.low[hit], piece.high[hit]).cut_z(z)
        owner = label[hit]
        kept = [k for k in np.unique(owner) if surrounds(cut[owner == k], near)]
        cuts.append(cut[np.isin(owner, kept)])
    return loop_around(cuts, near, cell, skin=True)


def surrounds(cut: FloatArray, near: FloatArray) -> bool:
    """Whether the cut's (segments' or points') box holds `near` across (X) and in depth (Y)."""
    points = cut.reshape(-1, 3)
    lo, hi = points.min(axis=0), points.max(axis=0)
    return bool(lo[0] <= near[0] <= hi[0] and lo[1] <= near[1] <= hi[1])
