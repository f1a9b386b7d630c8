"""The rig check the sidebar, `forge.py check`, the socket command and the exporter all call."""

from __future__ import annotations

import dataclasses
import time

from ..core.presets import Preset
from ..core.rig import checks, finding_kinds
from ..core.rig.findings import CheckReport, Finding, FixLevel
from ..core.rig.model import RigModel
from . import rig_fixes, rig_reader

_MAX_ROUNDS = 32  # each round fixes one finding id; a fix that does not clear its finding is not retried


def _wanted(finding: Finding, level: FixLevel) -> bool:
    return finding.fixable and (level == "all" or not finding.structural)


def check_rig(
    armature_name: str | None = None, preset: Preset | None = None, *, fix: bool | FixLevel = False
) -> CheckReport:
    """Checks the armature (by default the one that deforms or carries the meshes) and its meshes against
    `preset`'s spec version and budgets.

    With `fix` ("safe" or True: the safe fixes; "all": the structural ones too), fixes every instance of every
    fixable finding, checks again, and repeats until nothing fixable is left; the report's `fixes` says what
    was done, and a fix Blender refused becomes a `fix_failed` finding. Raises
    rig_reader.ArmatureNotFoundError when `armature_name` is not in the scene.
    """
    started = time.perf_counter()
    report, model = check_and_read(armature_name, preset)
    return fix_checked(report, model, preset, fix, started=started).report


@dataclasses.dataclass
class Fixed:
    """A check's fixes: the report after them, and the last check without fixes with the rig it read (the
    scene as the fixes left it, which an export right after may start from instead of reading it again)."""

    report: CheckReport
    checked: tuple[CheckReport, RigModel]


def fix_checked(
    report: CheckReport, model: RigModel, preset: Preset | None, fix: bool | FixLevel, *, started: float | None = None
) -> Fixed:
    """check_rig's fixes, from the check just made (`report`, of `model`) rather than from a new read: a
    convert checks, fixes and exports one scene, and read it twice before the fixes (and once more after)."""
    started = time.perf_counter() if started is None else started
    level: FixLevel | None = "safe" if fix is True else (fix or None)
    done: list[str] = []
    after, checked = report, (report, model)
    if level is not None and report.armature is not None:
        after, done, checked = _fix_until_done(report, model, level, preset)
    # A copy when nothing was fixed: the report before fixes stays as it was read.
    after = dataclasses.replace(after, fixes=done, seconds=time.perf_counter() - started)
    return Fixed(after, checked)


def check_and_read(armature_name: str | None, preset: Preset | None) -> tuple[CheckReport, RigModel]:
    """The check without fixes, and the rig it read (the export answers questions from its weights)."""
    started = time.perf_counter()
    model = rig_reader.read_rig(armature_name)
    report = checks.run_checks(model, preset)
    report.seconds = time.perf_counter() - started
    return report, model


def _fix_until_done(
    report: CheckReport, model: RigModel, level: FixLevel, preset: Preset | None
) -> tuple[CheckReport, list[str], tuple[CheckReport, RigModel]]:
    """Fixes every instance of the first fixable finding id (in the registry's fix order), checks again, and repeats;
    returns the last report (with a `fix_failed` finding per refused fix), what each fix did, and the last
    check without those findings with the rig it read."""
    armature = report.armature
    assert armature is not None
    done: list[str] = []
    failed: list[Finding] = []
    tried: set[tuple[str, tuple[str, ...]]] = set()
    for _ in range(_MAX_ROUNDS):
        todo = [f for f in report.findings if _wanted(f, level) and (f.id, f.objects) not in tried]
        if not todo:
            break
        first = min(todo, key=lambda f: finding_kinds.FIX_ORDER.index(f.id))
        for finding in (f for f in todo if f.id == first.id):
            tried.add((finding.id, finding.objects))
            try:
                done.append(rig_fixes.apply_fix(finding, armature, preset))
            except rig_fixes.FixFailedError as exc:
                failed.append(Finding("fix_failed", "warning", str(exc), False, finding.objects))
        # Later fixes see what earlier ones changed (applied transforms move the mesh, say).
        model = rig_reader.read_rig(armature)
        report = checks.run_checks(model, preset)
    checked = (report, model)
    if failed:
        report = CheckReport.from_findings(
            report.armature, report.mapping, report.findings + failed, report.stats, report.auto_mapped
        )
    return report, done, checked


def fix_finding(finding_id: str, armature_name: str | None = None, preset: Preset | None = None) -> CheckReport:
    """Fixes every instance of the finding with this id (KeyError when it is absent or has no fix), then
    re-checks. Raises rig_fixes.FixFailedError when Blender refuses the fix."""
    report = check_rig(armature_name, preset)
    findings = [f for f in report.findings if f.id == finding_id and f.fixable]
    if not findings or report.armature is None:
        raise KeyError(f"no finding '{finding_id}' to fix")
    done = [rig_fixes.apply_fix(f, report.armature, preset) for f in findings]
    after = check_rig(report.armature, preset)
    after.fixes = done
    return after
