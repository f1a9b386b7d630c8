"""Rewrites the morph targets of an exported GLB as sparse accessors (glTF 2.0 core), without Blender.

The VRM Add-on writes every morph target dense: a float per coordinate of every vertex, though a face
expression moves a few percent of them. A sparse accessor stores only the vertices that move (an index
and a value each) over an implicit zero base, so every morphed position stays bit for bit the same; morph
normals keep every change larger than the exporter's float rounding (NORMAL_NOISE).

Sparse indices are UNSIGNED_SHORT or UNSIGNED_INT, never UNSIGNED_BYTE: UniVRM's loader rejects those.
Everything but the rewritten morph accessors (and, when asked, the dropped morph normals) keeps its bytes
and its index, except bufferViews: those left unreferenced are removed (a view cannot be empty) and the
others renumbered, every reference to them with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from . import glb

_FLOAT: Final = 5126
_UNSIGNED_SHORT: Final = 5123
_UNSIGNED_INT: Final = 5125
# Morph target attributes a preset without morph normals drops (tangents follow the normals).
_NORMAL_ATTRIBUTES: Final = ("NORMAL", "TANGENT")
# Blender's glTF exporter writes each morph normal as the difference of two normalized float32 vectors:
# vertices an expression does not touch get rounding noise (a few ulps) instead of zero, at about 20 times as
# many vertices as the expression moves. A normal delta no component of which exceeds this is that noise.
NORMAL_NOISE: Final = 1e-6


class GlbLayoutError(glb.GlbError):
    """A GLB this rewrite does not handle (not one embedded buffer): the caller keeps the file as it is."""


@dataclass(frozen=True)
class SparseStats:
    accessors: int  # morph accessors made sparse
    dropped: int  # morph normal/tangent accessors dropped


def _dense_floats(document: dict[str, Any], binary: bytes, accessor: dict[str, Any]) -> npt.NDArray[np.float32]:
    """The accessor's (count, components) floats, from a tightly packed bufferView."""
    width = glb.COMPONENTS[accessor["type"]]
    view = document["bufferViews"][accessor["bufferView"]]
    if view.get("byteStride", 4 * width) != 4 * width:
        raise GlbLayoutError("an interleaved morph target bufferView")
    raw = glb.view_bytes(document, binary, accessor["bufferView"])
    start = accessor.get("byteOffset", 0)
    count = accessor["count"]
    return np.frombuffer(raw, dtype="<f4", count=count * width, offset=start).reshape(count, width)


def _morph_accessors(document: dict[str, Any]) -> dict[int, str]:
    """Accessor index -> its morph target attribute name, over every primitive of every mesh."""
    found: dict[int, str] = {}
    for mesh in document.get("meshes", []):
        for primitive in mesh.get("primitives", []):
            for target in primitive.get("targets", []):
                for name, index in target.items():
                    found[index] = name
    return found


