"""The legs from horizontal cuts: two regions from the floor up to where they merge into the torso (the
crotch), the ankle at the narrowest cut above the foot, the toes toward the foot's long end.

Legs that touch or overlap (thighs pressed together, or one box per bone crossing the mid-line) are one
region along X before the crotch: they stay two legs, split at the mid-line, while the cut is still
narrow there (front to back) beside the legs on either side of it; the torso's cut is as deep on the
mid-line as beside it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..rig.model import FloatArray
from .sections import Region, Surface, loop_centre, regions_along, regions_in_plane, segment_regions
from .types import NotHumanoidError

_X = np.array([1.0, 0.0, 0.0])
_Y = np.array([0.0, 1.0, 0.0])
# Of the height: how much thinner the leg must get above and below a kneecap's cut for it to count. Legs
# with modelled knees thin by 0.33-0.6% (the two Quaternius avatars, as made and voxel-remeshed); straight,
# tapered or shaped legs without one by 0.15% at most (Godette remeshed: her calves), most by nothing.
KNEECAP = 0.003
# Of the height: how far above and below the kneecap the leg thins; a dip further off is another feature, or
# noise along a leg about as deep all the way (a remeshed one).
KNEECAP_REACH = 0.04
# Of the leg's depth at the kneecap: how far behind its front the knee's joint lies (the Quaternius artist's
# knees lie 0.17 and 0.29 of the depth behind, the knee's bend pivoting near the kneecap).
KNEECAP_BEHIND = 0.25


@dataclass(frozen=True)
class Leg:
    heights: FloatArray  # (S,) cut heights from the floor to the crotch
    centres: FloatArray  # (S, 3) the leg's region centre at each
    widths: FloatArray  # (S,) its width along X
    depths: FloatArray  # (S,) its depth along Y
    ankle: FloatArray
    toe_tip: FloatArray  # the foot's far end along ±Y from the ankle
    heel: FloatArray

    def half_width(self, z: float) -> float:
        """Half the leg's width along X at height z (nearest cut)."""
        return float(self.widths[int(np.argmin(abs(self.heights - z)))]) / 2

    def kneecap(self, hip: float, height: float) -> FloatArray | None:
        """(z, y) of the knee's joint where the leg models a kneecap, and the kneecap's front y; None where it
        does not. The kneecap is the cut deepest front to back in the middle of the leg (from the ankle to the
        thigh's joint at `hip`), the leg thinner by KNEECAP both below it (the shin) and above it (over the
        knee) within KNEECAP_REACH, its width running on smoothly (a hem or a boot's top steps out instead) and
        its cut no deeper than half as much again as wide (else something hangs behind or before the leg). The
        joint lies behind the kneecap's front by KNEECAP_BEHIND of the leg's depth there."""
        t = (self.heights - self.ankle[2]) / (hip - self.ankle[2])
        # Each cut's depth as the median of it and its two neighbours: one cut through a remeshed ring is no knee.
        padded = np.concatenate([self.depths[:1], self.depths, self.depths[-1:]])
        depths = np.median(np.stack([padded[:-2], padded[1:-1], padded[2:]]), axis=0)
        best, most = None, KNEECAP * height
        for i in range(1, len(t) - 1):
            if not 0.3 <= t[i] <= 0.75 or self.depths[i] > 1.5 * self.widths[i]:
                continue
            if depths[i] < max(depths[i - 1], depths[i + 1]):
                continue
            thinner = min(self._thinner(depths, i, 1, height), self._thinner(depths, i, -1, height))
            if thinner > most:
                best, most = i, thinner
        if best is None:
            return None
        front = self.centres[best][1] - self.depths[best] / 2
        return np.array([self.heights[best], front + KNEECAP_BEHIND * self.depths[best], front])

    def _thinner(self, depths: FloatArray, i: int, step: int, height: float) -> float:
        """How much thinner than at cut i the leg gets (`depths`, front to back) going from it `step` cuts at a
        time, within KNEECAP_REACH and up to where it is as deep again; 0 where its width steps by 1% of the
        height from one cut to the next on the way."""
        j, least = i + step, depths[i]
        while (
            0 <= j < len(depths)
            and abs(self.heights[j] - self.heights[i]) <= KNEECAP_REACH * height
            and depths[j] <= depths[i]
        ):
            if abs(self.widths[j] - self.widths[j - step]) > 0.01 * height:
                return 0.0
            least = min(least, depths[j])
            j += step
        return float(depths[i] - least)

    def at(self, pieces: Sequence[Surface], z: float, height: float) -> FloatArray:
        """The leg's centre at height z: its own region of the cut, apart from anything hanging beside it."""
        # A copy: the skeleton moves what it is handed (the thighs' joint up to the hips).
        rough = np.array(self.centres[int(np.argmin(abs(self.heights - z)))], dtype=np.float64)
        found = loop_centre(pieces, z, rough, 0.004 * height)
        # A loop centred off this leg is both legs and the hips together: keep the cut's own centre.
        return rough if found is None or abs(found[0] - rough[0]) > 0.03 * height else found


