"""The last rig check's result, for the sidebar (runtime only, on the WindowManager: never saved)."""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, CollectionProperty, FloatProperty, IntProperty, StringProperty

from ..core.rig.findings import CheckReport


class AVATARFORGE_PG_rig_finding(bpy.types.PropertyGroup):
    finding_id: StringProperty()  # type: ignore[valid-type]
    severity: StringProperty()  # type: ignore[valid-type]
    message: StringProperty()  # type: ignore[valid-type]
    fixable: BoolProperty()  # type: ignore[valid-type]
    structural: BoolProperty()  # type: ignore[valid-type]
    objects: StringProperty()  # type: ignore[valid-type]


class AVATARFORGE_PG_rig_check(bpy.types.PropertyGroup):
    checked: BoolProperty()  # type: ignore[valid-type]
    ok: BoolProperty()  # type: ignore[valid-type]
    armature: StringProperty()  # type: ignore[valid-type]
    mapped: IntProperty()  # type: ignore[valid-type]
    seconds: FloatProperty()  # type: ignore[valid-type]
    findings: CollectionProperty(type=AVATARFORGE_PG_rig_finding)  # type: ignore[valid-type]
    active: IntProperty()  # type: ignore[valid-type]
    show_mapping: BoolProperty(name="Bone mapping", default=False)  # type: ignore[valid-type]

    def store(self, report: CheckReport) -> None:
        """Keeps a report for drawing."""
        self.checked, self.ok, self.armature = True, report.ok, report.armature or ""
        self.mapped, self.seconds = len(report.mapping), report.seconds
        self.findings.clear()
        for finding in report.findings:
            item = self.findings.add()
            item.finding_id, item.severity, item.message = finding.id, finding.severity, finding.message
            item.fixable, item.objects = finding.fixable, ", ".join(finding.objects)
            item.structural = finding.structural
