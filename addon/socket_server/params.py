"""Reading a command's params: one clear error for a bad one, never an echo of a huge or broken value."""

from __future__ import annotations

from typing import Any

# Longer than any name or path a client means; past them an error does not repeat what was sent.
MAX_NAME = 256
MAX_PATH = 4096


def text(params: dict[str, Any], key: str, required: bool = False, limit: int = MAX_NAME) -> str | None:
    """A non-empty string of at most `limit` characters, valid Unicode, with no NUL; None when absent
    and not required."""
    value = params.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise ValueError(f"'{key}' must be a non-empty string")
    if len(value) > limit or "\0" in value:
        raise ValueError(f"'{key}' must be at most {limit} characters, with no NUL")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"'{key}' is not valid Unicode text (a lone surrogate)") from None
    return value


def count(params: dict[str, Any], key: str, default: int | None, least: int = 0) -> int | None:
    value = params.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ValueError(f"'{key}' must be a whole number of at least {least}, got {value!r}")
    return value
