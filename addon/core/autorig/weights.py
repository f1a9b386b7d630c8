"""The auto-rig's weight decisions on numpy arrays: which vertices bone heat left out (per loose shell), which
bones each vertex may follow, and the final weights (masked, at most 4 influences, normalised, none empty).

Blender computes raw weights (bone heat, on the mesh or on a voxel proxy); these functions decide what is
kept. Weights are (N, B) arrays over the plan's bones, in the plan's order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..rig.model import BoolArray, FloatArray, IntArray
from ..rig.skinning import MAX_INFLUENCES, quantized, segment_distances
from ..rig.weight_fixes import limited
from . import frame
from .types import MeshPart, NotHumanoidError

# Heat weights below Blender's own cut-off (0.025) never arrive; a vertex whose weights add up to less than
# this has effectively none.
EMPTY = 1e-3
# A vertex may follow bones up to this many steps from its nearest bone along the skeleton: a forearm vertex
# the elbow and wrist, never the hips.
REGION_HOPS = 2
# Vertices this close to the mid-plane (a fraction of the height) may follow either side.
MID_PLANE = 0.01
# Beyond this share of a mesh's vertices that do not keep their own bone heat (`unskinned`'s carried), those
# take the voxel proxy's weights; below it, their nearest allowed bone, sparing the proxy.
MASKED = 0.01
# A separate closed shell no bigger than this (its box's diagonal, a fraction of the height) whose vertices
# all lie nearest one bone is a hard part (a button, a buckle, an armour plate, a robot's shell): it follows
# that bone wholly, as the artist binds it, instead of bending with the skin around it.
RIGID_SHELL = 0.25
# Vertices closer than this (a fraction of the height) are one point when shells are told apart: importers
# split a closed surface along its UV seams and hard edges.
WELD = 1e-5


def shells(vertex_count: int, triangles: IntArray) -> IntArray:
    """A label per vertex, equal for vertices of one connected shell (hook-and-compress union-find)."""
    label = np.arange(vertex_count, dtype=np.int64)
    if not len(triangles):
        return label
    edges = np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]]]).astype(np.int64)
    while True:
        a, b = label[edges[:, 0]], label[edges[:, 1]]
        differ = a != b
        if not differ.any():
            return label
        np.minimum.at(label, np.maximum(a, b)[differ], np.minimum(a, b)[differ])
        while True:  # point every vertex at its root
            jumped = label[label]
            if np.array_equal(jumped, label):
                break
            label = jumped


@dataclass(frozen=True)
class Welded:
    """A mesh with the vertices that share a position made one (importers split a surface along its UV seams
    and hard edges into hundreds of shells): `points` (W, 3), `faces` (F, 3) into them without the collapsed
    ones, `index` (N,) each original vertex's welded one, `shell` (N,) each original vertex's welded shell."""

    points: FloatArray
    faces: IntArray
    index: IntArray
    shell: IntArray


def weld(points: FloatArray, step: float) -> tuple[IntArray, IntArray]:
    """Vertices at the same place made one: positions rounded to a grid of `step`, equal ones welded.
    (`first` (W,): an original vertex of each welded one; `index` (N,): each original vertex's welded one.)
    Its callers differ only in the step: WELD of the height for bone heat's copies and hard shells, 1e-6
    (a micrometre, in metres) for a kit-bashed body's pieces, 1e-5 of a body part's own height for the
    shells the torso's cuts keep."""
    grid = np.round(points / step).astype(np.int64)
    grid -= grid.min(axis=0, initial=0)
    span = grid.max(axis=0, initial=0) + 1
    if float(np.prod(span.astype(np.float64))) < 2.0**62:  # one number per cell: several times faster to sort
        key = (grid[:, 0] * span[1] + grid[:, 1]) * span[2] + grid[:, 2]
        _, first, index = np.unique(key, return_index=True, return_inverse=True)
    else:
        _, first, index = np.unique(grid, axis=0, return_index=True, return_inverse=True)
    return np.asarray(first, dtype=np.int64), np.asarray(index, dtype=np.int64).ravel()


def welded(points: FloatArray, triangles: IntArray, *, height: float) -> Welded:
    """`points` and `triangles` with vertices closer than WELD of the height made one (`weld`), the faces
    that collapse dropped (bone heat's copy of the mesh has none)."""
    if not len(points):
        empty = np.zeros(0, dtype=np.int64)
        return Welded(points, np.zeros((0, 3), dtype=np.int64), empty, empty)
    first, index = weld(points, WELD * height)
    faces = index[triangles] if len(triangles) else np.zeros((0, 3), dtype=np.int64)
    faces = faces[(faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])]
    return Welded(points[first], faces, index, shells(len(first), faces)[index])


