"""The rig check the sidebar, `forge.py check`, the socket command and the exporter all call."""

from __future__ import annotations

import time

from ..core import checks
from ..core.findings import CheckReport
from ..core.presets import Preset
from . import rig_fixes, rig_reader


def check_rig(armature_name: str | None = None, preset: Preset | None = None, *, fix: bool = False) -> CheckReport:
    """Checks the armature (by default the one with the most VRM bones mapped) and its meshes against
    `preset`'s spec version and budgets; with `fix`, runs every safe fix first and checks again.

    Raises rig_reader.ArmatureNotFoundError when `armature_name` is not in the scene.
    """
    started = time.perf_counter()
    report = checks.run_checks(rig_reader.read_rig(armature_name), preset)
    if fix and report.armature is not None:
        for fix_id in rig_fixes.FIX_ORDER:
            finding = next((f for f in report.findings if f.id == fix_id and f.fixable), None)
            if finding is not None:
                rig_fixes.apply_fix(finding, report.armature)
                # Later fixes see what earlier ones changed (applied transforms move the mesh, say).
                report = checks.run_checks(rig_reader.read_rig(report.armature), preset)
    report.seconds = time.perf_counter() - started
    return report


def fix_finding(finding_id: str, armature_name: str | None = None, preset: Preset | None = None) -> CheckReport:
    """Fixes the one finding with this id (KeyError when it is absent or has no safe fix), then re-checks."""
    report = check_rig(armature_name, preset)
    finding = next((f for f in report.findings if f.id == finding_id), None)
    if finding is None or report.armature is None:
        raise KeyError(f"no finding '{finding_id}' to fix")
    rig_fixes.apply_fix(finding, report.armature)
    return check_rig(report.armature, preset)
