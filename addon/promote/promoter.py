"""One pass over the promotion queue, oldest first.

For each request: download and verify every artifact (size, sha256), check the VRM's structure, and copy
it to every target with `rclone copyto --immutable --checksum`. Then each target's index.json gains the
copied models (one read and one write per target per pass), and only then is each outcome recorded in
promotion/done/ and its queue entry removed. A request that fails verification goes to promotion/failed/
with its reason and nothing of it is copied. Every step can be repeated, so a run killed anywhere is
completed by the next one; storage trouble leaves the request queued for a retry.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core import naming
from ..core.digest import digest_file
from ..core.promotion import (
    IndexEntry,
    Request,
    RequestError,
    allowlist_lines,
    merge_index,
    outcome_record,
    parse_request,
    utc_now,
)
from ..core.vrm_inspect import inspect_vrm
from .config import Config, Target
from .rclone import IMMUTABLE_CACHE, INDEX_CACHE, NOT_FOUND, Rclone, RcloneError, join

Log = Callable[[str], None]


class _RejectedError(Exception):
    """The request or its artifacts are bad: it goes to failed/ and is never copied."""


@dataclass
class Outcome:
    request: str  # the queue entry's file name
    status: str  # promoted | failed | error | would promote | would fail
    reason: str | None = None
    file: str | None = None
    targets: dict[str, str] = field(default_factory=dict)  # target -> copied | already there

    def to_json(self) -> dict[str, Any]:
        return {
            "request": self.request,
            "status": self.status,
            "reason": self.reason,
            "file": self.file,
            "targets": self.targets,
        }


@dataclass
class _Copied:
    """A verified request now on every target, waiting for its index entries and its done record."""

    entry: str
    raw: bytes
    request: Request
    outcome: Outcome


@dataclass
class PassReport:
    dry_run: bool
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def newly_promoted(self) -> list[str]:
        # Promoted by this run; an outcome that an earlier, killed run recorded carries no file.
        return [o.file for o in self.outcomes if o.status == "promoted" and o.file]

    @property
    def ok(self) -> bool:
        return all(o.status in ("promoted", "would promote") for o in self.outcomes)

    def to_json(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for o in self.outcomes:
            counts[o.status] = counts.get(o.status, 0) + 1
        return {
            "dry_run": self.dry_run,
            "counts": counts,
            "outcomes": [o.to_json() for o in self.outcomes],
            "allowlist": allowlist_lines(self.newly_promoted),
        }


class Promoter:
    def __init__(self, config: Config, rclone: Rclone, log: Log | None = None) -> None:
        self.config = config
        self.rclone = rclone
        self.log = log or (lambda _line: None)

    def _source(self, key: str) -> str:
        return join(self.config.source, key)

    def queued(self) -> list[str]:
        """Queue entries, oldest first (by upload time, then name)."""
        entries = self.rclone.lsjson(self._source(naming.QUEUE))
        ordered = sorted(entries, key=lambda e: (str(e.get("ModTime", "")), str(e.get("Name", ""))))
        return [str(e["Name"]) for e in ordered if naming.parse_key(str(e.get("Name", ""))) is not None]

    def run_pass(self, dry_run: bool = False) -> PassReport:
        report = PassReport(dry_run)
        queue = self.queued()
        if not queue:
            return report
        recorded = self.rclone.names(self._source(naming.DONE)) | self.rclone.names(self._source(naming.FAILED))
        present = {t.name: self.rclone.names(join(t.remote, "")) for t in self.config.targets}
        copied: list[_Copied] = []
        with tempfile.TemporaryDirectory(prefix="avatar-forge-promote-") as scratch:
            for number, entry in enumerate(queue):
                outcome, done = self._one(entry, entry in recorded, present, Path(scratch) / str(number), dry_run)
                if done is not None:
                    copied.append(done)
                report.outcomes.append(outcome)
        self._index(copied)
        for item in copied:
            if item.outcome.status == "promoted":
                detail = {"file": item.outcome.file, "sha256": item.request.vrm.sha256, "targets": item.outcome.targets}
                try:
                    self._record(item.entry, item.raw, naming.DONE, detail)
                except RcloneError as exc:
                    item.outcome.status, item.outcome.reason = "error", f"{exc}; left queued for the next run"
        for outcome in report.outcomes:
            self.log(f"{outcome.request}: {outcome.status}" + (f" ({outcome.reason})" if outcome.reason else ""))
        return report

    def _one(
        self, entry: str, recorded: bool, present: dict[str, set[str]], scratch: Path, dry_run: bool
    ) -> tuple[Outcome, _Copied | None]:
        queue_key = f"{naming.QUEUE}{entry}"
        try:
            raw = self.rclone.cat(self._source(queue_key))
            if raw is None:  # another promoter finished it meanwhile
                return Outcome(entry, "error", "the queue entry vanished"), None
            if recorded and not dry_run:
                # A run killed after recording the outcome: only the queue entry is left to remove.
                self.rclone.deletefile(self._source(queue_key))
                return Outcome(entry, "promoted", "recorded by an earlier run"), None
            scratch.mkdir()
            try:
                request, vrm = self._verified(entry, raw, scratch)
            except _RejectedError as exc:
                if not dry_run:
                    self._record(entry, raw, naming.FAILED, {"reason": str(exc)})
                return Outcome(entry, "would fail" if dry_run else "failed", str(exc)), None
            file = f"{request.versioned.stem}.vrm"
            if dry_run:
                return Outcome(entry, "would promote", file=file), None
            targets = {t.name: self._copy(t, vrm, file, present[t.name]) for t in self.config.targets}
            outcome = Outcome(entry, "promoted", file=file, targets=targets)
            return outcome, _Copied(entry, raw, request, outcome)
        except RcloneError as exc:
            return Outcome(entry, "error", f"{exc}; left queued for the next run"), None

    def _verified(self, entry: str, raw: bytes, scratch: Path) -> tuple[Request, Path]:
        """The request and a local copy of its VRM whose bytes are proven to be what was published."""
        try:
            request = parse_request(raw)
        except RequestError as exc:
            raise _RejectedError(str(exc)) from None
        if f"{request.versioned.stem}.json" != entry:
            raise _RejectedError(f"queue entry {entry} describes {request.versioned.stem}")
        local: dict[str, Path] = {}
        for artifact in request.artifacts:
            path = scratch / artifact.key.rsplit("/", 1)[-1]
            try:
                self.rclone.copyto(self._source(artifact.key), str(path), immutable=False)
            except RcloneError as exc:
                if exc.code == NOT_FOUND:
                    raise _RejectedError(f"{artifact.key} is missing") from None
                raise
            digest = digest_file(path)
            if digest.size != artifact.size:
                raise _RejectedError(f"{artifact.key} is {digest.size} bytes, the request says {artifact.size}")
            if digest.sha256 != artifact.sha256:
                raise _RejectedError(f"{artifact.key} sha256 {digest.sha256} differs from the request's")
            local[artifact.key] = path
        vrm = local[request.vrm.key]
        problems = inspect_vrm(vrm.read_bytes()).problems
        if problems:
            raise _RejectedError(f"{request.vrm.key} is not a valid VRM: {'; '.join(problems)}")
        return request, vrm

    def _copy(self, target: Target, vrm: Path, file: str, present: set[str]) -> str:
        # --immutable: an existing file with other content is an error, never replaced; the same content is skipped.
        header = IMMUTABLE_CACHE if target.s3 else None
        self.rclone.copyto(str(vrm), join(target.remote, file), immutable=True, header=header)
        return "already there" if file in present else "copied"

    def _index(self, copied: list[_Copied]) -> None:
        """Adds the copied models to each target's index.json; a target that fails leaves them queued."""
        if not copied:
            return
        for target in self.config.targets:
            index_path = join(target.remote, "index.json")
            try:
                raw = self.rclone.cat(index_path)
                changed = False
                for item in copied:
                    request = item.request
                    entry = IndexEntry(
                        request.name, request.version, str(item.outcome.file), request.vrm.sha256, request.vrm.size,
                        utc_now(),
                    )  # fmt: skip
                    raw, added = merge_index(raw, entry)
                    changed = changed or added
                if changed and raw is not None:
                    with tempfile.TemporaryDirectory(prefix="avatar-forge-index-") as scratch:
                        local = Path(scratch) / "index.json"
                        local.write_bytes(raw)
                        header = INDEX_CACHE if target.s3 else None
                        self.rclone.copyto(str(local), index_path, immutable=False, header=header)
            except (RcloneError, ValueError) as exc:
                for item in copied:
                    item.outcome.status = "error"
                    item.outcome.reason = f"index.json at {target.name}: {exc}; left queued for the next run"

    def _record(self, entry: str, raw: bytes, folder: str, detail: dict[str, Any]) -> None:
        """Writes the outcome beside the queue, then removes the queue entry (in that order: see _one)."""
        status = "promoted" if folder == naming.DONE else "failed"
        with tempfile.TemporaryDirectory(prefix="avatar-forge-record-") as scratch:
            local = Path(scratch) / entry
            local.write_bytes(outcome_record(raw, status, detail))
            self.rclone.copyto(str(local), self._source(f"{folder}{entry}"), immutable=False)
        self.rclone.deletefile(self._source(f"{naming.QUEUE}{entry}"))