# Blender's bone heat (its meshlaplacian) counts a bone as a vertex's nearest within this fraction of the
# nearest one's distance.
HEAT_TIE = 1e-4


def heat_rays(weld: Welded, heads: FloatArray, tails: FloatArray) -> tuple[IntArray, FloatArray]:
    """The sight lines bone heat tests on a welded copy: (vertex, end) pairs, each welded vertex of a triangle
    to the nearest point of each bone that is its nearest by bone heat's own distance (the distance grows as
    the bone lies behind the vertex's normal, up to 2000 times at its back). A vertex sees a bone when no
    triangle facing it lies on that line (`blind`)."""
    points, faces = weld.points, weld.faces
    normals = np.cross(points[faces[:, 1]] - points[faces[:, 0]], points[faces[:, 2]] - points[faces[:, 0]])
    normals /= np.maximum(np.linalg.norm(normals, axis=1), 1e-30)[:, None]
    summed = np.zeros_like(points)
    for corner in range(3):
        np.add.at(summed, faces[:, corner], normals)
    summed /= np.maximum(np.linalg.norm(summed, axis=1), 1e-30)[:, None]
    rows = np.unique(faces)
    axis = tails - heads
    length_sq = np.maximum(np.einsum("ij,ij->i", axis, axis), 1e-12)
    distance = np.empty((len(rows), len(heads)))
    for b in range(len(heads)):  # bone by bone, as segment_distances, to keep the memory at a few (n, 3)
        rel = points[rows] - heads[b]
        away = rel - np.outer(np.clip(rel @ axis[b] / length_sq[b], 0.0, 1.0), axis[b])
        length = np.sqrt(np.einsum("ij,ij->i", away, away))
        cosine = np.einsum("ij,ij->i", away, summed[rows]) / np.maximum(length, 1e-30)
        distance[:, b] = length / (0.5 * (cosine + 1.001))
    vertex, bone = np.nonzero(distance <= distance.min(axis=1, keepdims=True) * (1.0 + HEAT_TIE))
    rel = points[rows[vertex]] - heads[bone]
    t = np.clip(np.einsum("ij,ij->i", rel, axis[bone]) / length_sq[bone], 0.0, 1.0)
    return rows[vertex], heads[bone] + t[:, None] * axis[bone]


# Blender's bone heat gives a triangle whose edges' cross product is no longer than this (its float epsilon,
# in the rig frame's metres) no weight in its Laplacian.
HEAT_FLAT = 1.1920929e-07


def flat(points: FloatArray, faces: IntArray) -> BoolArray:
    """Per triangle, whether bone heat's Laplacian ignores it (HEAT_FLAT): a vertex with only such triangles
    and no sight of its bone is an empty row of its linear system, which fails the whole solve (Seed-san's
    head, where the artist collapsed hidden geometry to a point)."""
    a, b, c = (points[faces[:, i]] for i in range(3))
    return np.asarray(np.linalg.norm(np.cross(b - a, c - a), axis=1) <= HEAT_FLAT)


def blind(weld: Welded, sees: BoolArray, vertices: IntArray) -> BoolArray:
    """Per welded vertex, whether its welded shell sees no bone: `sees` says, for each ray of `heat_rays`
    (`vertices`: its vertex), whether it reached its bone. Such a shell puts no heat into bone heat's linear
    system: a strap or a bow lying on the skin, a garment over it. The system is singular on it, and its
    factorisation may fail for the whole mesh (Godette's body with the automatic skeleton, 12 such shells of
    4-17 vertices; with the artist's it happened to pass)."""
    shell = np.zeros(len(weld.points), dtype=np.int64)
    shell[weld.index] = weld.shell
    seeing = np.zeros(int(shell.max(initial=0)) + 1, dtype=bool)
    seeing[shell[vertices[sees]]] = True
    in_face = np.zeros(len(weld.points), dtype=bool)
    in_face[weld.faces.ravel()] = True
    return np.asarray(in_face & ~seeing[shell])


