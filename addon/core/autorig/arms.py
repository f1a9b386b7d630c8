"""The arms from cuts perpendicular to each arm's own direction (so T- and A-poses read alike): the arm's
centre line, the wrist at its narrowest cut before the hand, the elbow midway."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from ..rig.model import BoolArray, FloatArray, IntArray
from .frame import BAND
from .sections import Surface, regions_in_plane, segment_regions
from .torso import Torso
from .types import NotHumanoidError

SLICES = 64
_X = np.array([1.0, 0.0, 0.0])
_Y = np.array([0.0, 1.0, 0.0])


@dataclass(frozen=True)
class Arm:
    shoulder: FloatArray  # the upper arm's head
    elbow: FloatArray
    wrist: FloatArray
    tip: FloatArray  # the hand's far end
    narrowest: FloatArray  # the forearm's narrowest cut, just before the wrist: the hand's cuts start there
    direction: FloatArray  # unit, shoulder to tip
    surface: Surface  # the arm's triangles only
    angle: float  # degrees below horizontal


def _perpendiculars(direction: FloatArray) -> tuple[FloatArray, FloatArray]:
    helper = np.array([0.0, 1.0, 0.0]) if abs(direction[1]) < 0.9 else np.array([0.0, 0.0, 1.0])
    e1 = np.cross(direction, helper)
    e1 /= np.linalg.norm(e1)
    return e1, np.cross(direction, e1)


def cut_across(surface: Surface, origin: FloatArray, direction: FloatArray, cell: float) -> list[FloatArray]:
    """The regions of the cut through `origin` perpendicular to `direction`, nearest to `origin` first."""
    e1, e2 = _perpendiculars(direction)
    found = regions_in_plane(surface.cut(origin, direction), e1, e2, cell)
    return sorted(found, key=lambda r: float(np.min(np.linalg.norm(r - origin, axis=1))))


def find_arm(
    triangles: FloatArray,
    pieces: IntArray | None,
    torso: Torso,
    crotch: float,
    *,
    side: float,
    height: float,
    apart: BoolArray,
    body_only: bool = False,
) -> Arm:
    """The arm on the +X side (`side` = 1) or the −X side (−1). `pieces` labels each triangle's separate
    piece for a kit-bashed body (whose parts are its segments), None for a soft one. With `body_only`, only
    what lies within BAND of the plane of the body (over the feet, y = 0) is arm: a prop fused to the body
    behind or in front of it (a robot arm on the back reaching out past one hand) is not. `apart`: the
    triangles beside the torso that are no arm's (`sheets`, the same for both sides)."""
    centroids = triangles.mean(axis=1)
    below = _beside_below(centroids, torso, crotch, height) & ~apart
    above = (
        (centroids[:, 2] >= torso.armpit)
        & (centroids[:, 2] < torso.neck_base)  # hair hanging beside the head is no arm
        & (side * centroids[:, 0] > 1.05 * torso.chest_half_width)
    )
    on_arm = (below | above) & (side * centroids[:, 0] > 0) & ((not body_only) | (abs(centroids[:, 1]) < BAND * height))
    if on_arm.sum() < 4:
        raise NotHumanoidError(f"no {'left' if side > 0 else 'right'} arm beside the torso")
    corners = triangles[on_arm]
    surface = Surface(corners, corners[:, :, 2].min(axis=1), corners[:, :, 2].max(axis=1))
    start = np.array([side * torso.chest_half_width, torso.y_at(torso.armpit), torso.armpit + 0.04 * height])
    points = corners.reshape(-1, 3)
    tip = points[np.argmax(np.linalg.norm(points - start, axis=1))]
    length = float(np.linalg.norm(tip - start))
    direction = (tip - start) / length
    ts = np.linspace(0.05, 0.995, SLICES) * length
    centres, widths = _centres(surface, start, direction, ts, height)
    ok = ~np.isnan(widths)
    if ok.sum() < SLICES // 2:
        raise NotHumanoidError(f"the {'left' if side > 0 else 'right'} arm's cross-sections are mostly empty")
    upper = ok & (ts >= 0.15 * length) & (ts <= 0.45 * length)
    if upper.sum() < 2:
        raise NotHumanoidError(
            f"no {'left' if side > 0 else 'right'} upper arm: the cross-sections from the shoulder outward are empty "
            "(what hangs beside the torso is no arm: a cape or a sheet wider than the body?)"
        )
    line = centres[upper]
    mean = line.mean(axis=0)
    axis = np.linalg.svd(line - mean)[2][0]
    axis = axis if axis @ direction > 0 else -axis
    # Where the upper arm's centre line crosses into the torso's side: the shoulder joint.
    x_joint = side * torso.chest_half_width * 0.95
    shoulder = mean + axis * ((x_joint - mean[0]) / axis[0]) if abs(axis[0]) > 0.2 else start
    found_t = float((shoulder - start) @ direction)
    shoulder_t, elbow_t, wrist_t, thumb = found_t, None, None, None
    if pieces is not None:
        shoulder_t, elbow_t, wrist_t, thumb = _joints_at_gaps(
            corners, pieces[on_arm], start=start, direction=direction, shoulder=found_t, length=length
        )
    if shoulder_t != found_t:  # on the upper arm's line, where its part begins
        shoulder = mean + axis * float((start + shoulder_t * direction - mean) @ axis)
    window = ok & (ts >= max(0.55 * length, (elbow_t or 0.0) + 0.1 * length)) & (ts <= 0.85 * length)
    if wrist_t is not None:
        wrist_k = _nearest(ts, ok, wrist_t)
        wrist = centres[wrist_k]
        if thumb is not None and pieces is not None:
            wrist = _beside_thumb(
                corners[pieces[on_arm] != thumb], start, direction, wrist_t, height=height, fallback=wrist
            )
        wrist_t = float(ts[wrist_k])  # the elbow lies midway to the wrist's cut
    elif window.any():
        # A forearm narrows toward the wrist and the hand widens after it: the joint lies just past the
        # narrowest stretch, where the hand has begun to widen.
        wrist_k = int(np.flatnonzero(window & (widths <= 1.05 * np.min(widths[window])))[-1])
        wrist_t, wrist = _hand_begins(ts, centres, widths, wrist_k, 0.1 * length)
    else:
        wrist_k = int(0.75 * SLICES)
        wrist, wrist_t = centres[wrist_k], float(ts[wrist_k])
    elbow_k = _nearest(ts, ok, (shoulder_t + wrist_t) / 2 if elbow_t is None else elbow_t)
    angle = float(np.degrees(np.arcsin(np.clip(-direction[2], -1, 1))))
    return Arm(shoulder, centres[elbow_k], wrist, tip, centres[wrist_k], direction, surface, angle)


