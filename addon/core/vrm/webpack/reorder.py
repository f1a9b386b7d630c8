"""Vertices and triangles in the order a GPU and meshoptimizer's codecs like, as gltfpack and glTF-Transform
put them: each primitive's triangles in vertex-cache order (meshoptimizer's), then the vertices renumbered
in the order those triangles first use them (the vertex fetch order), so neighbouring rows of every vertex
attribute are neighbours on the mesh and the index codec sees mostly new-or-recent vertices.

A renumbering moves every row of every accessor that holds one value per vertex: attributes, morph
targets (dense rows, and sparse indices, which stay sorted) and the skin's joints and weights (they are
attributes); triangle and other index accessors get the new numbers. Primitives that share any of those
accessors are renumbered together. Nothing else in a VRM names a vertex: VRM 1.0 (VRMC_vrm, springBone,
node constraints, MToon) and 0.x (`VRM`: blend shape binds name a mesh and a morph target, first person a
mesh) name meshes, morph targets, nodes and materials only. A group is left in its vertex order (its
triangles still cache-ordered) when a vertex accessor is also read as something else, a primitive draws
without indices (its vertex order is its draw order), or its accessors disagree on the vertex count.
Unused vertices are kept, after the used ones, so every accessor keeps its count.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from . import meshopt_codec

Indices = npt.NDArray[Any]


@dataclass(frozen=True)
class VertexOrder:
    """One group's renumbering: `old[i]` is the vertex now numbered i, `new[v]` vertex v's new number."""

    old: npt.NDArray[np.intp]
    new: npt.NDArray[np.intp]


@dataclass
class Plan:
    orders: dict[int, VertexOrder]  # vertex accessor -> its group's renumbering
    indices: dict[int, Indices]  # index accessor -> its new values (cache-ordered, renumbered)


def plan(document: dict[str, Any], values: Callable[[int], Indices]) -> Plan:
    """The renumbering of every group of primitives that can take one (see the module's doc), and every
    index accessor's new values; `values` reads an accessor's values."""
    result = Plan({}, {})
    accessors = document.get("accessors", [])
    elsewhere = _read_elsewhere(document)
    for group in _groups(document):
        vertex = sorted({i for p in group for i in _vertex_accessors(p)})
        indexed = all("indices" in p for p in group)
        counts = {accessors[i]["count"] for i in vertex}
        drawn = {p["indices"] for p in group if "indices" in p}
        reach = max((int(values(i).max(initial=0)) for i in drawn), default=0)
        if not indexed or len(counts) != 1 or reach >= min(counts) or elsewhere & set(vertex) or drawn & set(vertex):
            for primitive in group:  # vertex order kept: triangles still in cache order
                if "indices" in primitive and primitive.get("mode", 4) == 4:
                    result.indices[primitive["indices"]] = meshopt_codec.cache_order(values(primitive["indices"]))
            continue
        ordered = {i: _cache_ordered(values(i), _mode(group, i)) for i in drawn}
        order = _fetch_order(list(ordered.values()), counts.pop())
        result.orders |= dict.fromkeys(vertex, order)
        for index, found in ordered.items():
            result.indices[index] = order.new[found].astype(found.dtype)
    return result


def _vertex_accessors(primitive: dict[str, Any]) -> list[int]:
    found = list(primitive.get("attributes", {}).values())
    return found + [i for target in primitive.get("targets", []) for i in target.values()]


def _groups(document: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """The primitives, grouped where they share a vertex or index accessor (union-find over accessors)."""
    primitives = [p for mesh in document.get("meshes", []) for p in mesh.get("primitives", [])]
    parent = list(range(len(primitives)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[int, int] = {}
    for number, primitive in enumerate(primitives):
        named = _vertex_accessors(primitive) + ([primitive["indices"]] if "indices" in primitive else [])
        for accessor in named:
            parent[root(number)] = root(owner.setdefault(accessor, number))
    groups: dict[int, list[dict[str, Any]]] = {}
    for number, primitive in enumerate(primitives):
        groups.setdefault(root(number), []).append(primitive)
    return list(groups.values())


def _read_elsewhere(document: dict[str, Any]) -> set[int]:
    """Accessors something outside meshes reads (skins' inverse binds, animations)."""
    found = {s["inverseBindMatrices"] for s in document.get("skins", []) if "inverseBindMatrices" in s}
    for animation in document.get("animations", []):
        for sampler in animation.get("samplers", []):
            found |= {sampler.get("input"), sampler.get("output")} - {None}
    return found


def _mode(group: list[dict[str, Any]], index: int) -> int:
    modes = {p.get("mode", 4) for p in group if p.get("indices") == index}
    return modes.pop() if len(modes) == 1 else -1  # an index accessor drawn two ways keeps its order


def _cache_ordered(indices: Indices, mode: int) -> Indices:
    flat = indices.reshape(-1)
    return meshopt_codec.cache_order(flat) if mode == 4 and len(flat) % 3 == 0 else flat


def _fetch_order(drawn: list[Indices], count: int) -> VertexOrder:
    """Vertices in the order the index lists first use them, unused ones after in their old order."""
    joined = np.concatenate([d.astype(np.intp) for d in drawn]) if drawn else np.zeros(0, np.intp)
    used, first = np.unique(joined, return_index=True)
    used = used[np.argsort(first, kind="stable")]
    unused = np.setdiff1d(np.arange(count), used, assume_unique=True)
    old = np.concatenate([used, unused]).astype(np.intp)
    new = np.empty(count, np.intp)
    new[old] = np.arange(count)
    return VertexOrder(old, new)
