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


def _keep(value: Any) -> None:
    return None


@dataclass(frozen=True)
class Deferred:
    label: str  # what the sidebar and the server's status show while it runs
    fetch: Callable[[Progress], Any]
    finish: Callable[[Any], Any] = _same
    discard: Callable[[Any], None] = _keep  # what fetch left on disk, when nobody waits for finish any more