def _beside_below(centroids: FloatArray, torso: Torso, crotch: float, height: float) -> BoolArray:
    """Which triangles (by their `centroids`) lie beside the torso below the armpits, above the crotch."""
    outside = np.asarray(torso.outside(centroids, 0.005 * height), dtype=bool)
    return np.asarray((centroids[:, 2] < torso.armpit) & (centroids[:, 2] > crotch) & outside)


def sheets(triangles: FloatArray, torso: Torso, crotch: float, height: float) -> BoolArray:
    """Which triangles beside the torso below the armpits are a sheet's, not an arm's (_across_the_mid_line):
    one mask for both arms."""
    return _across_the_mid_line(triangles, _beside_below(triangles.mean(axis=1), torso, crotch, height), torso, height)


def _across_the_mid_line(triangles: FloatArray, beside: BoolArray, torso: Torso, height: float) -> BoolArray:
    """Which of the triangles `beside` the torso lie on a loop of a horizontal cut that crosses the mid-line only
    behind or only in front of the body's centre: a cape, a coat's tail or a panel wider than the body hanging
    behind the hips or before them. An arm's loop stays on its side of the mid-line (or joins the body's, which
    crosses it before and behind the centre); a sheet's far corners, read as the arm's end, would turn the arm
    down the sheet's side."""
    out = np.zeros(len(triangles), dtype=bool)
    if not beside.any():
        return out
    low, high = triangles[:, :, 2].min(axis=1), triangles[:, :, 2].max(axis=1)
    step, cell = 0.01 * height, 0.004 * height
    z_beside = triangles[beside][:, :, 2]
    for z in np.arange(z_beside.min() + step / 2, z_beside.max(), step):
        hit = np.flatnonzero((low <= z) & (high > z))
        if not len(hit):
            continue
        # Exactly the triangles the plane crosses, in order: one segment each.
        segments = Surface(triangles[hit], low[hit], high[hit]).cut_z(float(z))
        labels = segment_regions(segments, _X, _Y, cell)
        p, q = segments[:, 0], segments[:, 1]
        cross = (p[:, 0] <= 0) != (q[:, 0] <= 0)
        if not cross.any():
            continue
        t = -p[cross, 0] / (q[cross, 0] - p[cross, 0])
        y = p[cross, 1] + (q[cross, 1] - p[cross, 1]) * t
        # A loop around the body (its own, or one it joins) crosses the mid-line both before and behind the
        # body's centre; a sheet apart from it, on one side only.
        behind = y > torso.y_at(float(z))
        crossing = np.unique(labels[cross])
        apart = crossing[[len(np.unique(behind[labels[cross] == label])) == 1 for label in crossing]]
        out[hit[np.isin(labels, apart)]] = True
    return out


