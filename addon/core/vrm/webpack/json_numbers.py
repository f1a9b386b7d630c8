"""The packed file's JSON numbers spelled as the shortest text that reads back as the same 32-bit float.

Exporters write 32-bit values as the double nearest them (0.019999999552965164 for 0.02): seventeen digits
where six to nine name the same float32. glTF's numbers are float32 for every loader that draws them
(three.js uploads transforms, material factors and morph weights as float32; Unity and Blender store them
so), and the VRM extensions' numbers come from such programs. So every fractional number is replaced by
the double nearest its shortest float32 spelling, which json.dumps then writes: the value reads back as
exactly the float32 it was. Whole numbers stay as written (they are short, and may be counts beyond
float32's exact integers), and so do numbers float32 cannot hold (past its range, or so small it would lose
digits) and everything under "extras" (an application's own data, whatever its precision).
"""

from __future__ import annotations

import math
import struct
from typing import Any, Final

_FLOAT32: Final = struct.Struct("<f")
_SMALLEST_NORMAL: Final = 2.0**-126
_LARGEST: Final = (2.0 - 2.0**-23) * 2.0**127


def shortest(value: Any) -> Any:
    """A copy of a JSON value (document, extension...) with each fractional number as the double nearest
    its shortest float32 spelling."""
    if isinstance(value, float):
        return shortest_float(value)
    if isinstance(value, dict):
        return {k: v if k == "extras" else shortest(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shortest(v) for v in value]
    return value


def shortest_float(number: float) -> float:
    """`number` as the double nearest the shortest decimal that reads back as float32(number); the number
    itself when it is whole, not finite, or outside float32's normal range."""
    if not math.isfinite(number) or number.is_integer() or not _SMALLEST_NORMAL <= abs(number) <= _LARGEST:
        return number
    wanted = _FLOAT32.pack(number)
    # Nine significant digits name every float32; the nearest decimal of fewer digits that still reads back
    # as it is the shortest (%g drops trailing zeros).
    for digits in range(6, 10):
        spelled = float(f"{number:.{digits}g}")
        if _FLOAT32.pack(spelled) == wanted:
            return spelled
    return number
