"""Modifiers taken out of evaluation for a block: the rig fixes read a mesh deformed by its armature alone,
and the export poses the rig without deforming every mesh at each bone."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

import bpy


@contextlib.contextmanager
def switched_off(modifiers: Iterable[bpy.types.Modifier]) -> Iterator[None]:
    """Each modifier hidden in the viewport (so the depsgraph skips it) for the block, then shown or hidden
    as the artist had it."""
    shown = [(m, m.show_viewport) for m in modifiers]
    try:
        for modifier, _ in shown:
            modifier.show_viewport = False
        yield
    finally:
        for modifier, was in shown:
            modifier.show_viewport = was
