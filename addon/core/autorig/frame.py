"""The rig frame: the unit scale, which parts make the body, and the turn about Z that puts the sides on X."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..rig.model import FloatArray
from .sections import Surface, regions_in_plane
from .types import MeshPart, NotHumanoidError

_PERSON = (0.5, 2.5)  # metres: a chibi to a tall adult
_INCH = 0.0254
MIN_VERTICES = 8


def unit_scale(height: float) -> tuple[float, str | None]:
    """The factor that makes `height` a person's size in metres: 1 when it already is, else a power of ten
    (centimetres, millimetres, ...), else inches; 1 when nothing fits."""
    if _PERSON[0] <= height <= _PERSON[1]:
        return 1.0, None
    for power in range(-6, 7):
        if _PERSON[0] <= height * 10.0**power <= _PERSON[1]:
            return 10.0**power, f"scaled ×{10.0**power:g}: the mesh is {height:g} units tall"
    if _PERSON[0] <= height * _INCH <= _PERSON[1]:
        return _INCH, f"scaled ×{_INCH}: the mesh is in inches"
    return 1.0, f"kept the scale: {height:g} units tall fits no unit of a person's size"


@dataclass(frozen=True)
class Frame:
    """The provisional rig frame: scale, then a turn about Z (sides along X), then a shift (floor at z=0,
    the feet's midpoint at x=y=0). Whether the front is −Y is decided later."""

    scale: float
    angle: float  # radians, about Z
    shift: FloatArray  # added after scale and turn

    def apply(self, points: FloatArray) -> FloatArray:
        c, s = math.cos(self.angle), math.sin(self.angle)
        turn = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        return np.asarray(points * self.scale @ turn.T + self.shift, dtype=np.float64)

    def matrix(self) -> FloatArray:
        c, s = math.cos(self.angle), math.sin(self.angle)
        m = np.eye(4)
        m[:3, :3] = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]) * self.scale
        m[:3, 3] = self.shift
        return m


def seam_groups(parts: Sequence[MeshPart]) -> list[list[int]]:
    """The parts in groups of one surface: an exporter splits a body by material (head, torso, arms, hands,
    legs, shoes) into parts whose seams' vertices lie at the same positions in both; two parts with two
    positions (an edge) in common are one group. Closed parts inside the body (eyes, teeth) and parts apart
    (a robot's, clothes over the body) are groups of their own."""
    positions = [np.unique(p.vertices, axis=0) for p in parts]
    owner = np.repeat(np.arange(len(parts)), [len(p) for p in positions])
    group = np.arange(len(parts))
    if len(owner):
        _, at = np.unique(np.concatenate(positions), axis=0, return_inverse=True)
        pos, who = np.unique(np.stack([at.ravel(), owner], axis=1), axis=0).T  # each position's owners, in order
        same = pos[1:] == pos[:-1]
        links, counts = np.unique(np.stack([who[:-1][same], who[1:][same]], axis=1), axis=0, return_counts=True)
        for a, b in links[counts >= 2]:
            group[group == max(group[a], group[b])] = min(group[a], group[b])
    return [[int(i) for i in np.flatnonzero(group == g)] for g in np.unique(group)]


# A scan or a damaged export misses triangles here and there: each hole's border is a short loop (a missing
# triangle's 3 edges, a few missing together's up to a dozen). An opening made on purpose (a skirt's hem, a
# sleeve's end) has more, and is left open; a small one closed lies within its loop's outline, as the cuts
# read it.
HOLE_EDGES = 12


def close_holes(part: MeshPart) -> MeshPart:
    """The part with each hole of at most HOLE_EDGES border edges closed by a fan of triangles: a horizontal cut
    through a hole would break the loop around a limb or the torso into pieces, read as narrower ones."""
    points, index = np.unique(part.vertices, axis=0, return_inverse=True)
    index = index.ravel()
    faces = index[part.triangles]
    directed = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    ordered = np.sort(directed, axis=1)
    _, which, uses = np.unique(ordered[:, 0] * len(points) + ordered[:, 1], return_inverse=True, return_counts=True)
    after: dict[int, list[int]] = {}
    for a, b in directed[uses[which.ravel()] == 1].tolist():
        after.setdefault(a, []).append(b)
    original = np.zeros(len(points), dtype=np.int64)
    original[index[::-1]] = np.arange(len(index))[::-1]  # a vertex of the part at each position
    fans = []
    while after:
        start = next(iter(after))
        loop, at = [start], start
        while at in after:  # follow the border from each edge's end (the next hole's edge at a shared corner)
            ends = after[at]
            nxt = ends.pop()
            if not ends:
                del after[at]
            if nxt == start:
                if len(loop) <= HOLE_EDGES:
                    fans += [(loop[0], loop[k + 1], loop[k]) for k in range(1, len(loop) - 1)]
                break
            loop.append(nxt)
            at = nxt
    if not fans:
        return part
    return MeshPart(part.name, part.vertices, np.concatenate([part.triangles, original[np.array(fans)]]))


