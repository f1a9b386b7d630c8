"""The legs from horizontal cuts: two regions from the floor up to where they join (the crotch), the ankle at
the narrowest cut above the foot, the toes toward the foot's long end."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..rig.model import FloatArray
from .sections import Region, Surface, loop_centre, regions_along, regions_in_plane
from .types import NotHumanoidError

_X = np.array([1.0, 0.0, 0.0])
_Y = np.array([0.0, 1.0, 0.0])


@dataclass(frozen=True)
class Leg:
    heights: FloatArray  # (S,) cut heights from the floor to the crotch
    centres: FloatArray  # (S, 3) the leg's region centre at each
    widths: FloatArray  # (S,) its width along X
    ankle: FloatArray
    toe_tip: FloatArray  # the foot's far end along ±Y from the ankle
    heel: FloatArray

    def half_width(self, z: float) -> float:
        """Half the leg's width along X at height z (nearest cut)."""
        return float(self.widths[int(np.argmin(abs(self.heights - z)))]) / 2

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


def _overlap(a: Region, b: Region) -> float:
    return min(a.hi, b.hi) - max(a.lo, b.lo)


def find_legs(surface: Surface, height: float) -> Legs:
    step = 0.005 * height
    gap = 0.004 * height
    heights = np.arange(0.02 * height, 0.7 * height, step)
    cuts = surface.cuts_z(heights)
    first = regions_along(cuts[0], _X, gap)
    if len(first) < 2:
        raise NotHumanoidError("no two legs: the lowest cross-section forms one region")
    # The two biggest regions at the bottom, left (+X) and right.
    pair = sorted(sorted(first, key=lambda r: -r.width)[:2], key=lambda r: r.lo)
    right, left = pair
    tracks: list[list[tuple[float, Region]]] = [[(float(heights[0]), left)], [(float(heights[0]), right)]]
    crotch = None
    hidden = False
    for z, cut in zip(heights[1:], cuts[1:], strict=True):
        found = regions_along(cut, _X, gap)
        picks = []
        for track in tracks:
            prev = track[-1][1]
            best = max(found, key=lambda r: _overlap(r, prev), default=None)
            picks.append(best if best is not None and _overlap(best, prev) > 0 else None)
        left_pick, right_pick = picks
        if left_pick is None or right_pick is None:
            continue  # a hole in the mesh at this height
        if left_pick is right_pick:
            crotch = float(z)
            # Thighs meet gradually; a skirt's or shorts' hem closes a wide gap in one step.
            hidden = tracks[0][-1][1].lo - tracks[1][-1][1].hi > 0.008 * height
            if hidden:
                crotch = _inside(surface, tracks, float(z), heights[-1], height)
                hidden = crotch > z + step
            break
        tracks[0].append((float(z), left_pick))
        tracks[1].append((float(z), right_pick))
    if crotch is None:
        raise NotHumanoidError("no body above two legs: the two lowest regions never join")
    if crotch < 0.12 * height:
        raise NotHumanoidError(f"no two legs: the two lowest regions join {crotch / height:.0%} of the height up")
    legs = [_leg(surface, track, height) for track in tracks]
    return Legs(legs[0], legs[1], crotch, hidden)


def _inside(
    surface: Surface, tracks: list[list[tuple[float, Region]]], hem: float, stop: float, height: float
) -> float:
    """Where the legs join inside a skirt: above the hem, each leg is its own loop in the cut, apart from the
    skirt's; followed up until the two loops are one (or the skirt's loop is all there is)."""
    centres = [_own_loop(surface, track[-1], height) for track in tracks]
    for z in np.arange(hem, stop, 0.005 * height):
        loops = regions_in_plane(surface.cut_z(float(z)), _X, _Y, 0.004 * height)
        middles = [(loop.max(axis=0) + loop.min(axis=0))[:2] / 2 for loop in loops]
        picks = []
        for c in centres:
            near = [i for i, m in enumerate(middles) if np.linalg.norm(m - c) < 0.04 * height]
            picks.append(min(near, key=lambda i: float(np.linalg.norm(middles[i] - c))) if near else None)
        if picks[0] is None or picks[1] is None or picks[0] == picks[1]:
            return float(z)
        centres = [middles[i] for i in picks]  # type: ignore[index]
    return hem


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
    ankle = centres[np.flatnonzero(low)[np.argmin(sizes[low])]]
    # The foot's outline on the floor: the region of a low cut nearest this leg.
    segments = surface.cut_z(0.015 * height)
    feet = regions_in_plane(segments, _X, _Y, 0.01 * height)
    near = [f for f in feet if abs(f[:, 0].mean() - ankle[0]) < 0.08 * height]
    foot = min(near or feet, key=lambda f: abs(f[:, 0].mean() - ankle[0]))
    front, back = foot[np.argmin(foot[:, 1])], foot[np.argmax(foot[:, 1])]
    toe_tip, heel = (front, back) if ankle[1] - front[1] >= back[1] - ankle[1] else (back, front)
    widths = np.array([r.width for _, r in track])
    return Leg(heights, centres, widths, ankle, toe_tip, heel)
