"""Proof that a quantized file shows the same avatar as the file it was made from, within stated bounds.

Both files are read as a loader reads them (integers dequantized as glTF says, sparse values applied) and
compared where a viewer would see a difference: every vertex placed in world space as the rest pose skins
it, with no morph and with each morph target at weight 1 (the grid's fold into the inverse bind matrices
is undone by the skinning itself, so a wrong fold shows here); normals and tangents by angle; texture
coordinates and skin weights by value; morphed normals (with each target at weight 1) by angle too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from ..accessors import accessor_array, node_matrix, sparse_values
from .reorder import VertexOrder

# On a 2 m avatar, 0.5 mm: the bound the web presets promise for positions, as a share of the avatar's height.
POSITION_SHARE: Final = 0.5e-3 / 2.0
NORMAL_DEGREES: Final = 1.0
UV_ERROR: Final = 1.0 / 8192  # half a texel of a 4096² texture: the bound where no texture's size is known
WEIGHT_ERROR: Final = 1e-4
_NORMALIZED: Final = {5120: 127.0, 5121: 255.0, 5122: 32767.0, 5123: 65535.0}

Floats = npt.NDArray[np.float64]


@dataclass
class GeometryCheck:
    position_m: float = 0.0  # the largest distance between the files' skinned, morphed vertices
    height_m: float = 0.0  # the avatar's height, which the position bound is a share of
    normal_degrees: float = 0.0
    uv: float = 0.0
    uv_bound: float = UV_ERROR
    weight: float = 0.0
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "position_mm": round(self.position_m * 1000, 4),
            "position_bound_mm": round(self.height_m * POSITION_SHARE * 1000, 4),
            "normal_degrees": round(self.normal_degrees, 3),
            "uv": float(f"{self.uv:.3g}"),
            "uv_bound": float(f"{self.uv_bound:.3g}"),
            "weight": float(f"{self.weight:.3g}"),
        }


@dataclass(frozen=True)
class _File:
    document: dict[str, Any]
    binary: bytes
    order: VertexOrder | None = None  # vertex rows read in this order (values() is for vertex data then)
    read: dict[int, Floats] = field(default_factory=dict)  # values already read (morph loops reread the base)

    def values(self, index: int) -> Floats:
        if index not in self.read:
            values = accessor_array(self.document, self.binary, index)
            # Rows moved before the conversion to float64: the copy is of the smaller stored type.
            self.read[index] = _floats(self.document["accessors"][index], _in_order(values, self.order))
        return self.read[index]

    def moved(self, index: int) -> tuple[npt.NDArray[np.intp], Floats]:
        """A morph target's rows that move (not zero), ascending in this reading's vertex order, and their
        deltas. A sparse target without dense data is read from its substitution alone: the VRM Add-on's
        expressions move a few hundred of an avatar's vertices, and reading them densely (200k rows per
        target and file, in float64) was most of the check's time."""
        accessor = self.document["accessors"][index]
        if "bufferView" not in accessor and accessor.get("sparse"):
            indices, stored = sparse_values(self.document, self.binary, index)
            if np.all(indices[1:] > indices[:-1]):  # glTF's rule; otherwise read as a loader resolves repeats
                rows = indices.astype(np.intp) if self.order is None else self.order.new[indices]
                deltas = _floats(accessor, stored)
                kept = np.flatnonzero(nonzero_rows(deltas))
                ascending = kept[np.argsort(rows[kept], kind="stable")]
                return rows[ascending], deltas[ascending]
        values = self.values(index)
        rows = np.flatnonzero(nonzero_rows(values))
        return rows, values[rows]


def _in_order(values: npt.NDArray[Any], order: VertexOrder | None) -> npt.NDArray[Any]:
    return values if order is None else values[order.old]


def _floats(accessor: dict[str, Any], values: npt.NDArray[Any]) -> Floats:
    """Stored values as a loader reads them (normalized integers dequantized as glTF says)."""
    floats: Floats = values.astype(np.float64)
    if accessor.get("normalized"):
        floats = np.maximum(floats / _NORMALIZED[accessor["componentType"]], -1.0)
    return floats


def uv_bound(texture_side: int | None) -> float:
    """Half a texel of the file's largest texture (`texture_side` texels across), and never less than
    UV_ERROR: how far a texture coordinate may move."""
    return max(UV_ERROR, 0.5 / texture_side) if texture_side else UV_ERROR