@dataclass(frozen=True)
class Legs:
    left: Leg  # +X
    right: Leg
    crotch: float  # height where the two legs join
    hidden: bool  # the join is a skirt's hem, not the crotch
    # Where the legs' own shells end, when the body is built of pieces (a box per bone): the thighs' joints.
    top: float | None = None


def _overlap(a: Region, b: Region) -> float:
    return min(a.hi, b.hi) - max(a.lo, b.lo)


def find_legs(surface: Surface, height: float) -> Legs:
    step = 0.005 * height
    gap = 0.004 * height
    heights = np.arange(0.02 * height, 0.8 * height, step)
    cuts = surface.cuts_z(heights)
    first = regions_along(cuts[0], _X, gap)
    if len(first) < 2:
        raise NotHumanoidError("no two legs: the lowest cross-section forms one region")
    # The two biggest regions at the bottom, left (+X) and right.
    pair = sorted(sorted(first, key=lambda r: -r.width)[:2], key=lambda r: r.lo)
    right, left = pair
    tracks: list[list[tuple[float, Region]]] = [[(float(heights[0]), left)], [(float(heights[0]), right)]]
    ended: float | None = None  # the last cut holding both legs, when no cut above it holds either
    for z, cut in zip(heights[1:], cuts[1:], strict=True):
        found = regions_along(cut, _X, gap)
        picks = []
        for track in tracks:
            prev = track[-1][1]
            best = max(found, key=lambda r: _overlap(r, prev), default=None)
            picks.append(best if best is not None and _overlap(best, prev) > 0 else None)
        left_pick, right_pick = picks
        if left_pick is None or right_pick is None:
            if left_pick is None and right_pick is None and ended is None:
                ended = tracks[0][-1][0]  # both legs' shells close: the torso, if any, is a piece above them
            continue  # a hole in the mesh at this height
        if left_pick is right_pick:
            apart = _apart(cut, left_pick, (tracks[0][-1][1], tracks[1][-1][1]), height)
            if apart is None:
                crotch, hidden, top = _join(surface, tracks, float(z), ended, stop=float(heights[-1]), height=height)
                legs = [_leg(surface, track, height) for track in tracks]
                return Legs(legs[0], legs[1], crotch, hidden, top)
            left_pick, right_pick = apart
        ended = None
        tracks[0].append((float(z), left_pick))
        tracks[1].append((float(z), right_pick))
    raise NotHumanoidError("no body above two legs: the two lowest regions never join")


def _join(
    surface: Surface,
    tracks: list[list[tuple[float, Region]]],
    z: float,
    ended: float | None,
    *,
    stop: float,
    height: float,
) -> tuple[float, bool, float | None]:
    """(the crotch, whether a skirt hides it, the legs' tops when their own shells end) where the two legs'
    tracks first meet in one region at height z; `ended` is the last cut holding them when a gap parts
    them from it."""
    step = 0.005 * height
    crotch, top = z, None if ended is None else ended + step / 2
    # Thighs meet gradually; a skirt's or shorts' hem closes a wide gap in one step.
    hidden = tracks[0][-1][1].lo - tracks[1][-1][1].hi > 0.008 * height
    if hidden:
        inside, closed = _inside(surface, tracks, z, stop, height)
        if closed:  # no skirt: a torso's box, the legs' boxes ending below or inside it
            top, hidden = inside - step / 2 if top is None else top, False
        else:
            crotch, hidden = inside, inside > z + step
    if crotch < 0.12 * height:
        raise NotHumanoidError(f"no two legs: the two lowest regions join {crotch / height:.0%} of the height up")
    if top is None and not hidden:
        top = _shells_end(surface, tracks, crotch, height)
    return crotch, hidden, top


