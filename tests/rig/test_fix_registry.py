"""Every fixable finding kind has exactly one fix and its place in the order the fixes run, and the rig check
page's findings table is the registry's (a finding the docs call fixable and the code does not, or the
reverse, is a user misled)."""

from __future__ import annotations

import re

import bpy  # noqa: F401  # before addon.blender: mathutils exists only after it
import pytest

from addon.blender import rig_fixes
from addon.core.rig import finding_kinds
from addon.core.rig.findings import Finding
from scripts.findings_table import PAGE, with_table
from tests.conftest import ROOT


def _page_table() -> dict[str, str]:
    """Finding id -> its fix cell, from the findings table of docs/rig-check.md."""
    rows: dict[str, str] = {}
    for line in (ROOT / "docs" / "rig-check.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            for finding in re.findall(r"`([a-z_0-9]+)`", cells[0]):
                rows[finding] = cells[2]
    return rows


def test_fixes_order_and_docs_agree_on_what_is_fixable():
    assert set(finding_kinds.FIX_ORDER) == set(rig_fixes.FIXES) == finding_kinds.FIXABLE
    assert len(finding_kinds.FIX_ORDER) == len(set(finding_kinds.FIX_ORDER))
    documented = _page_table()
    assert {f for f, fix in documented.items() if not fix.startswith("—")} == finding_kinds.FIXABLE
    assert set(documented) == set(finding_kinds.KINDS)
    # The pose's scale goes into the rest pose before anything is measured or moved in the rest pose.
    order = finding_kinds.FIX_ORDER.index
    assert order("scaled_pose") < order("wrong_units") < order("unapplied_transforms") < order("not_grounded")


def test_the_docs_findings_table_is_generated_from_the_registry():
    page = PAGE.read_text()
    assert with_table(page, finding_kinds.findings_table()) == page, "run python scripts/findings_table.py"


def test_a_finding_of_an_unknown_kind_or_a_fix_the_registry_lacks_is_refused():
    with pytest.raises(KeyError, match="not a registered finding kind"):
        Finding("no_such_kind", "error", "x", False)
    with pytest.raises(ValueError, match="has no fix"):
        Finding("off_center", "warning", "hips off", True)
    with pytest.raises(ValueError, match="has none"):
        rig_fixes._registered({"off_center": rig_fixes.FIXES["not_grounded"]})
