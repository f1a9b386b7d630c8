"""Where a glTF file puts the nodes its bones carry (a robot's shoulder piece on its shoulder bone), read
from the file's node hierarchy, in Blender's axes. Blender's glTF importer hangs such a child at its bone's
tail by taking a bone length off the child's place, and where the bone it builds has another length than
the one it took off (a bone of 0.00006 units in an armature scaled x100), the part lands off its bone:
the import is mended from what the file says. Pure logic: the Blender side applies it."""

from __future__ import annotations

import math
from typing import Any

Matrix = tuple[tuple[float, ...], ...]  # 4x4, row-major
# glTF is Y-up, Blender Z-up: the importer maps a glTF (x, y, z) to Blender's (x, -z, y).
_Y_UP_TO_Z_UP = ((1.0, 0.0, 0.0, 0.0), (0.0, 0.0, -1.0, 0.0), (0.0, 1.0, 0.0, 0.0), (0.0, 0.0, 0.0, 1.0))


def _product(a: Matrix, b: Matrix) -> Matrix:
    return tuple(tuple(sum(a[i][k] * b[k][j] for k in range(4)) for j in range(4)) for i in range(4))


def _transposed(a: Matrix) -> Matrix:
    return tuple(tuple(a[j][i] for j in range(4)) for i in range(4))


def _numbers(value: Any, count: int) -> list[float] | None:
    if not isinstance(value, list) or len(value) != count:
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value):
        return None
    return [float(v) for v in value]


def node_matrix(node: dict[str, Any]) -> Matrix | None:
    """A node's transform relative to its parent, in glTF's axes (its `matrix`, or its translation, rotation
    and scale); None when the values are not numbers."""
    if "matrix" in node:
        m = _numbers(node["matrix"], 16)
        return None if m is None else tuple(tuple(m[c * 4 + r] for c in range(4)) for r in range(4))
    t = _numbers(node.get("translation", [0, 0, 0]), 3)
    q = _numbers(node.get("rotation", [0, 0, 0, 1]), 4)
    s = _numbers(node.get("scale", [1, 1, 1]), 3)
    if t is None or q is None or s is None:
        return None
    length = math.sqrt(sum(v * v for v in q)) or 1.0
    x, y, z, w = (v / length for v in q)
    rotation = (
        (1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)),
        (2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)),
        (2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)),
    )
    rows = [(*(rotation[r][c] * s[c] for c in range(3)), t[r]) for r in range(3)]
    return (*rows, (0.0, 0.0, 0.0, 1.0))


def to_z_up(matrix: Matrix) -> Matrix:
    """A transform between two glTF frames, as the same transform between the frames Blender made of them."""
    return _product(_product(_Y_UP_TO_Z_UP, matrix), _transposed(_Y_UP_TO_Z_UP))


def carried_children(document: dict[str, Any]) -> dict[tuple[str, str], Matrix]:
    """(parent node's name, child node's name) -> the child's transform relative to its parent in Blender's
    axes, for every child node in the file. A pair of names that occurs more than once is left out: which
    of Blender's objects is which cannot be told."""
    nodes = document.get("nodes")
    if not isinstance(nodes, list):
        return {}
    found: dict[tuple[str, str], Matrix | None] = {}
    for parent in nodes:
        children = parent.get("children") if isinstance(parent, dict) else None
        if not isinstance(parent, dict) or not isinstance(parent.get("name"), str) or not isinstance(children, list):
            continue
        for index in children:
            child = nodes[index] if isinstance(index, int) and 0 <= index < len(nodes) else None
            if not isinstance(child, dict) or not isinstance(child.get("name"), str):
                continue
            key = (parent["name"], child["name"])
            matrix = node_matrix(child)
            found[key] = None if key in found or matrix is None else to_z_up(matrix)
    return {key: matrix for key, matrix in found.items() if matrix is not None}
