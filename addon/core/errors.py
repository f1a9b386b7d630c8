"""The one error hierarchy of Avatar Forge's operations. The CLI, the sidebar, the socket and the MCP tools
only render these: the message is one line for the user, and a refusal by the rig check carries its report.

- InputError: what the caller gave cannot be used (a missing file, an unknown preset or armature, an output
  that exists); nothing was done. The CLI exits 2.
- OperationError: the work ran and found a problem (the rig check's errors, an export the VRM Add-on
  cancelled, a file that failed verification, storage that refused); nothing was written. The CLI exits 1.
"""

from __future__ import annotations

from typing import Any

from .rig.findings import CheckReport, Finding


class ForgeError(Exception):
    """`str()` is one line for the user; `report` is the rig check that refused the operation, when one did;
    `details` is what a JSON report adds (a rejected file's verification, say)."""

    def __init__(
        self, message: str, *, report: CheckReport | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.report = report
        self.details = dict(details or {})

    def to_json(self) -> dict[str, Any]:
        """The reason, the refusing rig check's report (its findings, stats...) and the details."""
        return {"reason": str(self), **(self.report.to_json() if self.report else {}), **self.details}

    def findings(self, severity: str | None = None) -> list[Finding]:
        """The refusing rig check's findings (of one severity), or []."""
        found = self.report.findings if self.report else []
        return [f for f in found if severity is None or f.severity == severity]


class InputError(ForgeError):
    """What the caller gave cannot be used; nothing was done."""


class OperationError(ForgeError):
    """The work found a problem; nothing was written."""


class OutputExistsError(InputError, FileExistsError):
    """The file to write is there and replacing it was not asked for."""


class BadOutputError(InputError, ValueError):
    """A path that can never be written (wrong suffix, no such folder, a folder)."""


class ProtectedPathError(InputError, PermissionError):
    """A path inside the storage root or a publish target, where only publish writes."""


def finding_line(finding: Finding) -> str:
    """A finding as one line of text: what every entry point prints for a refusal's findings."""
    return f"{finding.severity}: {finding.message}"
