"""A glTF node's place relative to its parent, read from the file for the import to mend bone-carried parts
(core.models.bone_children): in Blender's axes, from either way a file may write it, and never guessed."""

from __future__ import annotations

import math
from typing import Any

import pytest

from addon.core.models.bone_children import carried_children


def _document(child: dict[str, Any], *more: dict[str, Any]) -> dict[str, Any]:
    return {"nodes": [{"name": "Shoulder", "children": list(range(1, 2 + len(more)))}, child, *more]}


def test_a_part_one_unit_up_the_file_is_one_unit_up_in_blender() -> None:
    # glTF's +y is up, Blender's +z; glTF's +z (front) is Blender's -y.
    carried = carried_children(_document({"name": "Pad", "translation": [0.5, 1.0, 2.0]}))
    rows = carried[("Shoulder", "Pad")]
    assert [r[3] for r in rows[:3]] == pytest.approx([0.5, -2.0, 1.0])


def test_a_matrix_and_its_translation_rotation_scale_read_the_same() -> None:
    half = math.sqrt(0.5)  # a quarter turn about y, scaled twice
    trs = {"name": "Pad", "translation": [1, 2, 3], "rotation": [0, half, 0, half], "scale": [2, 2, 2]}
    matrix = {"name": "Pad", "matrix": [0, 0, -2, 0, 0, 2, 0, 0, 2, 0, 0, 0, 1, 2, 3, 1]}
    a = carried_children(_document(trs))[("Shoulder", "Pad")]
    b = carried_children(_document(matrix))[("Shoulder", "Pad")]
    assert [x for row in a for x in row] == pytest.approx([x for row in b for x in row])


def test_parts_that_cannot_be_told_apart_or_read_are_left_alone() -> None:
    twins = carried_children(_document({"name": "Pad", "translation": [1, 0, 0]}, {"name": "Pad"}))
    assert ("Shoulder", "Pad") not in twins  # which of Blender's two objects is which is unknown
    broken = carried_children(_document({"name": "Pad", "translation": [1, "x", 0]}))
    assert broken == {}
    assert carried_children({"nodes": [{"name": "Shoulder", "children": [7]}]}) == {}