def _view_references(node: Any) -> list[dict[str, Any]]:
    """Every object below `node` that refers to a bufferView (extensions included: the key means the same)."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if isinstance(node.get("bufferView"), int):
            found.append(node)
        for value in node.values():
            found.extend(_view_references(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_view_references(item))
    return found


def _references(document: dict[str, Any]) -> dict[int, int]:
    """bufferView index -> how many objects refer to it."""
    counts: dict[int, int] = {}
    for holder in _view_references({k: v for k, v in document.items() if k != "bufferViews"}):
        counts[holder["bufferView"]] = counts.get(holder["bufferView"], 0) + 1
    return counts


def sparsify(data: bytes, *, morph_normals: bool = True) -> tuple[bytes, SparseStats]:
    """The GLB with each dense morph target accessor made sparse where that saves bytes, and its morph
    normals and tangents dropped unless `morph_normals`; raises GlbLayoutError on a layout it leaves alone.
    """
    try:
        document, binary = glb.read(data)
    except glb.GlbError as exc:
        raise GlbLayoutError(str(exc)) from None
    buffers = document.get("buffers", [])
    if len(buffers) != 1 or "uri" in buffers[0]:
        raise GlbLayoutError("the GLB does not hold exactly one embedded buffer")
    morphs = _morph_accessors(document)
    accessors: list[dict[str, Any]] = document.get("accessors", [])
    dropped = 0
    if not morph_normals:
        dropped = _drop_morph_normals(document)
        morphs = _morph_accessors(document)
    users = _references(document)
    # bufferView index -> its new bytes: a dense view made sparse holds the values, the indices get a new one.
    contents: dict[int, bytes] = {}
    views: list[dict[str, Any]] = document.setdefault("bufferViews", [])
    made_sparse = 0
    for index in sorted(morphs):
        accessor = accessors[index]
        view_index = accessor.get("bufferView")
        if view_index is None or "sparse" in accessor or accessor.get("componentType") != _FLOAT:
            continue
        if users.get(view_index) != 1:  # a view shared with anything else keeps its bytes
            continue
        rows = _dense_floats(document, binary, accessor)
        if morphs[index] in _NORMAL_ATTRIBUTES:
            moved = np.flatnonzero(np.any(np.abs(rows) > NORMAL_NOISE, axis=1))
        else:
            moved = np.flatnonzero(np.any(rows != 0, axis=1))  # positions: every vertex moved, exactly
        if len(moved) == 0:
            moved = np.zeros(1, dtype=np.int64)  # a sparse accessor needs count >= 1; a zero entry is exact
        wide = int(moved[-1]) > 0xFFFF
        index_size = 4 if wide else 2
        if len(moved) * (index_size + rows.itemsize * rows.shape[1]) >= rows.nbytes:
            continue
        indices = moved.astype("<u4" if wide else "<u2").tobytes()
        values = np.ascontiguousarray(rows[moved]).tobytes()
        contents[view_index] = values
        views[view_index].pop("byteStride", None)
        views[view_index].pop("target", None)  # sparse views carry no target
        views.append({"buffer": 0})
        contents[len(views) - 1] = indices
        del accessor["bufferView"]
        accessor.pop("byteOffset", None)
        accessor["sparse"] = {
            "count": len(moved),
            "indices": {"bufferView": len(views) - 1, "componentType": _UNSIGNED_INT if wide else _UNSIGNED_SHORT},
            "values": {"bufferView": view_index},
        }
        made_sparse += 1
    if not made_sparse and not dropped:
        return data, SparseStats(0, 0)
    packed = _repack(document, binary, contents)
    out = glb.write(document, packed)
    return out, SparseStats(made_sparse, dropped)


def _drop_morph_normals(document: dict[str, Any]) -> int:
    """Removes NORMAL and TANGENT from every morph target; the accessors stay (unreferenced, repacked to
    nothing) so that no accessor index changes. Returns how many were dropped."""
    dropped = 0
    accessors = document.get("accessors", [])
    for mesh in document.get("meshes", []):
        for primitive in mesh.get("primitives", []):
            for target in primitive.get("targets", []):
                for name in _NORMAL_ATTRIBUTES:
                    index = target.pop(name, None)
                    if index is not None:
                        dropped += 1
                        _empty_accessor(accessors[index])
    return dropped


def _empty_accessor(accessor: dict[str, Any]) -> None:
    """An accessor nobody reads any more: a one-element zero sparse accessor, the smallest valid one."""
    accessor.pop("bufferView", None)
    accessor.pop("byteOffset", None)
    accessor.pop("min", None)
    accessor.pop("max", None)
    accessor["count"] = 1
    accessor.pop("sparse", None)


def _repack(document: dict[str, Any], binary: bytes, contents: dict[int, bytes]) -> bytes:
    """The BIN chunk rebuilt view by view (4-byte aligned), with new contents where given; views no longer
    referenced are removed and every reference renumbered; offsets and the buffer's length follow."""
    holders = _view_references({k: v for k, v in document.items() if k != "bufferViews"})
    used = sorted({h["bufferView"] for h in holders})
    renumber = {old: new for new, old in enumerate(used)}
    parts: list[bytes] = []
    size = 0
    views = []
    for old in used:
        view = document["bufferViews"][old]
        chunk = contents.get(old)
        if chunk is None:
            chunk = glb.view_bytes(document, binary, old)
        padding = -size % 4
        parts.append(b"\0" * padding)
        size += padding
        view["byteOffset"] = size
        view["byteLength"] = len(chunk)
        parts.append(chunk)
        size += len(chunk)
        views.append(view)
    for holder in holders:
        holder["bufferView"] = renumber[holder["bufferView"]]
    document["bufferViews"] = views
    document["buffers"][0]["byteLength"] = size
    return b"".join(parts)