def _centres(
    surface: Surface, start: FloatArray, direction: FloatArray, ts: FloatArray, height: float
) -> tuple[FloatArray, FloatArray]:
    """Per cut across the arm at `ts` along it: the centre of its region nearest to the line, and its width
    (NaN where the cut is empty)."""
    centres = np.full((len(ts), 3), np.nan)
    widths = np.full(len(ts), np.nan)
    e1, e2 = _perpendiculars(direction)
    for k, t in enumerate(ts):
        origin = start + t * direction
        found = cut_across(surface, origin, direction, 0.01 * height)
        if not found:
            continue
        region = found[0]
        a, b = region @ e1, region @ e2
        centres[k] = (
            origin + e1 * ((a.max() + a.min()) / 2 - origin @ e1) + e2 * ((b.max() + b.min()) / 2 - origin @ e2)
        )
        widths[k] = max(a.max() - a.min(), b.max() - b.min())
    return centres, widths


def _beside_thumb(
    rest: FloatArray, start: FloatArray, direction: FloatArray, t: float, *, height: float, fallback: FloatArray
) -> FloatArray:
    """The centre of the hand's own cut at `t` (the thumb's root) from the arm's triangles without the thumb's
    (`rest`): the thumb would pull the centre toward itself. `fallback` where the cut is empty."""
    hand = Surface(rest, rest[:, :, 2].min(axis=1), rest[:, :, 2].max(axis=1))
    centre = _centres(hand, start, direction, np.array([t]), height)[0][0]
    return centre if np.isfinite(centre).all() else fallback


def _hand_begins(
    ts: FloatArray, centres: FloatArray, widths: FloatArray, narrowest: int, reach: float
) -> tuple[float, FloatArray]:
    """(where along the arm, the centre there) the cuts past the `narrowest` one first grow a fifth wider than
    it, or a fifth of the way to the hand's widest if that comes sooner, within `reach` of it; the narrowest
    cut itself when they do not. Artists' wrists sit there: past the forearm's narrowest, at the hand's root
    (1-4% of the arm beyond it on real avatars), and as soon as the hand begins on a box figure, whose hand
    is hardly wider than its forearm."""
    narrow, widest = widths[narrowest], np.nanmax(widths[narrowest:])
    if widest < 1.1 * narrow:  # a hand no wider than the forearm (a box figure's small hand): no root shows
        return float(ts[narrowest]), centres[narrowest]
    limit = min(1.2 * narrow, narrow + 0.2 * (widest - narrow))
    for k in range(narrowest + 1, len(ts)):
        if ts[k] - ts[narrowest] > reach or np.isnan(widths[k]):
            break
        if widths[k] >= limit:  # the cut before was narrower: widths[k - 1] < limit <= widths[k]
            f = (limit - widths[k - 1]) / (widths[k] - widths[k - 1])
            return float(ts[k - 1] + f * (ts[k] - ts[k - 1])), centres[k - 1] + f * (centres[k] - centres[k - 1])
    return float(ts[narrowest]), centres[narrowest]


def _nearest(ts: FloatArray, ok: BoolArray, t: float) -> int:
    """The cut with a region nearest to `t` along the arm."""
    return int(np.nanargmin(np.where(ok, abs(ts - t), np.nan)))


