"""KHR_mesh_quantization: vertex attributes stored as small integers, every accessor laid out anew.

What is stored how, and what it costs (the file states it, `tolerances` below, and the export proves it):
- skinned positions: 16-bit unsigned integers on one uniform 14-bit grid per skin (16383 steps over the
  skin's largest extent, as gltfpack's default), the grid's scale and offset folded into the skin's inverse
  bind matrices (a loader ignores a skinned mesh's node transform, and jointWorld · inverseBind · (scale · q
  + offset) is the original vertex). On a 2 m avatar a step is 0.12 mm, the error on the grid at most
  0.11 mm (half a step on each axis), a little more once skinned (the folded binds are float32). Morph
  position deltas are 16-bit signed on the same grid (the fold scales them too). Meshes without a skin
  keep float positions (their node transform may be shared with children and VRM references: it is never
  rewritten).
- normals and tangents: meshoptimizer's octahedral filter at 8 bits (0.73° at most), decoded into the
  4-byte rows KHR_mesh_quantization reads (normalized bytes); morph normal deltas 8-bit normalized where
  every morphed normal stays within 0.9° of the original's, else 16-bit; deltas past 1 stay floats through
  meshoptimizer's exponential filter (12 bits) where the same holds.
- texture coordinates within 0..1: 16-bit normalized, on the coarsest grid that keeps them within half a
  texel of the file's largest image (uv_encoding; all 16 bits where no size is known or a texture may be
  tiled); others stay float.
- weights: 16-bit normalized, rounded so that each vertex's weights still sum to exactly 1; 8-bit where
  8 bits hold every weight within 1e-4 (rigid parts: 0 and 1). 8 bits everywhere would move a bent limb's
  vertices by up to a millimetre (measured on the demo in the test pose), twice the position bound. Each
  vertex's joint/weight pairs are listed by joint (_sorted_influences).
- vertices and triangles: renumbered in the order meshoptimizer's vertex cache and fetch optimizers give
  (reorder.py), every row of every vertex accessor moved with its vertex.
- accessors nothing reads: their entry kept (every index stays), their data dropped.
- joints, inverse bind matrices and everything else: unchanged values.
Morph targets stay sparse where they were (their sparse values are quantized) unless meshopt stores their
dense rows in fewer bytes (_denser), and dense where they were.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from .. import glb
from ..accessors import accessor_array
from . import geometry_check, meshopt_codec, reorder
from .layout import (
    ARRAY_BUFFER,
    COMPONENTS,
    ELEMENT_ARRAY_BUFFER,
    Layout,
    declare,
    padded,
    strided,
    unused_accessors,
    vertex_accessors,
    view_holders,
)

BYTE, UNSIGNED_BYTE, SHORT, UNSIGNED_SHORT, FLOAT = 5120, 5121, 5122, 5123, 5126
EXTENSION: Final = "KHR_mesh_quantization"
POSITION_STEPS: Final = 16383  # a 14-bit grid over the skin's largest extent (as gltfpack's default)
_INDEX_TYPES: Final = {UNSIGNED_SHORT: "<u2", 5125: "<u4"}


@dataclass(frozen=True)
class Encoding:
    """How one accessor's values are stored: component type, normalized, and how floats become integers."""

    component: int
    normalized: bool
    dtype: str
    scale: float  # stored = round(value * scale)
    filter: str | None = None  # a meshopt filter that stores the values (then they are what it decodes to)
    steps: int = 0  # values first rounded to a grid of this many steps over 0..1 (0: none)