def shell_votes(labels: IntArray, nearest: IntArray, bones: int) -> tuple[IntArray, BoolArray, IntArray]:
    """Per shell (the distinct `labels`, in order): the bone most of its vertices have as their `nearest` (the
    first on a tie), and whether all of them do; with each vertex's shell (its row). The vote behind
    `rigid_shells` (a hard shell in a skinned mesh rides wholly on one bone: only a closed, small one, and only
    when every vertex of it lies nearest that bone); a kit-bashed body's parts go by where each sits instead
    (`rigid.shell_bones`)."""
    _, inverse = np.unique(labels, return_inverse=True)
    inverse = np.asarray(inverse, dtype=np.int64).ravel()
    counts = np.zeros((int(inverse.max(initial=-1)) + 1, bones), dtype=np.int64)
    np.add.at(counts, (inverse, nearest), 1)
    unanimous = counts.max(axis=1, initial=0) == np.bincount(inverse, minlength=len(counts))
    return np.asarray(counts.argmax(axis=1), dtype=np.int64), np.asarray(unanimous), inverse


def boxes(points: FloatArray, rows: IntArray, count: int) -> tuple[FloatArray, FloatArray]:
    """The lowest and highest corner of each of `count` groups of `points` (`rows`: each point's group)."""
    low = np.full((count, 3), np.inf)
    high = np.full((count, 3), -np.inf)
    np.minimum.at(low, rows, points)
    np.maximum.at(high, rows, points)
    return low, high