def _joints_at_gaps(
    corners: FloatArray, pieces: IntArray, *, start: FloatArray, direction: FloatArray, shoulder: float, length: float
) -> tuple[float, float | None, float | None, int | None]:
    """(the shoulder, the elbow, the wrist, the thumb's piece when it marked the wrist) along the arm from
    `start`, where an arm of separate parts shows them: `shoulder` (found from the cuts) and None where it
    does not. Each part's rounded end narrows the
    cuts like a wrist, so the cuts alone misplace them.

    Parts overlapping by more than half the shorter are one segment (a skinned arm's sleeve or glove lies
    along its skin: one segment, and the cuts decide). A segment at least 15% of the arm long is a limb's;
    shorter ones (a ball at the elbow, a cuff, a pad) sit at joints, and three or more parts side by side
    are fingers, beyond the hand. In their order from the
    shoulder the limb's segments are the upper arm, the forearm (in one or more parts) and the hand: the
    elbow is midway between the first two (the middle of the gap, or of the ball, between them), the wrist
    between the last two unless what lies beyond is too long for a hand (over 35% of the arm: the cuts find
    the wrist then), the shoulder where the first begins beside the part before it or a gap from the
    torso's side (at 0), when that is near where the cuts put it. What lies beyond is too long for a hand
    when one part holds the forearm (or its end) and the fist; a thumb's part on it marks the wrist still
    (`_thumb_root`)."""
    flat = corners.reshape(-1, 3) - start
    along, owner = flat @ direction, np.repeat(pieces, 3)
    segments: list[list[float]] = []  # [from, to, the number of parts side by side in it]
    for p in sorted(np.unique(owner), key=lambda p: float(along[owner == p].min())):
        a, b = float(along[owner == p].min()), float(along[owner == p].max())
        if b - a < 0.03 * length:
            continue  # a bolt or a rivet
        last = segments[-1] if segments else None
        if last is not None and last[1] - a > 0.5 * min(b - a, last[1] - last[0]):
            # Parts beginning and ending together, side by side (fingers), are counted.
            alike = abs(a - last[0]) < 0.05 * length and abs(b - last[1]) < 0.05 * length
            last[1], last[2] = max(last[1], b), last[2] + 1 if alike else 1
        else:
            segments.append([a, b, 1])
    tip = max((b for _, b, _ in segments), default=length)
    limb = [
        i
        for i, (a, b, alike) in enumerate(segments)
        if b - a >= 0.15 * length and b > shoulder + 0.1 * length and alike < 3
    ]
    meetings = [(segments[i][1] + segments[j][0]) / 2 for i, j in itertools.pairwise(limb)]
    if limb and abs(segments[limb[0]][0] - shoulder) < 0.1 * length:
        # The upper arm's part begins beside a shoulder's part, or a gap from the torso's side (at 0): the
        # shoulder joint is where they meet.
        before = segments[limb[0] - 1][1] if limb[0] > 0 else 0.0
        if segments[limb[0]][0] > before:
            shoulder = (before + segments[limb[0]][0]) / 2
    hand = 0.35 * (tip - shoulder)
    fingers = min((a for a, _, alike in segments if alike >= 3), default=tip)
    thumb = _thumb_root(along, owner, segments[limb[-1]][0], fingers, length) if limb else None
    inside, piece = thumb if thumb is not None else (None, None)
    if len(meetings) >= 2:
        if tip - meetings[-1] < hand:
            return shoulder, meetings[0], meetings[-1], None
        return shoulder, meetings[0], inside, piece
    if len(meetings) == 1:
        if tip - meetings[0] < hand:
            return shoulder, None, meetings[0], None
        return shoulder, meetings[0], inside, piece
    return shoulder, None, None, None


def _thumb_root(
    along: FloatArray, owner: IntArray, start: float, fingers: float, length: float
) -> tuple[float, int] | None:
    """Where along the arm the thumb's part sits on the limb's last part (which begins at `start`), and which
    piece it is: the one part (no bolt: at least 3% of the arm long) beginning on it and ending before the
    fingers (at `fingers`), its middle; None unless there is exactly one. A thumb's root sits on the wrist's
    bones (its metacarpal joins the carpals), so the wrist is level with it, wherever the cuts narrow on a
    fist moulded in one piece with the forearm, or on a fist as wide as the forearm's end."""
    found = []
    for p in np.unique(owner):
        a, b = float(along[owner == p].min()), float(along[owner == p].max())
        if a > start and b < fingers and b - a >= 0.03 * length:
            found.append(((a + b) / 2, int(p)))
    return found[0] if len(found) == 1 else None