NORMAL: Final = Encoding(BYTE, True, "<i1", 127.0, "OCTAHEDRAL")  # rows of 4: x, y, z (and a tangent's w)
MORPH_NORMAL: Final = Encoding(SHORT, True, "<i2", 32767.0)
MORPH_NORMAL8: Final = Encoding(BYTE, True, "<i1", 127.0)  # where the morphed normals stay within the bound
# Deltas past 1 (a morph that turns normals over) stay floats, through the exponential filter: 12 bits.
MORPH_NORMAL_EXP: Final = Encoding(FLOAT, False, "<f4", 1.0, "EXPONENTIAL")
_EXP_BITS: Final = 12
# The share of the normal bound a morph's 8-bit normal deltas may take, on top of the base's octahedral turn.
_MORPH_NORMAL8_SHARE: Final = 0.9
UV: Final = Encoding(UNSIGNED_SHORT, True, "<u2", 65535.0)
_UV_BITS: Final = 16
WEIGHT: Final = Encoding(UNSIGNED_SHORT, True, "<u2", 65535.0)
WEIGHT8: Final = Encoding(UNSIGNED_BYTE, True, "<u1", 255.0)  # where 8 bits hold every weight within the bound


@dataclass(frozen=True)
class Grid:
    """One skin's position grid: value = offset + step · q."""

    offset: npt.NDArray[np.float64]
    step: float

    def matrix(self) -> npt.NDArray[np.float64]:
        matrix = np.eye(4)
        matrix[:3, :3] *= self.step
        matrix[:3, 3] = self.offset
        return matrix


@dataclass(frozen=True)
class QuantizeStats:
    accessors: int  # accessors stored as integers
    skins: int  # skins whose positions are on a grid
    position_step: float  # the largest grid step (model units); 0 without a grid
    orders: dict[int, reorder.VertexOrder]  # vertex accessor -> how its rows were renumbered
    filtered: dict[int, tuple[str, bytes]]  # view -> the meshopt filter its rows go through, and its input


def quantize(
    document: dict[str, Any], binary: bytes, *, attributes: bool = True, texture_side: int | None = None
) -> tuple[dict[str, Any], bytes, QuantizeStats]:
    """The document and BIN with every view laid out anew (one per accessor, vertex attributes strided to 4
    bytes, views nothing reads dropped) and, when `attributes`, vertex attributes quantized (texture
    coordinates to the grid uv_encoding gives for the largest texture, `texture_side` texels across);
    raises GlbLayoutError on a layout it does not know."""
    document = glb.copied(document)
    view_holders(document)  # refuses unknown view references before anything is rewritten
    source = _Source(document, binary)
    accessors: list[dict[str, Any]] = document.get("accessors", [])
    roles: dict[int, str] = {index: "vertex" for _name, index, _morph in vertex_accessors(document)}
    # One view per kind of vertex data (positions apart from weights...): the codec's runs stay alike.
    kinds = {index: f"morph {name}" if morph else name for name, index, morph in vertex_accessors(document)}
    for mesh in document.get("meshes", []):
        primitives = [p for p in mesh.get("primitives", []) if "indices" in p]
        roles |= {p["indices"]: "triangles" if p.get("mode", 4) == 4 else f"mode {p['mode']}" for p in primitives}
    encodings: dict[int, Encoding] = {}
    grids: dict[int, Grid] = {}
    gridded: dict[int, Grid] = {}
    if attributes:
        uv = uv_encoding(document, texture_side)
        for name, index, morph in vertex_accessors(document):
            _plan_attribute(source, encodings, name, index, morph=morph, uv=uv)
        grids, gridded = _plan_grids(source, encodings)
        _plan_morph_normals(source, encodings)
    order = reorder.plan(document, source.values) if attributes else reorder.Plan({}, {})
    replaced = _fold_grids(source, grids) | order.indices
    if attributes:
        replaced |= _sorted_influences(source)
    layout = Layout()
    unused = unused_accessors(document) if attributes else set()
    for index, accessor in enumerate(accessors):
        if index in unused:  # kept as an entry (indices stay), its data dropped: a loader reads zeros
            for key in ("bufferView", "byteOffset", "sparse", "min", "max"):
                accessor.pop(key, None)
            continue
        plan = _Plan(encodings.get(index), gridded.get(index), roles.get(index), kinds.get(index))
        plan = dataclasses.replace(plan, values=replaced.get(index), order=order.orders.get(index))
        _lay_out(source, index, accessor, plan, layout)
    for image in document.get("images", []):
        if "bufferView" in image:
            image["bufferView"], _offset = layout.add(source.view(image["bufferView"]))
    out = layout.binary()
    document["bufferViews"] = layout.views
    document["buffers"] = [{"byteLength": len(out)}]
    if encodings:
        declare(document, EXTENSION, required=True)
    step = max((g.step for g in grids.values()), default=0.0)
    filtered = {view: (name, bytes(rows)) for view, (name, rows) in layout.filtered.items()}
    return document, out, QuantizeStats(len(encodings), len(grids), step, order.orders, filtered)