def open_shells(weld: Welded) -> IntArray:
    """The labels (as in `weld.shell`) of the welded shells with an edge that is not between exactly two
    triangles: a border, or more than two faces meeting."""
    if not len(weld.faces):
        return np.zeros(0, dtype=np.int64)
    shell_of = np.zeros(len(weld.points), dtype=np.int64)  # per welded vertex
    shell_of[weld.index] = weld.shell
    faces = weld.faces
    edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    # One number per edge: several times faster to count than rows (np.unique's axis=0 sorts a structured view).
    count = len(weld.points)
    unique, uses = np.unique(edges[:, 0] * count + edges[:, 1], return_counts=True)
    border = unique[uses != 2]
    return np.asarray(np.unique(shell_of[np.concatenate([border // count, border % count])]), dtype=np.int64)


def rigid_shells(points: FloatArray, weld: Welded, nearest: IntArray, *, height: float) -> IntArray:
    """Per vertex of `points` (welded as `weld`), the bone (index) its shell rides on wholly, or -1 where it is
    skinned: a shell rides on one bone when it is closed (every edge between exactly two triangles, seams
    welded), at most RIGID_SHELL of the height across, and every vertex of it has that bone as its `nearest`."""
    out = np.full(len(points), -1, dtype=np.int64)
    if not len(weld.faces):
        return out
    shell_of = np.zeros(len(weld.points), dtype=np.int64)  # per welded vertex
    shell_of[weld.index] = weld.shell
    roots = np.unique(weld.shell)
    _, unanimous, inverse = shell_votes(weld.shell, nearest, int(nearest.max()) + 1)
    low, high = boxes(points, inverse, len(roots))
    faced = np.isin(roots, shell_of[weld.faces.ravel()])
    hard = (
        faced
        & ~np.isin(roots, open_shells(weld))
        & (np.linalg.norm(high - low, axis=1) <= RIGID_SHELL * height)
        & unanimous
    )
    rows = hard[inverse]
    out[rows] = nearest[rows]
    return out


def fused_props(
    points: FloatArray, triangles: IntArray, nearest: IntArray, *, beyond: float, height: float
) -> IntArray:
    """Per vertex (in the rig frame), the bone a prop fused to the body rides on wholly, or -1: what lies more
    than `beyond` behind or in front of the plane of the body (y = 0), above the feet, in pieces joined by
    triangles; each piece rides on the bone most of the body's vertices where it joins them lie nearest
    (`nearest`: each vertex's nearest bone), or most of its own when it joins none. Seed-san's robot arm,
    fused to her back, reaches out past her left hand: its nearest bones there are her left arm's, and it
    would follow her hand; it hangs from her back, and rides on her chest as her artist binds it."""
    out = np.full(len(points), -1, dtype=np.int64)
    out_of_plane = (np.abs(points[:, 1]) > beyond) & (points[:, 2] > 0.1 * height)
    if not out_of_plane.any():
        return out
    label = shells(len(points), triangles[out_of_plane[triangles].all(axis=1)])
    piece = np.full(len(points), -1, dtype=np.int64)
    roots, piece[out_of_plane] = np.unique(label[out_of_plane], return_inverse=True)
    bones = int(nearest.max()) + 1
    # The body's vertices where each piece joins it: those sharing a triangle with one of its vertices.
    edges = np.concatenate([triangles[:, [a, b]] for a in range(3) for b in range(3) if a != b])
    joins = edges[out_of_plane[edges[:, 0]] & ~out_of_plane[edges[:, 1]]]
    pairs = np.unique(np.stack([piece[joins[:, 0]], joins[:, 1]], axis=1), axis=0)
    votes = np.zeros((len(roots), bones), dtype=np.int64)
    np.add.at(votes, (pairs[:, 0], nearest[pairs[:, 1]]), 1)
    alone = np.flatnonzero(votes.sum(axis=1) == 0)
    rows = np.flatnonzero(np.isin(piece, alone))
    np.add.at(votes, (piece[rows], nearest[rows]), 1)
    out[out_of_plane] = votes.argmax(axis=1)[piece[out_of_plane]]
    return out


def separate_parts(parts: Sequence[MeshPart], height: float) -> list[str]:
    """The parts (in the rig frame) that are no piece of the body, as the placement tells them apart: small
    accessories and props standing off to one side (a robot arm on the back). Each rides wholly on the bone
    of the body where it touches it; kept out of bone heat, whose solve a part that sees no bone breaks."""
    parts = [p for p in parts if len(p.vertices) and len(p.triangles)]
    if not parts:
        return []
    try:
        body = frame.choose_body(parts, min(float(p.vertices[:, 2].min()) for p in parts), height)
    except NotHumanoidError:
        return []
    return [p.name for i, p in enumerate(parts) if i not in body]


@dataclass(frozen=True)
class HeatReport:
    """What bone heat left out of one mesh: its unweighted vertices, and the shells it left out entirely."""

    vertices: int
    unweighted: int
    shells: int
    empty_shells: int

    @property
    def failed(self) -> bool:
        """Nothing weighted: a bone's solve failed, or the mesh was too small (shells left bare are `unskinned`)."""
        return self.vertices > 0 and self.unweighted == self.vertices


def heat_report(weights: FloatArray, labels: IntArray) -> HeatReport:
    empty = weights.sum(axis=1) < EMPTY
    roots, inverse = np.unique(labels, return_inverse=True)
    size = np.bincount(inverse, minlength=len(roots))
    bare = np.bincount(inverse, weights=empty.astype(np.float64), minlength=len(roots))
    return HeatReport(len(weights), int(empty.sum()), len(roots), int((bare == size).sum()))


def unskinned(
    heat: FloatArray, usable: FloatArray, labels: IntArray, points: FloatArray, heads: FloatArray
) -> tuple[BoolArray, BoolArray]:
    """Which vertices do not keep their own bone heat (`heat`; `usable`: the part of it each may follow;
    `labels`: their shells; `points`: where they are; `heads`: the bones' joints), as (carried, hanging).
    Carried take other weights (the voxel proxy's): vertices left without any, and every vertex of a shell
    where those are most (a shell lying on the skin that sees no bone through it: the eyes' and brows'
    shells in front of the face, a strap, a garment heat could not weigh). Hanging is a shell off the
    skeleton (no joint inside its box) most of whose heat lies on bones it may not follow: it hangs off the
    body and saw a far bone past it (Godette's backpack, from her hips to her shoulders, the neck); it rides
    wholly on the bone where it touches the skin."""
    empty = usable.sum(axis=1) < EMPTY
    masked = empty & (heat.sum(axis=1) >= EMPTY)
    roots, inverse = np.unique(labels, return_inverse=True)
    size = np.bincount(inverse)
    low, high = boxes(points, inverse, len(roots))
    inside = ((heads[None] >= low[:, None]) & (heads[None] <= high[:, None])).all(axis=2).any(axis=1)
    hanging = ((np.bincount(inverse, weights=masked.astype(np.float64)) / size > 0.5) & ~inside)[inverse]
    bare = (np.bincount(inverse, weights=empty.astype(np.float64)) / size > 0.5)[inverse]
    return np.asarray((empty | bare) & ~hanging), np.asarray(hanging)


def proxy_spared(heat: FloatArray, usable: FloatArray, weld: Welded) -> BoolArray:
    """Which vertices of the only skinned mesh the voxel proxy could give nothing: those bone heat weighed
    only for bones they may not follow (`heat` weighs them, `usable`, the part of it they may follow, does
    not), on the mesh's largest welded shell when that shell is closed (a generator's or a scan's fused
    body). The proxy is that same surface remeshed (the skinned meshes joined, voxel-remeshed, their largest
    shell kept): its bone heat sees the bones the mesh's own did, and they go to their nearest allowed bone
    without it. (A fused 30k-vertex chibi: 860 vertices under its head's overhang lie nearest the upper
    arms, and both heats put them on the head.)"""
    out = (usable.sum(axis=1) < EMPTY) & (heat.sum(axis=1) >= EMPTY)
    if not out.any():
        return np.asarray(out)
    roots, sizes = np.unique(weld.shell, return_counts=True)
    largest = roots[sizes.argmax()]
    if largest in open_shells(weld):
        return np.zeros(len(out), dtype=bool)
    return np.asarray(out & (weld.shell == largest))


def interpolated(weights: FloatArray, corners: IntArray, points: FloatArray, found: FloatArray) -> FloatArray:
    """Weights carried from a surface to other points: each point gets the weights at `found` (its nearest
    point on the surface, on the triangle whose vertex indices are `corners`, (N, 3)), interpolated
    barycentrically from that triangle's vertices' `weights` (V, B). `points` are the surface's vertices."""
    a, b, c = (points[corners[:, i]] for i in range(3))
    ab, ac, ap = b - a, c - a, found - a
    d00, d01, d11 = (ab * ab).sum(1), (ab * ac).sum(1), (ac * ac).sum(1)
    d20, d21 = (ap * ab).sum(1), (ap * ac).sum(1)
    denominator = d00 * d11 - d01 * d01
    degenerate = np.abs(denominator) < 1e-20
    denominator = np.where(degenerate, 1.0, denominator)
    v = np.where(degenerate, 0.0, (d11 * d20 - d01 * d21) / denominator)
    w = np.where(degenerate, 0.0, (d00 * d21 - d01 * d20) / denominator)
    bary = np.clip(np.stack([1.0 - v - w, v, w], axis=1), 0.0, 1.0)
    bary /= bary.sum(axis=1, keepdims=True)
    return np.asarray(np.einsum("nk,nkb->nb", bary, weights[corners]))


def hops(parents: Sequence[int | None]) -> IntArray:
    """(B, B) steps between every two bones along the skeleton (parents by index, parents first)."""
    count = len(parents)
    neighbours: list[list[int]] = [[] for _ in range(count)]
    for child, parent in enumerate(parents):
        if parent is not None:
            neighbours[child].append(parent)
            neighbours[parent].append(child)
    out = np.full((count, count), count + 1, dtype=np.int64)
    for start in range(count):
        out[start, start], frontier, step = 0, [start], 0
        while frontier:
            step += 1
            frontier = [n for b in frontier for n in neighbours[b] if out[start, n] > step]
            out[start, frontier] = step
    return out


def allowed(
    points: FloatArray,
    heads: FloatArray,
    tails: FloatArray,
    parents: Sequence[int | None],
    sides: IntArray,
    *,
    height: float,
    nearest: IntArray | None = None,
) -> BoolArray:
    """(N, B): may vertex n follow bone b? Only bones within REGION_HOPS of its nearest bone, only bones of
    its own side of the mid-plane x=0 (sides: +1 the avatar's left, +x; -1 its right; 0 the middle), and
    never a bone of the other side than its nearest bone's (near the mid-plane, where x alone does not
    decide: an inner thigh at the crotch never follows the other thigh). `nearest`: each point's nearest bone,
    when the caller has it already."""
    if nearest is None:
        nearest = segment_distances(points, heads, tails).argmin(axis=1)
    mask = hops(parents)[nearest] <= REGION_HOPS
    mask &= sides[nearest][:, None] * sides[None, :] >= 0
    margin = MID_PLANE * height
    mask[points[:, 0] < -margin] &= sides != 1
    mask[points[:, 0] > margin] &= sides != -1
    return np.asarray(mask)


def finished(raw: FloatArray, mask: BoolArray, points: FloatArray, heads: FloatArray, tails: FloatArray) -> FloatArray:
    """The weights to write: `raw` where `mask` allows, at most MAX_INFLUENCES per vertex, each row summing to
    exactly 1 in steps of 1/1000; a vertex left with none goes wholly to its nearest allowed bone."""
    weights = np.where(mask, np.clip(raw, 0.0, None), 0.0)
    rows, kept = limited(weights, MAX_INFLUENCES)
    weights[rows] = kept
    total = weights.sum(axis=1)
    empty = np.nonzero(total < EMPTY)[0]
    if len(empty):
        distance = np.where(mask[empty], segment_distances(points[empty], heads, tails), np.inf)
        weights[empty] = 0.0
        weights[empty, distance.argmin(axis=1)] = 1.0
        total[empty] = 1.0
    return quantized(weights / total[:, None])
