"""Which lines of Blender's, its importers' and exporters' console output a user should see.

Blender, the glTF importer and exporter, the FBX importer and the VRM Add-on print progress chatter (an INFO
line per glTF node, `FBX version: 7400`, render timings) and, headless, GPU noise (`EGL Error (0x3009):
EGL_BAD_MATCH` when the thumbnail render looks for a display). Outside --verbose an import, auto-rig, fix
or export captures that output and shows only the real warnings and errors, once each.
"""

from __future__ import annotations

import re
from typing import Final

_SERIOUS: Final = re.compile(r"\b(WARNING|WARN|ERROR|CRITICAL|Warning|Error)\b")
# Headless GPU setup: harmless, the render falls back and succeeds.
_NOISE: Final = re.compile(r"^EGL Error \(0x[0-9A-Fa-f]+\)")
# The glTF log's clock: without it the same warning of two seconds is one warning.
_TIME: Final = re.compile(r"^\d\d:\d\d:\d\d \| ")


def warnings_in(text: str) -> list[str]:
    """The warning and error lines of captured output, in order, each once, without known noise."""
    seen: set[str] = set()
    kept: list[str] = []
    for raw in text.splitlines():
        line = _TIME.sub("", raw.rstrip())
        if not line or _NOISE.match(line) or not _SERIOUS.search(line) or line in seen:
            continue
        seen.add(line)
        kept.append(line)
    return kept