def compare(
    original: tuple[dict[str, Any], bytes],
    packed: tuple[dict[str, Any], bytes],
    orders: Mapping[int, Any] | None = None,
    texture_side: int | None = None,
) -> GeometryCheck:
    """How far the packed file's geometry is from the original's; `problems` names what exceeds a bound.
    `orders` maps a vertex accessor whose rows were renumbered to its renumbering (`old`: each new row's
    original vertex): each packed vertex is compared with the vertex it was. `texture_side`: the largest
    texture's width or height, which sets the texture coordinates' bound (uv_bound)."""
    a, b = _File(*original), _File(*packed)
    orders = orders or {}
    check = GeometryCheck()
    worlds = _worlds(a.document), _worlds(b.document)
    lows: list[Floats] = []
    highs: list[Floats] = []
    for node_index, node in enumerate(a.document.get("nodes", [])):
        if "mesh" not in node or node_index not in worlds[0]:
            continue
        places = _places(a, node_index, worlds[0]), _places(b, node_index, worlds[1])
        for pa, pb in zip(
            a.document["meshes"][node["mesh"]]["primitives"],
            b.document["meshes"][node["mesh"]]["primitives"],
            strict=True,
        ):
            order = orders.get(pa.get("attributes", {}).get("POSITION", -1))
            _compare_primitive(_Pair(a, b, pa, pb, places, order), check, lows, highs)
    if lows:
        check.height_m = float(np.max(highs, axis=0)[1] - np.min(lows, axis=0)[1])
    bound = check.height_m * POSITION_SHARE
    if check.position_m > bound:
        check.problems.append(f"vertices moved up to {check.position_m * 1000:.3g} mm (bound {bound * 1000:.3g} mm)")
    if check.normal_degrees > NORMAL_DEGREES:
        check.problems.append(f"normals turned up to {check.normal_degrees:.3g}° (bound {NORMAL_DEGREES:g}°)")
    check.uv_bound = uv_bound(texture_side)
    if check.uv > check.uv_bound:
        check.problems.append(f"texture coordinates moved up to {check.uv:.3g} (bound {check.uv_bound:.3g})")
    if check.weight > WEIGHT_ERROR:
        check.problems.append(f"skin weights changed up to {check.weight:.3g} (bound {WEIGHT_ERROR:g})")
    return check


@dataclass
class _Pair:
    """One primitive in both files, with the placements of its node's joints in each."""

    a: _File
    b: _File
    pa: dict[str, Any]
    pb: dict[str, Any]
    places: tuple[Floats, Floats]
    order: VertexOrder | None  # how the packed primitive's vertices were renumbered


def _compare_primitive(pair: _Pair, check: GeometryCheck, lows: list[Floats], highs: list[Floats]) -> None:
    # The original's vertex accessors read in the packed file's vertex order: row i is the same vertex in both.
    a = _File(pair.a.document, pair.a.binary, pair.order)
    b, pa, pb, places = pair.b, pair.pa, pair.pb, pair.places
    attributes_a, attributes_b = pa.get("attributes", {}), pb.get("attributes", {})
    if "POSITION" not in attributes_a:
        return
    blends = _blend(a, attributes_a, places[0]), _blend(b, attributes_b, places[1])
    base_a, base_b = a.values(attributes_a["POSITION"]), b.values(attributes_b["POSITION"])
    shown_a = _place(blends[0], base_a)
    lows.append(shown_a.min(axis=0))
    highs.append(shown_a.max(axis=0))
    check.position_m = max(check.position_m, _distance(shown_a, _place(blends[1], base_b)))
    # A morph target at weight 1, on the rows it moves in either file: a row it moves in neither shows the
    # base vertex, measured above (positions) and below (normals), so the largest error is the same.
    for ta, tb in zip(pa.get("targets", []), pb.get("targets", []), strict=True):
        if "POSITION" in ta:
            rows, da, db = _moved(a, b, ta["POSITION"], tb["POSITION"])
            morphed_a = _place(blends[0][rows], base_a[rows] + da)
            morphed_b = _place(blends[1][rows], base_b[rows] + db)
            check.position_m = max(check.position_m, _distance(morphed_a, morphed_b))
        if "NORMAL" in ta and "NORMAL" in attributes_a:
            # The morphed normal as a loader shades it: the base normal plus the target's change.
            rows, da, db = _moved(a, b, ta["NORMAL"], tb["NORMAL"])
            morphed_a = a.values(attributes_a["NORMAL"])[rows] + da
            morphed_b = b.values(attributes_b["NORMAL"])[rows] + db
            check.normal_degrees = max(check.normal_degrees, largest_angle(morphed_a, morphed_b))
    packed_indices = b.values(pb["indices"]) if "indices" in pb else None
    if packed_indices is not None and pair.order is not None:  # in the original's vertex numbers
        packed_indices = pair.order.old[packed_indices.astype(np.intp)].astype(np.float64)
    if "indices" in pa and not _same_triangles(pair.a.values(pa["indices"]), packed_indices, pa):
        check.problems.append("a primitive's triangles are not the same ones")
    for name in ("NORMAL", "TANGENT"):
        if name in attributes_a:
            va, vb = a.values(attributes_a[name])[:, :3], b.values(attributes_b[name])[:, :3]
            check.normal_degrees = max(check.normal_degrees, largest_angle(va, vb))
    for name, index in attributes_a.items():
        if name.startswith("TEXCOORD_"):
            check.uv = max(check.uv, _largest(a.values(index) - b.values(attributes_b[name])))
    if "JOINTS_0" in attributes_a and "WEIGHTS_0" in attributes_a:
        check.weight = max(check.weight, _influence_change(a, attributes_a, b, attributes_b))


