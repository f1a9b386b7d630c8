"""The packed file's JSON numbers spelled as the shortest text that reads back as the same 32-bit float.

Exporters write 32-bit values as the double nearest them (0.019999999552965164 for 0.02): seventeen digits
where six to nine name the same float32. glTF's numbers are float32 for every loader that draws them
(three.js uploads transforms, material factors and morph weights as float32; Unity and Blender store them
so), and the VRM extensions' numbers come from such programs. So every fractional number is replaced by
the double nearest its shortest float32 spelling (shortest), and the JSON text spells each such number in
the shorter of its two forms, without an exponent's plus sign or leading zeros (dumps: 2.3841858e-7, not
2.3841858e-07): the value reads back as exactly the float32 it was. Whole numbers stay as written (they are
short, and may be counts beyond float32's exact integers), and so do numbers float32 cannot hold (past its
range, or so small it would lose digits) and everything under "extras" (an application's own data,
whatever its precision).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Final

import numpy as np

_SMALLEST_NORMAL: Final = float(np.finfo(np.float32).tiny)
_LARGEST: Final = float(np.finfo(np.float32).max)
# A JSON string (left as it is: digits in a name are text) or a number with a fraction or an exponent.
_TOKEN: Final = re.compile(r'"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)|-?\d+\.\d+')


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
    # numpy spells a float32 with the fewest digits that read back as it (Dragon4 in unique mode).
    return float(np.format_float_scientific(np.float32(number), unique=True))


def dumps(document: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON with each fractional number in its shortest spelling (the same double)."""
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    return _TOKEN.sub(_spelled, text).encode("utf-8")


def _spelled(match: re.Match[str]) -> str:
    token = match.group()
    if token.startswith('"'):
        return token
    number = float(token)
    if number.is_integer():
        return token  # whole numbers keep their ".0": a reader may tell floats from integers
    scientific = np.format_float_scientific(number, unique=True, trim="-", exp_digits=1).replace("+", "")
    positional = np.format_float_positional(number, unique=True, trim="-")
    return min(positional, scientific, key=len)
