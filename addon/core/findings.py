"""What a rig check reports: findings with stable ids, and the report the CLI, socket and sidebar show."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")
STAT_KEYS = ("vertices", "triangles", "materials", "bones", "textures", "max_texture_size", "shape_keys")


@dataclass(frozen=True)
class Finding:
    id: str
    severity: Severity
    message: str
    fixable: bool
    objects: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "severity": self.severity,
            "message": self.message,
            "fixable": self.fixable,
            "objects": list(self.objects),
        }


@dataclass
class CheckReport:
    ok: bool
    armature: str | None
    mapping: dict[str, str]
    findings: list[Finding]
    stats: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STAT_KEYS, 0))
    seconds: float = 0.0

    @classmethod
    def from_findings(
        cls, armature: str | None, mapping: dict[str, str], findings: list[Finding], stats: dict[str, int]
    ) -> CheckReport:
        """A report whose findings are sorted errors first; ok when none is an error."""
        ordered = sorted(findings, key=lambda f: SEVERITIES.index(f.severity))
        return cls(not any(f.severity == "error" for f in ordered), armature, mapping, ordered, stats)

    def ids(self) -> list[str]:
        return [f.id for f in self.findings]

    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "armature": self.armature,
            "mapping": dict(self.mapping),
            "findings": [f.to_json() for f in self.findings],
            "stats": {key: int(self.stats.get(key, 0)) for key in STAT_KEYS},
            "seconds": round(self.seconds, 4),
        }