@dataclass(frozen=True)
class _Source:
    """The document being rewritten and the BIN its (old) views still describe."""

    document: dict[str, Any]
    binary: bytes
    filtered: dict[int, tuple[npt.NDArray[np.int8], npt.NDArray[np.int8]]] = field(default_factory=dict)

    def octahedral(self, index: int) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int8]]:
        """meshopt_codec.octahedral of an accessor's vectors, once (the plan and the layout both need it)."""
        if index not in self.filtered:
            self.filtered[index] = meshopt_codec.octahedral(self.values(index))
        return self.filtered[index]

    def view(self, index: int) -> bytes:
        view = self.document["bufferViews"][index]
        start = view.get("byteOffset", 0)
        return self.binary[start : start + view["byteLength"]]

    def values(self, index: int) -> npt.NDArray[Any]:
        return accessor_array(self.document, self.binary, index)


def uv_encoding(document: dict[str, Any], texture_side: int | None) -> Encoding:
    """Texture coordinates as 16-bit normalized integers, on the coarsest grid of 2^n - 1 steps that keeps
    them (with the 16-bit rounding) within half a texel of the largest texture, `texture_side` texels across
    (geometry_check.uv_bound): 11 bits for 1024², 12 for 2048². A grid of fewer bits changes less often
    between neighbouring vertices, which the codec stores in fewer bytes. All 16 where no texture's size is
    known, or where a texture may be tiled (KHR_texture_transform, VRM 0.x's material tiling): a texel is
    then smaller than the texture's size says."""
    used = document.get("extensionsUsed", [])
    if not texture_side or "KHR_texture_transform" in used or "VRM" in used:
        return UV
    bound = geometry_check.uv_bound(texture_side)
    bits = next(b for b in range(1, _UV_BITS + 1) if b == _UV_BITS or 0.5 / (2**b - 1) + 0.5 / 65535 < bound)
    return UV if bits == _UV_BITS else dataclasses.replace(UV, steps=2**bits - 1)


def _plan_attribute(
    source: _Source, encodings: dict[int, Encoding], name: str, index: int, *, morph: bool, uv: Encoding
) -> None:
    """Chooses the accessor's integer encoding (positions are chosen per skin, in _plan_grids)."""
    if source.document["accessors"][index].get("componentType") != FLOAT or index in encodings:
        return
    if name in ("NORMAL", "TANGENT") and not morph:
        if "sparse" not in source.document["accessors"][index]:  # the filter writes whole rows
            encodings[index] = NORMAL
    elif name in ("NORMAL", "TANGENT"):
        # Normalized integers reach 1: a morph that turns a normal further (a flip) keeps floats.
        if np.abs(source.values(index)).max(initial=0.0) <= 1.0:
            encodings[index] = MORPH_NORMAL
    elif name.startswith("TEXCOORD_"):
        values = source.values(index)
        if values.size and values.min() >= 0.0 and values.max() <= 1.0:
            encodings[index] = uv
    elif name.startswith("WEIGHTS_"):
        # 8 bits (off by up to 1/255 after rounding) would move a bent limb's vertices past the position
        # bound: weights take them only where they are exact in 8 bits (rigid parts, 0 and 1).
        weights = source.values(index).astype(np.float64)
        exact = np.abs(_weights(weights, WEIGHT8) / 255.0 - weights).max(initial=0.0) <= geometry_check.WEIGHT_ERROR
        encodings[index] = WEIGHT8 if exact else WEIGHT