def _apart(cut: FloatArray, region: Region, last: tuple[Region, Region], height: float) -> tuple[Region, Region] | None:
    """The (left, right) halves of one region of the cut split between the legs' `last` regions, while it is
    two legs touching: the region is less than 60% as deep on the mid-line as the shallower half (two round
    legs pressed together, or two boxes crossing); None when it is as deep there as beside it (the torso)."""
    mid = (last[0].lo + last[1].hi) / 2
    if not region.lo < mid < region.hi:
        return None
    x = cut[:, :, 0]
    segments = _around_legs(
        cut[(x.min(axis=1) >= region.lo - 1e-9) & (x.max(axis=1) <= region.hi + 1e-9)], mid, last, height
    )
    if len(segments) == 0 or not (segments[:, :, 0].min() < mid < segments[:, :, 0].max()):
        return None
    p, q = segments[:, 0], segments[:, 1]
    cross = (p[:, 0] - mid) * (q[:, 0] - mid) <= 0
    t = (mid - p[cross, 0]) / np.where(q[cross, 0] == p[cross, 0], 1.0, q[cross, 0] - p[cross, 0])
    on_mid = p[cross] + (q[cross] - p[cross]) * t[:, None]
    points = np.concatenate([segments.reshape(-1, 3), on_mid])
    # Each half's inner bound is the mid-line itself, so the next cut splits at the same place.
    left, right = points[points[:, 0] >= mid], points[points[:, 0] <= mid]
    halves = [
        Region(mid, float(left[:, 0].max()), left.min(axis=0), left.max(axis=0)),
        Region(float(right[:, 0].min()), mid, right.min(axis=0), right.max(axis=0)),
    ]
    depth = float(np.ptp(on_mid[:, 1])) if len(on_mid) else 0.0
    if depth >= 0.6 * min(h.size[1] for h in halves) or min(h.width for h in halves) < 0.01 * height:
        return None
    return halves[0], halves[1]


def _around_legs(segments: FloatArray, mid: float, last: tuple[Region, Region], height: float) -> FloatArray:
    """The segments without the loops passing between the legs apart from both (a coat's tail or a skirt's
    back panel behind them, a flap in front): a loop across the mid-line holding neither leg's last middle.
    Such a loop joins the legs along X and deepens the mid-line, though each leg is still its own loop."""
    labels = segment_regions(segments, _X, _Y, 0.004 * height)
    middles = [r.centre[:2] for r in last]
    keep = np.ones(len(segments), dtype=bool)
    for label in np.unique(labels):
        own = labels == label
        points = segments[own].reshape(-1, 3)
        lo, hi = points.min(axis=0)[:2], points.max(axis=0)[:2]
        if lo[0] < mid < hi[0] and not any(bool(np.all((lo <= c) & (c <= hi))) for c in middles):
            keep &= ~own
    return np.asarray(segments[keep], dtype=np.float64)


def _shells_end(
    surface: Surface, tracks: list[list[tuple[float, Region]]], crotch: float, height: float
) -> float | None:
    """Where the legs' own loops end inside the torso's, for a body built of pieces whose legs' shells reach
    into the torso's (each leg's centre is held by a loop inside the torso's, and a little higher by the
    torso's alone); None when the legs merge into the torso's surface (one skin), as a body's do."""
    centres = [track[-1][1].centre[:2] for track in tracks]
    step = 0.005 * height
    last = None
    for z in np.arange(crotch, crotch + 0.1 * height, step):
        loops = regions_in_plane(surface.cut_z(float(z)), _X, _Y, 0.004 * height)
        boxes = [(loop.min(axis=0)[:2], loop.max(axis=0)[:2]) for loop in loops]
        held = [sum(bool(np.all((lo <= c) & (c <= hi))) for lo, hi in boxes) for c in centres]
        if min(held) >= 2:
            last = float(z)
        elif min(held) == 1:
            return None if last is None else last + step / 2
        else:
            return None
    return None


