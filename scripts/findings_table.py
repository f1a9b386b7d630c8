#!/usr/bin/env python3
"""Writes the findings table of docs/rig-check.md from the registry of finding kinds
(addon/core/rig/finding_kinds.py): run it after adding or changing a kind; a test fails while they differ."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "rig-check.md"
START = (
    "<!-- findings table: generated from addon/core/rig/finding_kinds.py by `python scripts/findings_table.py` -->\n"
)
END = "<!-- end of findings table -->\n"


def with_table(page: str, table: str) -> str:
    """The page with the text between the table's two markers replaced by `table`."""
    head, rest = page.split(START, 1)
    _old, tail = rest.split(END, 1)
    return f"{head}{START}{table}{END}{tail}"


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    from addon.core.rig.finding_kinds import findings_table

    PAGE.write_text(with_table(PAGE.read_text(), findings_table()))
    print(f"wrote the findings table of {PAGE.relative_to(ROOT)}")