def _sorted_influences(source: _Source) -> dict[int, npt.NDArray[Any]]:
    """Each vertex's joint/weight pairs in one order: those of weight 0 first with joint 0 (they move
    nothing), then by joint. Neighbouring vertices then list the joints they share in the same columns, and
    the codec stores the columns' small changes rather than swaps (exporters order pairs by weight). The
    same influences, so skinning is the same: accessor -> its new values, for each joints/weights pair of
    accessors always read together and as nothing else."""
    partner: dict[int, int | None] = {}  # joints -> weights and weights -> joints, None where they disagree
    sets: set[int] = set()  # the joints accessors
    for name, index, morph in vertex_accessors(source.document):
        if morph or not name.startswith(("JOINTS_", "WEIGHTS_")):
            partner[index] = None
    for mesh in source.document.get("meshes", []):
        for primitive in mesh.get("primitives", []):
            attributes = primitive.get("attributes", {})
            for name, joints in attributes.items():
                if not name.startswith("JOINTS_"):
                    continue
                weights = attributes.get(f"WEIGHTS_{name[7:]}")
                sets.add(joints)
                for one, other in ((joints, weights), (weights, joints)):
                    if one is not None and partner.setdefault(one, other) != other:
                        partner[one] = None
    accessors = source.document["accessors"]
    replaced: dict[int, npt.NDArray[Any]] = {}
    for joints in sets:
        weights = partner[joints]
        if weights is None or partner.get(weights) != joints or weights in sets:
            continue
        if any("sparse" in accessors[i] or "bufferView" not in accessors[i] for i in (joints, weights)):
            continue
        joint_rows, weight_rows = source.values(joints), source.values(weights)
        used = weight_rows != 0
        moving = np.where(used, joint_rows.astype(np.int64), -1)  # weight 0 first, then by joint
        order = np.argsort(moving, axis=1, kind="stable")
        replaced[joints] = np.take_along_axis(np.where(used, joint_rows, 0), order, axis=1).astype(joint_rows.dtype)
        replaced[weights] = np.take_along_axis(weight_rows, order, axis=1)
    return replaced


def _plan_morph_normals(source: _Source, encodings: dict[int, Encoding]) -> None:
    """Morph normal deltas in 8 bits where every morphed normal (the base as the octahedral filter stores
    it, plus the 8-bit delta, as a loader adds them) stays within 90% of the normal bound of the original's;
    16 bits elsewhere (a morph that leaves a short normal turns it further per step)."""
    readers: dict[int, list[tuple[int, int]]] = {}  # morph normal accessor -> (its base normal, ...) pairs
    for mesh in source.document.get("meshes", []):
        for primitive in mesh.get("primitives", []):
            base = primitive.get("attributes", {}).get("NORMAL")
            for target in primitive.get("targets", []):
                if "NORMAL" in target:
                    readers.setdefault(target["NORMAL"], []).append((base, target["NORMAL"]))
    stored: dict[int, npt.NDArray[np.float64]] = {}
    base_angles: dict[int, npt.NDArray[np.float64]] = {}  # each base row's angle, stored against original
    for index, pairs in readers.items():
        planned = encodings.get(index)
        if planned not in (MORPH_NORMAL, None) or any(encodings.get(b) is not NORMAL for b, _t in pairs):
            continue
        delta = source.values(index).astype(np.float64)
        if planned is MORPH_NORMAL:
            candidate, smaller = np.clip(np.rint(delta * 127.0), -127, 127) / 127.0, MORPH_NORMAL8
        elif source.document["accessors"][index].get("componentType") == FLOAT:
            candidate, smaller = meshopt_codec.exponential(delta, _EXP_BITS)[0].astype(np.float64), MORPH_NORMAL_EXP
        else:
            continue
        worst = 0.0
        # Rows the delta leaves at zero both ways show the stored base: their angles are the base's own.
        rows = geometry_check.changed_rows(delta, candidate)
        still = np.ones(len(delta), dtype=bool)
        still[rows] = False
        for base_index, _target in pairs:
            base = source.values(base_index)[:, :3].astype(np.float64)
            if base_index not in stored:
                stored[base_index] = source.octahedral(base_index)[0][:, :3] / 127.0
                base_angles[base_index] = geometry_check.angles(base, stored[base_index])
            moved = geometry_check.largest_angle(base[rows] + delta[rows], stored[base_index][rows] + candidate[rows])
            worst = max(worst, moved, float(base_angles[base_index][still].max(initial=0.0)))
        if worst <= _MORPH_NORMAL8_SHARE * geometry_check.NORMAL_DEGREES:
            encodings[index] = smaller


