"""JSON values compared as a float32 loader reads them: the web packing spells each fractional number with
the fewest digits that read back as the same float32 (core/vrm/webpack/json_numbers.py), so the packed
file's numbers equal the exporter's as float32, exactly, and nothing looser."""

from __future__ import annotations

from typing import Any

import numpy as np


def same_as_float32(a: Any, b: Any) -> bool:
    """Whether two JSON values are equal, each number compared as the float32 it reads as (whole numbers
    and every other value exactly)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_as_float32(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_as_float32(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return a == b or bool(np.float32(a) == np.float32(b))
    return type(a) is type(b) and a == b
