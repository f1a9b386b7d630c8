"""Every fixable finding has its fix, its place in the order the fixes run, and its row in the README's rig
check table saying what the fix does (a finding the README calls fixable and the code does not, or the
reverse, is a user misled)."""

from __future__ import annotations

import re

import bpy  # noqa: F401  # before addon.blender: mathutils exists only after it

from addon.blender import rig_fixes
from addon.core import checks
from tests.conftest import ROOT


def _readme_table() -> dict[str, str]:
    """Finding id -> its fix cell, from the rig check table of README.md."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("\n## Rig check") :]
    section = section[: section.index("\n## ", 1)]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            for finding in re.findall(r"`([a-z_0-9]+)`", cells[0]):
                rows[finding] = cells[2]
    return rows


def test_fixes_order_and_readme_agree_on_what_is_fixable():
    assert set(rig_fixes.FIX_ORDER) == set(rig_fixes.FIXES) == checks.FIXABLE
    assert len(rig_fixes.FIX_ORDER) == len(set(rig_fixes.FIX_ORDER))
    documented = _readme_table()
    assert {f for f, fix in documented.items() if not fix.startswith("—")} == checks.FIXABLE
    # The pose's scale goes into the rest pose before anything is measured or moved in the rest pose.
    order = rig_fixes.FIX_ORDER.index
    assert order("scaled_pose") < order("wrong_units") < order("unapplied_transforms") < order("not_grounded")