def _plan_grids(source: _Source, encodings: dict[int, Encoding]) -> tuple[dict[int, Grid], dict[int, Grid]]:
    """Skin -> the grid of its meshes' positions, for each skin that can take one (see _gridded_skins; a
    morph reaching past the 16-bit range keeps floats too); and base position accessor -> its grid."""
    grids: dict[int, Grid] = {}
    gridded: dict[int, Grid] = {}
    for skin, meshes in _gridded_skins(source.document).items():
        primitives = [p for m in meshes for p in source.document["meshes"][m].get("primitives", [])]
        bases = [p["attributes"]["POSITION"] for p in primitives if "POSITION" in p.get("attributes", {})]
        if not bases:
            continue
        points = np.concatenate([source.values(i).astype(np.float64) for i in bases])
        low, high = points.min(axis=0), points.max(axis=0)
        step = float((high - low).max()) / POSITION_STEPS or 1.0
        deltas = [t["POSITION"] for p in primitives for t in p.get("targets", []) if "POSITION" in t]
        reach = max((float(np.abs(source.values(i)).max(initial=0.0)) for i in deltas), default=0.0)
        if reach / step > np.iinfo(np.int16).max:
            continue
        grids[skin] = grid = Grid(low, step)
        for index in bases:
            encodings[index] = Encoding(UNSIGNED_SHORT, False, "<u2", 1.0 / step)
            gridded[index] = grid
        for index in deltas:
            encodings[index] = Encoding(SHORT, False, "<i2", 1.0 / step)
    return grids, gridded


def _gridded_skins(document: dict[str, Any]) -> dict[int, list[int]]:
    """Skin -> its meshes, for the skins whose grid can be folded into their inverse binds alone: each of
    their meshes is drawn with that skin only (never rigid, never with another), their positions are read
    by no other skin's mesh, and their inverse bind matrices are their own."""
    skins_of: dict[int, set[int | None]] = {}
    for node in document.get("nodes", []):
        if "mesh" in node:
            skins_of.setdefault(node["mesh"], set()).add(node.get("skin"))
    meshes_of: dict[int, list[int]] = {}
    for mesh, skins in skins_of.items():
        (skin,) = skins if len(skins) == 1 else (None,)
        if skin is not None:
            meshes_of.setdefault(skin, []).append(mesh)
    binds = [skin.get("inverseBindMatrices") for skin in document.get("skins", [])]
    owner: dict[int, int] = {}  # position accessor -> its skin
    refused = {skin for skin in meshes_of if binds[skin] is not None and binds.count(binds[skin]) > 1}
    for skin, meshes in meshes_of.items():
        for mesh in meshes:
            for primitive in document["meshes"][mesh].get("primitives", []):
                for index in _positions(primitive):
                    if owner.setdefault(index, skin) != skin:
                        refused |= {skin, owner[index]}
    return {skin: meshes for skin, meshes in meshes_of.items() if skin not in refused}