def _inside(
    surface: Surface, tracks: list[list[tuple[float, Region]]], hem: float, stop: float, height: float
) -> tuple[float, bool]:
    """Where the legs join inside a skirt: above the hem, each leg is its own loop in the cut, apart from the
    skirt's; followed up until the two loops are one (or the skirt's loop is all there is). With whether
    they closed there instead: neither leg's loop goes on and one loop alone holds where they were (the
    legs' boxes ending inside a torso's box: no skirt, the hem was the torso's bottom)."""
    centres = [_own_loop(surface, track[-1], height) for track in tracks]
    for z in np.arange(hem, stop, 0.005 * height):
        loops = regions_in_plane(surface.cut_z(float(z)), _X, _Y, 0.004 * height)
        middles = [(loop.max(axis=0) + loop.min(axis=0))[:2] / 2 for loop in loops]
        picks = []
        for c in centres:
            near = [i for i, m in enumerate(middles) if np.linalg.norm(m - c) < 0.04 * height]
            picks.append(min(near, key=lambda i: float(np.linalg.norm(middles[i] - c))) if near else None)
        if picks[0] is None and picks[1] is None:
            boxes = [(loop.min(axis=0)[:2], loop.max(axis=0)[:2]) for loop in loops]
            held = [sum(bool(np.all((lo <= c) & (c <= hi))) for lo, hi in boxes) for c in centres]
            return float(z), max(held) <= 1
        if picks[0] is None or picks[1] is None or picks[0] == picks[1]:
            return float(z), False
        centres = [middles[i] for i in picks]  # type: ignore[index]
    return hem, False


def _own_loop(surface: Surface, last: tuple[float, Region], height: float) -> FloatArray:
    """The middle (x, y) of the leg's own loop in its last cut below the join: the biggest loop centred within
    the leg's interval along X. The interval's own centre also counts whatever hangs in line with the leg
    (a strap or a tail behind it), which would put the leg's middle off its loop."""
    z, region = last
    loops = regions_in_plane(surface.cut_z(z), _X, _Y, 0.004 * height)
    boxes = [(loop.min(axis=0), loop.max(axis=0)) for loop in loops]
    inside = [(lo, hi) for lo, hi in boxes if region.lo <= (lo[0] + hi[0]) / 2 <= region.hi]
    if not inside:
        return np.asarray(region.centre[:2], dtype=np.float64)
    lo, hi = max(inside, key=lambda box: float(np.prod((box[1] - box[0])[:2])))
    return np.asarray((lo + hi)[:2] / 2, dtype=np.float64)


def _leg(surface: Surface, track: list[tuple[float, Region]], height: float) -> Leg:
    heights = np.array([z for z, _ in track])
    centres = np.array([r.centre for _, r in track])
    centres[:, 2] = heights
    sizes = np.array([r.size[0] * r.size[1] for _, r in track])
    low = (heights >= 0.03 * height) & (heights <= 0.14 * height)
    if not low.any():
        raise NotHumanoidError("the legs are too short to hold an ankle")
    # The lowest of the narrowest cuts: a shin as narrow all the way up has its ankle just above the foot.
    narrow = int(np.flatnonzero(low & (sizes <= 1.05 * sizes[low].min()))[0])
    # A shaped leg (modelled or scanned) is narrowest along a stretch of shin above the ankle bones: its joint
    # is lower, on the shin's line, at the last cut before the heel and the instep spread the leg (front to
    # back) to half as deep again. Where the narrowest cut is a pinch (two pieces meeting: a box per bone,
    # remeshed or not), the cuts widening within 1% of the height above it, the joint is the narrowest cut.
    depths = np.array([r.size[1] for _, r in track])
    above = sizes[narrow + 1 : narrow + 3]
    joint = narrow
    if len(above) == 2 and bool(np.all(above <= 1.1 * sizes[narrow])):  # no pinch
        while joint > 0 and depths[joint - 1] < 1.5 * depths[narrow]:
            joint -= 1
    ankle = np.array([*centres[narrow][:2], heights[joint]])
    # The foot's outline on the floor: the region of a low cut nearest this leg.
    segments = surface.cut_z(0.015 * height)
    feet = regions_in_plane(segments, _X, _Y, 0.01 * height)
    near = [f for f in feet if abs(f[:, 0].mean() - ankle[0]) < 0.08 * height]
    foot = min(near or feet, key=lambda f: abs(f[:, 0].mean() - ankle[0]))
    front, back = foot[np.argmin(foot[:, 1])], foot[np.argmax(foot[:, 1])]
    toe_tip, heel = (front, back) if ankle[1] - front[1] >= back[1] - ankle[1] else (back, front)
    widths = np.array([r.width for _, r in track])
    return Leg(heights, centres, widths, depths, ankle, toe_tip, heel)
