"""Per-stage seconds of one auto-rig, as its result reports them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def stage(seconds: dict[str, float], name: str) -> Iterator[None]:
    """Adds the time the block takes to `seconds[name]`."""
    start = time.perf_counter()
    try:
        yield
    finally:
        seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - start