def _positions(primitive: dict[str, Any]) -> list[int]:
    found = [primitive["attributes"]["POSITION"]] if "POSITION" in primitive.get("attributes", {}) else []
    return found + [t["POSITION"] for t in primitive.get("targets", []) if "POSITION" in t]


def _encode(values: npt.NDArray[Any], encoding: Encoding, grid: Grid | None) -> npt.NDArray[Any]:
    """Float values as the encoding stores them (rounded to nearest, clamped to the type's range)."""
    floats = values.astype(np.float64)
    if grid is not None:
        floats = floats - grid.offset
    if encoding is WEIGHT or encoding is WEIGHT8:  # identity: UV encodes alike but is no weight
        return _weights(floats, encoding)
    if encoding.steps:
        floats = np.rint(floats * encoding.steps) / encoding.steps
    info = np.iinfo(encoding.dtype)
    low = -info.max if encoding.normalized and info.min < 0 else info.min  # -127, not -128: both mean -1
    stored: npt.NDArray[Any] = np.clip(np.rint(floats * encoding.scale), low, info.max).astype(encoding.dtype)
    return stored


def _weights(weights: npt.NDArray[np.float64], encoding: Encoding) -> npt.NDArray[Any]:
    """Weights whose sum per vertex is exactly what the floats' was (65535 or 255 for 1): the rounding's
    remainder goes to each vertex's largest weight, so skinning does not shrink or swell a vertex."""
    stored = np.rint(weights * encoding.scale)
    total = np.rint(weights.sum(axis=1) * encoding.scale)
    largest = np.argmax(stored, axis=1)
    rows = np.arange(len(stored))
    stored[rows, largest] += total - stored.sum(axis=1)
    result: npt.NDArray[Any] = np.clip(stored, 0, encoding.scale).astype(encoding.dtype)
    return result


@dataclass(frozen=True)
class _Plan:
    encoding: Encoding | None
    grid: Grid | None  # a base position's grid (its offset is taken off before scaling)
    role: str | None  # "vertex", "triangles", "mode <n>" (other primitives' indices) or None
    kind: str | None  # a vertex accessor's attribute ("NORMAL", "morph POSITION"): one view per kind
    values: npt.NDArray[Any] | None = None  # new values replacing the accessor's (folded inverse binds, indices)
    order: reorder.VertexOrder | None = None  # a vertex accessor's renumbering


