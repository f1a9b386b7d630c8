"""JSON from untrusted bytes within bounds: size, nesting depth and integer digits.

Python's own parser raises RecursionError on deep nesting and ValueError past 4,300 integer digits, and
its objects take about thirty times the bytes they were parsed from. The promoter parses files anyone
with write access to the bucket can put there; one of them must never crash a run or exhaust its memory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

DEFAULT_MAX_DEPTH: Final = 64
DEFAULT_MAX_INT_DIGITS: Final = 32


class JsonLimitError(ValueError):
    """The bytes are not JSON, or JSON beyond a limit; the message says which, in one line."""


@dataclass(frozen=True)
class JsonLimits:
    max_bytes: int
    max_depth: int = DEFAULT_MAX_DEPTH
    max_int_digits: int = DEFAULT_MAX_INT_DIGITS


def _depth_at_most(value: Any, limit: int) -> bool:
    """True when no container in `value` is nested more than `limit` deep (iteratively: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        for child in children:
            if isinstance(child, dict | list):
                if depth + 1 > limit:
                    return False
                stack.append((child, depth + 1))
    return True


def load_json(raw: bytes, limits: JsonLimits, what: str) -> Any:
    """The JSON value in `raw`; raises JsonLimitError naming `what` and the limit it broke."""
    if len(raw) > limits.max_bytes:
        raise JsonLimitError(f"{what} is {len(raw)} bytes, over the limit of {limits.max_bytes}")

    def parse_int(text: str) -> int:
        if len(text) - text.startswith("-") > limits.max_int_digits:
            raise JsonLimitError(f"{what} holds an integer of more than {limits.max_int_digits} digits")
        return int(text)

    try:
        value = json.loads(raw, parse_int=parse_int)
    except RecursionError:
        raise JsonLimitError(f"{what} is nested deeper than {limits.max_depth}") from None
    except JsonLimitError:
        raise
    except (UnicodeDecodeError, ValueError) as exc:
        raise JsonLimitError(f"{what} is not JSON ({str(exc)[:200]})") from None
    if isinstance(value, dict | list) and not _depth_at_most(value, limits.max_depth):
        raise JsonLimitError(f"{what} is nested deeper than {limits.max_depth}")
    return value
