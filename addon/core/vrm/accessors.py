"""A GLB's accessors and node transforms read as a loader reads them, with numpy (the container itself is
glb.py's)."""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import numpy.typing as npt

from . import glb

NUMPY_TYPES: Final = {5120: "<i1", 5121: "<u1", 5122: "<i2", 5123: "<u2", 5125: "<u4", 5126: "<f4"}


def accessor_array(document: dict[str, Any], binary: bytes, index: int) -> npt.NDArray[Any]:
    """An accessor's (count, components) values as a loader reads them (integers as stored, normalized or
    not): the dense data (or zeros), strided as its view says, with any sparse values written over it."""
    accessor = document["accessors"][index]
    kind, width, count = NUMPY_TYPES[accessor["componentType"]], glb.COMPONENTS[accessor["type"]], accessor["count"]
    if "bufferView" in accessor:
        raw = glb.view_bytes(document, binary, accessor["bufferView"])
        item = np.dtype(kind).itemsize
        stride = document["bufferViews"][accessor["bufferView"]].get("byteStride", item * width)
        shape, strides = (count, width), (stride, item)
        values: npt.NDArray[Any] = np.ndarray(shape, kind, raw, accessor.get("byteOffset", 0), strides).copy()
    else:
        values = np.zeros((count, width), dtype=kind)
    if accessor.get("sparse"):
        indices, substituted = sparse_values(document, binary, index)
        values[indices] = substituted
    return values


def sparse_values(document: dict[str, Any], binary: bytes, index: int) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    """A sparse accessor's substitution alone: its indices and their (count, components) values, read-only
    views of the BIN (a morph target that moves a few hundred of 200k vertices is read as those rows)."""
    accessor = document["accessors"][index]
    sparse = accessor["sparse"]
    kind, width = NUMPY_TYPES[accessor["componentType"]], glb.COMPONENTS[accessor["type"]]
    indices_kind = NUMPY_TYPES[sparse["indices"]["componentType"]]
    indices_raw = glb.view_bytes(document, binary, sparse["indices"]["bufferView"])
    indices = np.frombuffer(indices_raw, indices_kind, sparse["count"], sparse["indices"].get("byteOffset", 0))
    values_raw = glb.view_bytes(document, binary, sparse["values"]["bufferView"])
    offset = sparse["values"].get("byteOffset", 0)
    return indices, np.frombuffer(values_raw, kind, sparse["count"] * width, offset).reshape(-1, width)


def node_matrix(node: dict[str, Any]) -> npt.NDArray[np.float64]:
    """A node's local transform, from its matrix (column-major) or its translation, rotation and scale."""
    if "matrix" in node:
        return np.array(node["matrix"], dtype=np.float64).reshape(4, 4).T
    x, y, z, w = (float(v) for v in node.get("rotation", (0.0, 0.0, 0.0, 1.0)))
    rotation = np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )
    matrix = np.eye(4)
    matrix[:3, :3] = rotation * np.array(node.get("scale", (1.0, 1.0, 1.0)), dtype=np.float64)
    matrix[:3, 3] = node.get("translation", (0.0, 0.0, 0.0))
    return matrix
