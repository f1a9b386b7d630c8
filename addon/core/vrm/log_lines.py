"""Which lines of Blender's and its exporters' console output a user should see during an export.

Blender, the glTF exporter and the VRM Add-on print progress chatter (INFO lines, render timings) and,
headless, GPU noise (`EGL Error (0x3009): EGL_BAD_MATCH` when the thumbnail render looks for a display).
Outside --verbose the export captures that output and shows only the real warnings and errors, once each.
"""

from __future__ import annotations

import re
from typing import Final

_SERIOUS: Final = re.compile(r"\b(WARNING|WARN|ERROR|CRITICAL|Warning|Error)\b")
# Headless GPU setup: harmless, the render falls back and succeeds.
_NOISE: Final = re.compile(r"^EGL Error \(0x[0-9A-Fa-f]+\)")


def warnings_in(text: str) -> list[str]:
    """The warning and error lines of captured output, in order, each once, without known noise."""
    seen: set[str] = set()
    kept: list[str] = []
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line or _NOISE.match(line) or not _SERIOUS.search(line) or line in seen:
            continue
        seen.add(line)
        kept.append(line)
    return kept