def choose_body(parts: Sequence[MeshPart], low: float, height: float) -> list[int]:
    """The parts that make the body: all but small ones (eyes, teeth, accessories: rigid candidates) and
    big ones standing off to one side (a prop held out, a robot arm on the back). Parts of one surface split
    by material (`seam_groups`) are judged together: a hand in a part of its own is the body's."""
    groups = seam_groups(parts)
    points = [np.concatenate([parts[i].vertices for i in g]) for g in groups]
    extents = [p.max(axis=0) - p.min(axis=0) for p in points]
    names = [parts[max(g, key=lambda i: len(parts[i].vertices))].name for g in groups]
    big = [i for i, e in enumerate(extents) if float(np.linalg.norm(e)) >= 0.15 * height]
    if not big:
        raise NotHumanoidError("no part is bigger than 15% of the whole: scattered small pieces")
    # The widest-based part (the one reaching lowest, most vertices) sets the mid-line.
    anchor = min(big, key=lambda i: (points[i][:, 2].min() - low > 0.1 * height, -len(points[i])))
    if extents[anchor][2] < 0.5 * height and max(extents[i][2] for i in big) < 0.5 * height:
        # Kit-bashed (a robot of rigid parts, separate boxes): no part carries the body, and the lowest one is a
        # foot, off the mid-line; every big part belongs to the body, hands held out too.
        return sorted(int(k) for i in big for k in groups[i])
    mid = (points[anchor].max(axis=0) + points[anchor].min(axis=0)) / 2
    keep = []
    for i in big:
        centre = (points[i].max(axis=0) + points[i].min(axis=0)) / 2
        off = float(np.linalg.norm((centre - mid)[:2]))
        if off <= max(0.15 * height, 0.25 * float(np.linalg.norm(extents[i][:2]))):
            keep.append(i)
        elif extents[i][2] >= 0.8 * height and points[i][:, 2].min() - low < 0.1 * height:
            raise NotHumanoidError(
                f"{names[anchor]!r} and {names[i]!r} stand side by side, each full height: two characters"
            )
    return sorted(int(k) for i in keep for k in groups[i])


# Of the height: a part whose nearest point lies this far from the body's is another object in the scene (a
# crate, a pet on the floor), not the avatar's: bound to the nearest bone it would move with a hand or a foot.
# Worn and floating accessories (a halo, a hat, wings) touch the body or hover a few centimetres off it.
APART = 0.1


def apart_from_body(parts: Sequence[MeshPart], body: list[int], height: float) -> tuple[str, float] | None:
    """The first part not of the `body` whose nearest point lies more than APART of the height from the body's,
    with that distance (a share of the height; points thinned to a grid of 1% of it, near enough for a tenth);
    None when every part is near the body."""
    cell = 0.01 * height

    def thinned(points: FloatArray) -> FloatArray:
        _, first = np.unique(np.floor(points / cell).astype(np.int64), axis=0, return_index=True)
        return np.asarray(points[np.sort(first)], dtype=np.float64)

    own = thinned(np.concatenate([parts[i].vertices for i in body]))
    for i, part in enumerate(parts):
        if i in body:
            continue
        points = thinned(part.vertices)
        nearest = min(
            float(np.sqrt(((points[k : k + 256, None, :] - own[None]) ** 2).sum(axis=2).min()))
            for k in range(0, len(points), 256)
        )
        if nearest > APART * height:
            return part.name, nearest / height
    return None


# Of the height: how far behind or in front of the line between the feet the body's own span lies (its arms
# in a T- or A-pose), when a prop fused to one side is to be left out.
BAND = 0.12