def _influences(file: _File, attributes: dict[str, Any]) -> tuple[npt.NDArray[np.int64], Floats]:
    """Each vertex's joints and weights over every joint/weight set (vertices by 4 per set)."""
    joints: list[npt.NDArray[np.int64]] = []
    weights: list[Floats] = []
    sets = 0
    while f"JOINTS_{sets}" in attributes and f"WEIGHTS_{sets}" in attributes:
        joints.append(file.values(attributes[f"JOINTS_{sets}"]).astype(np.int64))
        weights.append(file.values(attributes[f"WEIGHTS_{sets}"]))
        sets += 1
    return np.concatenate(joints, axis=1), np.concatenate(weights, axis=1)


def _influence_change(a: _File, attributes_a: dict[str, Any], b: _File, attributes_b: dict[str, Any]) -> float:
    """The largest change of the weight a vertex gives one joint (a joint named twice counts once, summed):
    the files may list a vertex's joint/weight pairs in different orders, and a pair of weight 0 names no
    joint a loader would move the vertex with. Each joint either file names is looked at."""
    joints_a, weights_a = _influences(a, attributes_a)
    joints_b, weights_b = _influences(b, attributes_b)
    largest = 0.0
    for named in (joints_a, joints_b):
        change = _given(joints_a, weights_a, named) - _given(joints_b, weights_b, named)
        largest = max(largest, _largest(change))
    return largest


def _given(joints: npt.NDArray[np.int64], weights: Floats, named: npt.NDArray[np.int64]) -> Floats:
    """The weight each vertex gives each joint of `named` (same rows), summed over its pairs."""
    given = np.zeros(named.shape)
    for k in range(named.shape[1]):
        for pair in range(joints.shape[1]):
            given[:, k] += (joints[:, pair] == named[:, k]) * weights[:, pair]
    return given


def changed_rows(a: Floats, b: Floats) -> npt.NDArray[np.intp]:
    """The rows where either of two morph targets' deltas is not zero (elsewhere both show the base)."""
    return np.flatnonzero(nonzero_rows(a) | nonzero_rows(b))


def nonzero_rows(values: Floats) -> npt.NDArray[np.bool_]:
    """Whether each row has a component that is not zero (column by column: numpy's `any` along a row of
    three is several times slower)."""
    found: npt.NDArray[np.bool_] = values[:, 0] != 0.0
    for column in range(1, values.shape[1]):
        found |= values[:, column] != 0.0
    return found


def _moved(a: _File, b: _File, index_a: int, index_b: int) -> tuple[npt.NDArray[np.intp], Floats, Floats]:
    """The rows a morph target moves in either file (ascending), and each file's deltas on them."""
    rows_a, moved_a = a.moved(index_a)
    rows_b, moved_b = b.moved(index_b)
    rows = np.union1d(rows_a, rows_b)
    deltas = []
    for found, moved in ((rows_a, moved_a), (rows_b, moved_b)):
        delta = np.zeros((len(rows), moved.shape[1]))
        delta[np.searchsorted(rows, found)] = moved
        deltas.append(delta)
    return rows, deltas[0], deltas[1]


def _same_triangles(a: Floats, b: Floats | None, primitive: dict[str, Any]) -> bool:
    """The same triangles, each with its corners in the same winding, in any order (indices of other
    primitive modes in the same order)."""
    if b is None:
        return False
    if primitive.get("mode", 4) != 4:
        return bool(np.array_equal(a, b))
    span = int(max(a.max(initial=0.0), b.max(initial=0.0))) + 1
    return bool(np.array_equal(_canonical(a, span), _canonical(b, span)))