def _lay_out(source: _Source, index: int, accessor: dict[str, Any], plan: _Plan, layout: Layout) -> None:
    """Writes the accessor's data (dense part and sparse parts) as new views, quantized when planned."""
    encoding, grid = plan.encoding, plan.grid
    width = COMPONENTS[accessor["type"]]
    bounded = encoding is not None and (grid is not None or (encoding.component == SHORT and not encoding.normalized))
    # Positions and morph position deltas must carry their bounds, in the stored integers.
    bounds = _encode(source.values(index), encoding, grid) if bounded and encoding else None
    if _denser(source, index, accessor, plan):
        plan = dataclasses.replace(plan, values=source.values(index))  # read before the entry changes
        del accessor["sparse"]
    sparse = accessor.get("sparse")
    if "bufferView" in accessor or plan.values is not None:
        values, filtered = _stored(source, index, accessor, plan)
        if plan.role == "vertex":
            stride = padded(values.dtype.itemsize * values.shape[1])
            place = layout.add(
                strided(values, stride),
                stride=stride,
                target=ARRAY_BUFFER,
                group=("vertex", plan.kind, stride, filtered and filtered[0]),
                align=stride,
                filtered=filtered,
            )
        elif plan.role is not None:  # indices: triangles apart from lines and points
            size = values.dtype.itemsize  # whole triangles between pieces: the index codec reads threes
            group, align = (plan.role, size), _lcm4(3 * size)
            place = layout.add(_tight(values), target=ELEMENT_ARRAY_BUFFER, group=group, align=align)
        else:
            element = values.dtype.itemsize * width
            place = layout.add(_tight(values), group=("other", element), align=_lcm4(element))
        _point(accessor, place)
    if sparse:
        indices, sparse_values = _sparse_parts(source, accessor)
        if plan.order is not None:  # sparse indices stay increasing
            renumbered = plan.order.new[indices]
            by_place = np.argsort(renumbered, kind="stable")
            indices, sparse_values = renumbered[by_place].astype(indices.dtype), sparse_values[by_place]
        sparse_values, filtered = _quantized(sparse_values, plan)
        index_place = layout.add(_tight(indices), group=("sparse indices", indices.itemsize), align=4)
        element = sparse_values.dtype.itemsize * width
        values_group = ("sparse values", plan.kind, element, filtered and filtered[0])
        value_place = layout.add(_tight(sparse_values), group=values_group, align=_lcm4(element), filtered=filtered)
        sparse["indices"] = {"componentType": sparse["indices"]["componentType"]}
        sparse["values"] = {}
        _point(sparse["indices"], index_place)
        _point(sparse["values"], value_place)
    if encoding is None:
        return
    accessor["componentType"] = encoding.component
    if encoding.normalized:
        accessor["normalized"] = True
    accessor.pop("min", None)
    accessor.pop("max", None)
    if bounds is not None:
        accessor["min"] = bounds.astype(np.int64).min(axis=0).tolist()
        accessor["max"] = bounds.astype(np.int64).max(axis=0).tolist()


