"""What a rig check reports: findings with stable ids, and the report the CLI, socket and sidebar show."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from .finding_kinds import FixKind, Severity, kind

SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")
STAT_KEYS = ("vertices", "triangles", "materials", "bones", "textures", "max_texture_size", "shape_keys")

FixLevel = Literal["safe", "all"]  # what a fix run may do: the safe fixes, or the structural ones too


@dataclass(frozen=True)
class Finding:
    """One problem, of a kind registered in finding_kinds. `fixable`: its fix applies to this instance;
    `structural`: that fix changes the skeleton or the rest pose, so it runs only when asked for (`--fix all`,
    or the sidebar after asking), never among the safe fixes."""

    id: str
    severity: Severity
    message: str
    fixable: bool
    objects: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if kind(self.id).fix is None and self.fixable:
            raise ValueError(f"finding '{self.id}' has no fix in the registry of finding kinds")

    @property
    def structural(self) -> bool:
        return kind(self.id).fix == "structural"

    @property
    def fix(self) -> FixKind | None:
        if not self.fixable:
            return None
        return "structural" if self.structural else "safe"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "severity": self.severity,
            "message": self.message,
            "fixable": self.fixable,
            "fix": self.fix,
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
    auto_mapped: list[str] = field(default_factory=list)  # VRM bones of `mapping` found automatically
    fixes: list[str] = field(default_factory=list)  # what the fixes of this run did, one line each

    @classmethod
    def from_findings(
        cls,
        armature: str | None,
        mapping: dict[str, str],
        findings: list[Finding],
        stats: dict[str, int],
        auto_mapped: list[str] | None = None,
    ) -> CheckReport:
        """A report whose findings are sorted errors first; ok when none is an error."""
        ordered = sorted(findings, key=lambda f: SEVERITIES.index(f.severity))
        ok = not any(f.severity == "error" for f in ordered)
        return cls(ok, armature, mapping, ordered, stats, auto_mapped=list(auto_mapped or []))

    def ids(self) -> list[str]:
        return [f.id for f in self.findings]

    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "armature": self.armature,
            "mapping": dict(self.mapping),
            "auto_mapped": list(self.auto_mapped),
            "fixes": list(self.fixes),
            "findings": [f.to_json() for f in self.findings],
            "stats": {key: int(self.stats.get(key, 0)) for key in STAT_KEYS},
            "seconds": round(self.seconds, 4),
        }