def _canonical(indices: Floats, span: int) -> npt.NDArray[np.int64]:
    """The triangles, each rotated to start at its smallest corner, sorted: as one integer key per triangle
    where three vertex numbers below `span` fit in 63 bits (a tenth of the time of sorting rows), else as
    rows."""
    corners = indices.reshape(-1, 3).astype(np.int64)
    start = np.argmin(corners, axis=1)
    rotated = np.take_along_axis(corners, (start[:, np.newaxis] + np.arange(3)) % 3, axis=1)
    if span < 1 << 21:
        keys: npt.NDArray[np.int64] = np.sort((rotated[:, 0] * span + rotated[:, 1]) * span + rotated[:, 2])
        return keys
    ordered: npt.NDArray[np.int64] = rotated[np.lexsort(rotated.T[::-1])]
    return ordered


def _largest(values: Floats) -> float:
    return float(np.abs(values).max(initial=0.0))


def _distance(a: Floats, b: Floats) -> float:
    return float(np.linalg.norm(a - b, axis=1).max(initial=0.0))


def largest_angle(a: Floats, b: Floats) -> float:
    """The largest angle between matching vectors, in degrees (zero vectors left out)."""
    return float(angles(a, b).max(initial=0.0))


def angles(a: Floats, b: Floats) -> Floats:
    """Each pair of matching vectors' angle, in degrees (0 where either is a zero vector)."""
    lengths = _lengths(a) * _lengths(b)
    usable = lengths > 1e-6
    cosines = np.ones(len(lengths))
    cosines[usable] = np.einsum("ij,ij->i", a[usable], b[usable]) / lengths[usable]
    found: Floats = np.degrees(np.arccos(np.clip(cosines, -1.0, 1.0)))
    return found


def _lengths(vectors: Floats) -> Floats:
    """Each row's length, summed column by column (the same sums, in the same order, as
    np.linalg.norm(axis=1), a quarter of its time on rows of three)."""
    squares: Floats = vectors[:, 0] * vectors[:, 0]
    for column in range(1, vectors.shape[1]):
        squares += vectors[:, column] * vectors[:, column]
    lengths: Floats = np.sqrt(squares)
    return lengths


def _worlds(document: dict[str, Any]) -> dict[int, Floats]:
    """Every node of the default scene -> its world transform (column vectors)."""
    nodes = document.get("nodes", [])
    scene = document.get("scenes", [{}])[document.get("scene", 0)]
    world: dict[int, Floats] = {}
    pending: list[tuple[int, Floats]] = [(n, np.eye(4)) for n in scene.get("nodes", [])]
    while pending:
        index, above = pending.pop()
        if index in world:
            continue
        world[index] = above @ node_matrix(nodes[index])
        pending.extend((child, world[index]) for child in nodes[index].get("children", []))
    return world


def _places(file: _File, node_index: int, world: dict[int, Floats]) -> Floats:
    """(joints, 4, 4): each joint's jointWorld · inverseBind for a skinned node, the node's world otherwise."""
    node = file.document["nodes"][node_index]
    if "skin" not in node:
        return world[node_index][np.newaxis]
    skin = file.document["skins"][node["skin"]]
    joints = skin["joints"]
    if "inverseBindMatrices" in skin:
        binds = file.values(skin["inverseBindMatrices"]).reshape(len(joints), 4, 4).transpose(0, 2, 1)
    else:
        binds = np.broadcast_to(np.eye(4), (len(joints), 4, 4))
    places: Floats = np.stack([world[j] for j in joints]) @ binds
    return places


def _blend(file: _File, attributes: dict[str, Any], places: Floats) -> Floats:
    """(vertices, 3, 4): each vertex's weighted sum of its joints' placements (the node's for a rigid one)."""
    count = file.document["accessors"][attributes["POSITION"]]["count"]
    if len(places) == 1 and "JOINTS_0" not in attributes:
        return np.broadcast_to(places[0][:3], (count, 3, 4))
    blended = np.zeros((count, 12))
    rows = places[:, :3].reshape(len(places), 12)
    sets = 0
    while f"JOINTS_{sets}" in attributes:
        joints = file.values(attributes[f"JOINTS_{sets}"]).astype(np.intp)
        weights = file.values(attributes[f"WEIGHTS_{sets}"])
        # One influence at a time, summed in order: the same sums as one einsum over a gathered
        # (vertices, 4, 12) array, without that array (77 MB at 200k vertices), in two thirds of the time.
        influence = weights[:, :1] * rows[joints[:, 0]]
        for k in range(1, joints.shape[1]):
            influence += weights[:, k : k + 1] * rows[joints[:, k]]
        blended = influence if sets == 0 else blended + influence
        sets += 1
    return blended.reshape(count, 3, 4)


def _place(blend: Floats, positions: Floats) -> Floats:
    placed: Floats = np.einsum("nij,nj->ni", blend[:, :, :3], positions) + blend[:, :, 3]
    return placed