def _denser(source: _Source, index: int, accessor: dict[str, Any], plan: _Plan) -> bool:
    """Whether a sparse morph target (zeros but for its sparse rows) takes fewer bytes under meshopt as
    dense rows: rows a target leaves alone are runs of zeros, which the vertex codec stores in a few bits,
    while sparse indices of a target that moves much of a mesh cost more than the zeros they leave out."""
    if "sparse" not in accessor or "bufferView" in accessor or not (plan.kind or "").startswith("morph "):
        return False
    indices, values = _sparse_parts(source, accessor)
    values, filtered = _quantized(values, plan)
    # The vertex codec stores each byte column of 16 rows in 2 bits when it does not change, and in at
    # least 4 bytes when it does: dense rows cost at least that much, without encoding them. Sparse rows
    # cost at most their raw bytes (and a little): most targets stay sparse before anything is encoded.
    stride = padded(values.dtype.itemsize * values.shape[1])
    moved = plan.order.new[indices] if plan.order is not None else indices
    dense_at_least = accessor["count"] * stride / 64 + 4 * len(np.unique(moved // 16))
    if 1.1 * (indices.nbytes + values.nbytes) <= dense_at_least:
        return False
    sparse_bytes = meshopt_codec.attribute_bytes(_tight(indices), indices.itemsize) + meshopt_codec.attribute_bytes(
        filtered[1] if filtered else _tight(values), values.dtype.itemsize * values.shape[1]
    )
    if sparse_bytes <= dense_at_least:
        return False
    rows, filtered = _stored(source, index, {}, dataclasses.replace(plan, values=source.values(index)))
    dense_bytes = meshopt_codec.attribute_bytes(filtered[1] if filtered else strided(rows, stride), stride)
    return dense_bytes < sparse_bytes


def _stored(
    source: _Source, index: int, accessor: dict[str, Any], plan: _Plan
) -> tuple[npt.NDArray[Any], tuple[str, bytes] | None]:
    """The dense rows as stored (renumbered, quantized) and, when a meshopt filter stores them, the filter
    and its input."""
    if plan.encoding is not None and plan.encoding.filter == "OCTAHEDRAL":  # rows are independent: reorder after
        decoded, rows = source.octahedral(index)
        if plan.order is not None:
            decoded, rows = decoded[plan.order.old], rows[plan.order.old]
        return decoded, (plan.encoding.filter, np.ascontiguousarray(rows).tobytes())
    values = plan.values if plan.values is not None else _dense(source, accessor)
    if plan.order is not None:
        values = values[plan.order.old]
    return _quantized(values, plan)


def _quantized(values: npt.NDArray[Any], plan: _Plan) -> tuple[npt.NDArray[Any], tuple[str, bytes] | None]:
    """Rows as the plan's encoding stores them and, for a filtered one, the filter and its input."""
    encoding = plan.encoding
    if encoding is not None and encoding.filter == "EXPONENTIAL":
        floats, rows = meshopt_codec.exponential(values, _EXP_BITS)
        return floats, (encoding.filter, rows)
    if encoding is not None:
        return _encode(values, encoding, plan.grid), None
    return values, None


def _tight(values: npt.NDArray[Any]) -> bytes:
    return np.ascontiguousarray(values).tobytes()


def _lcm4(size: int) -> int:
    """The least multiple of both `size` and 4 bytes: pieces of a shared view start on whole rows."""
    return size * 4 // math.gcd(size, 4)


def _point(holder: dict[str, Any], place: tuple[int, int]) -> None:
    """Points an accessor (or a sparse part) at its view and offset in the new layout."""
    holder["bufferView"] = place[0]
    if place[1]:
        holder["byteOffset"] = place[1]
    else:
        holder.pop("byteOffset", None)


def _dense(source: _Source, accessor: dict[str, Any]) -> npt.NDArray[Any]:
    """The accessor's own view's values, without its sparse substitution (that stays sparse)."""
    bare = {k: v for k, v in accessor.items() if k != "sparse"}
    return accessor_array({**source.document, "accessors": [bare]}, source.binary, 0)


def _sparse_parts(source: _Source, accessor: dict[str, Any]) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    sparse = accessor["sparse"]
    count, width = sparse["count"], COMPONENTS[accessor["type"]]
    indices_at, values_at = sparse["indices"], sparse["values"]
    index_kind = _INDEX_TYPES[indices_at["componentType"]]
    indices = np.frombuffer(source.view(indices_at["bufferView"]), index_kind, count, indices_at.get("byteOffset", 0))
    kind = {FLOAT: "<f4", BYTE: "<i1", UNSIGNED_BYTE: "<u1", SHORT: "<i2", UNSIGNED_SHORT: "<u2"}
    raw = source.view(values_at["bufferView"])
    values = np.frombuffer(raw, kind[accessor["componentType"]], count * width, values_at.get("byteOffset", 0))
    return indices, values.reshape(count, width)


def _fold_grids(source: _Source, grids: dict[int, Grid]) -> dict[int, npt.NDArray[Any]]:
    """Each gridded skin's inverse bind matrices times its grid's matrix: accessor -> its new values (an
    accessor is added for a skin that had none: identities)."""
    replaced: dict[int, npt.NDArray[Any]] = {}
    for skin_index, grid in grids.items():
        skin = source.document["skins"][skin_index]
        count = len(skin["joints"])
        if "inverseBindMatrices" in skin:
            binds = source.values(skin["inverseBindMatrices"]).reshape(count, 4, 4)
            binds = binds.astype(np.float64).transpose(0, 2, 1)  # column-major in the file
        else:
            binds = np.broadcast_to(np.eye(4), (count, 4, 4))
            source.document["accessors"].append({"componentType": FLOAT, "type": "MAT4", "count": count})
            skin["inverseBindMatrices"] = len(source.document["accessors"]) - 1
        folded = (binds @ grid.matrix()).transpose(0, 2, 1).reshape(count, 16)
        replaced[skin["inverseBindMatrices"]] = folded.astype("<f4")
    return replaced
