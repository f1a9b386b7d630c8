"""A command whose answer needs the network: `fetch` runs on a worker thread (it touches no bpy), then
`finish` runs on the main thread with what it returned, so Blender never waits on a download. The
dispatcher holds the client's later commands until the reply has gone out: replies stay in order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..assets.fetch import Progress


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Deferred:
    label: str  # what the sidebar and the server's status show while it runs
    fetch: Callable[[Progress], Any]
    finish: Callable[[Any], Any] = _same