def _spread(points: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The eigenvalues (ascending) and eigenvectors of the 2-D points' covariance."""
    cov = np.cov((points - points.mean(axis=0)).T) if len(points) > 2 else np.eye(2)
    values, vectors = np.linalg.eigh(cov)
    return values, vectors


def turn_to_sides(
    points: FloatArray, feet: list[FloatArray], height: float, *, body_only: bool = False
) -> tuple[float, str]:
    """The turn about Z that puts the character's sides along X: the shoulders' and arms' long horizontal
    axis when it is clear, else the line between the two feet. With `body_only`, the span of what lies
    within BAND of the line between the feet only."""
    upper = points[points[:, 2] > points[:, 2].min() + 0.55 * height][:, :2]
    values, vectors = _spread(upper)
    if body_only and len(feet) == 2 and len(upper) > 2:
        # The arms lie in the plane of the body, over the feet. A prop fused to the body (a robot arm on the
        # back reaching out past one hand) turns the whole cloud's axis; what lies more than BAND behind or in
        # front of the line between the feet is left out, then of the span found.
        centre = np.mean([foot.mean(axis=0)[:2] for foot in feet], axis=0)
        along = feet[1].mean(axis=0)[:2] - feet[0].mean(axis=0)[:2]
        for _ in range(2):
            across = np.array([-along[1], along[0]]) / max(float(np.linalg.norm(along)), 1e-12)
            near = upper[np.abs((upper - centre) @ across) < BAND * height]
            if len(near) <= 2:
                break
            values, vectors = _spread(near)
            along = vectors[:, 1]
    if values[1] > 1.4 * max(values[0], 1e-12):
        side = vectors[:, 1]
        how = "the shoulders' and arms' span"
    elif len(feet) == 2:
        side = (feet[1].mean(axis=0) - feet[0].mean(axis=0))[:2]
        how = "the line between the feet"
    else:
        raise NotHumanoidError("cannot tell the sides: no clear shoulder span and not two feet")
    return -math.atan2(float(side[1]), float(side[0])), how


# The file's convention: glTF faces a model toward +Z, VRM 1.0 too, and Blender's glTF, VRM and FBX importers
# turn that front to −Y. Trusted only while the avatar's sides lie within this angle of the file's X axis.
CONVENTION = math.radians(30)


def front(votes: dict[str, int], angle: float) -> tuple[bool, str]:
    """Whether to turn half round from the frame turned by `angle` (whose front is −Y) and the note saying how
    the front was found. `votes` are each evidence's say in that frame (-1: −Y, +1: +Y, 0: none). When they
    agree, they decide; when they disagree or none speaks (a robot with no feet nor face), the file's
    convention (−Y in Blender) decides; NotHumanoidError when the avatar stands sideways in its file too."""
    ahead = [name for name, v in votes.items() if v < 0]
    behind = [name for name, v in votes.items() if v > 0]
    if ahead and not behind:
        return False, f"front: −Y found from {' and '.join(ahead)}"
    if behind and not ahead:
        return True, f"front: −Y found from {' and '.join(behind)}"
    why = f"{' and '.join(ahead + behind)} disagree" if ahead else "no feet nor face shows it"
    # World −Y in the turned frame is (sin a, −cos a): along −Y there when cos a > 0.
    if abs(math.cos(angle)) < math.cos(CONVENTION):
        raise NotHumanoidError(
            f"cannot tell the front: {why}, and the avatar stands sideways in its file (its sides "
            f"{math.degrees(math.acos(abs(math.cos(angle)))):.0f}° off the file's left-right axis)"
        )
    return math.cos(angle) < 0, f"front: −Y as the file has it (glTF's +Z, as imported): {why}"


def toes_toward_plus_y(points: FloatArray, feet: list[FloatArray], angle: float, floor: float, height: float) -> bool:
    """Whether, turned by `angle`, the feet's footprints lie ahead of the shins along +Y: a first guess at the
    front that saves placing the legs and torso twice (the vote that follows decides)."""
    turn = Frame(1.0, angle, np.zeros(3))
    shins = points[(points[:, 2] > floor + 0.08 * height) & (points[:, 2] < floor + 0.12 * height)]
    if len(shins) == 0:
        return False
    shins = turn.apply(shins)
    lead = 0.0
    for foot in feet:
        print_ = turn.apply(foot)
        centre = print_.mean(axis=0)
        shin = shins[np.linalg.norm(shins[:, :2] - centre[:2], axis=1) < 0.08 * height]
        if len(shin):
            lead += float(centre[1] - shin[:, 1].mean())
    return lead > 0


def feet_on_floor(surface: Surface, floor: float, height: float) -> list[FloatArray]:
    """The separate regions where the body meets the floor (3 % of the height up), biggest first; regions
    under a tenth of the biggest are dropped as noise."""
    segments = surface.cut_z(floor + 0.03 * height)
    found = regions_in_plane(segments, np.array([1.0, 0, 0]), np.array([0, 1.0, 0]), 0.02 * height)
    return [r for r in found if len(r) >= 0.1 * len(found[0])]
