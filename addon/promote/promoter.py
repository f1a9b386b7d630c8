"""One pass over the promotion queue, oldest first, in batches.

For each request: download and verify every artifact (size, sha256) and check the VRM's structure (a
clip's: the VRM Animation's). The verified files go to every target with `rclone copy --immutable
--checksum`, laid out as the tiers hold them (models and their thumbnails at the root, clips in
animations/), each target's index.json gains them, and only then is each outcome recorded in
promotion/done/ and its queue entry removed. A request that fails verification goes to
promotion/failed/ with its reason and nothing of it is copied.

Every step can be repeated (immutable copies skip what is there, the index keeps the first entry), so a
run killed anywhere is completed by the next one; storage trouble leaves requests queued for a retry.
rclone runs a fixed number of times per batch, not per model: starting it costs more than a small copy;
only when a batch step fails does it go request by request, so that each succeeds or fails on its own.

Two promoters may run at once (a manual `promote --once` beside the CronJob) and neither storage offers a
conditional write. An index.json is merged against what it holds right before each write and read back
after it; and every pass ends by reconciling each target's index with what is promoted (a file on the
target and a record in promotion/done/): an entry lost to another promoter's older write, landing last,
is added again by the pass that wrote it or by the next one.

Everything in the queue is untrusted input: a queue entry that is not a plain `<Name>-v<N>.json` file
within the size limit, or whose JSON or VRM breaks a limit, goes to failed/ with the reason, and no entry
can crash a run or hold up the others.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from ..core.publish import bucket_keys
from ..core.publish.digest import digest_file
from ..core.publish.picker import Thumbnail, picker_facts
from ..core.publish.promotion import (
    MODEL,
    IndexEntry,
    IndexFileError,
    Request,
    RequestError,
    allowlist_lines,
    merge_index,
    outcome_record,
    parse_index,
    parse_request,
    promoted_entry,
    utc_now,
)
from ..core.vrm.inspect import inspect_vrm_file, inspect_vrma_file
from .config import Config, Target
from .rclone import IMMUTABLE_CACHE, INDEX_CACHE, Rclone, RcloneError, join

Log = Callable[[str], None]
# Requests verified together: their artifacts share the scratch folder, so this bounds its size.
BATCH: Final = 20
# With --links, rclone shows a symbolic link in a local folder as a file with this suffix.
_LINK_SUFFIX: Final = ".rclonelink"
_REQUEST_SUFFIX: Final = ".json"
# Writes of one index.json that another promoter may undo before it is read back.
INDEX_ATTEMPTS: Final = 3


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
class _Verified:
    raw: bytes
    request: Request
    vrm: Path
    outcome: Outcome
    meta: dict[str, Any] | None = None  # a model's, for pickers
    thumbnail: Thumbnail | None = None  # a model's embedded thumbnail, served as its own file

    @property
    def thumbnail_file(self) -> str | None:
        return f"{self.request.versioned.stem}.{self.thumbnail.suffix}" if self.thumbnail else None

    @property
    def files(self) -> list[str]:
        """What goes to each tier: the served file, and a model's thumbnail beside it."""
        return [str(self.outcome.file), *([self.thumbnail_file] if self.thumbnail_file else [])]

    def thumbnail_json(self) -> dict[str, Any] | None:
        if self.thumbnail is None:
            return None
        data = self.thumbnail.data
        return {"file": self.thumbnail_file, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
                "mime_type": self.thumbnail.mime_type}  # fmt: skip

    def index_entry(self) -> IndexEntry:
        r = self.request
        return IndexEntry(r.name, r.version, str(self.outcome.file), r.vrm.sha256, r.vrm.size, utc_now(), r.kind,
                          self.meta, self.thumbnail_json())  # fmt: skip


@dataclass
class PassReport:
    dry_run: bool
    outcomes: list[Outcome] = field(default_factory=list)
    # target -> promoted files its index.json lacked and got back (or would, in a dry run)
    repaired: dict[str, list[str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # what kept a repair from happening

    @property
    def newly_promoted(self) -> list[str]:
        # Models promoted by this run; an outcome that an earlier, killed run recorded carries no file. The
        # allowlists gate models only: a clip is served as soon as it is promoted, listed in index.json.
        return [o.file for o in self.outcomes if o.status == "promoted" and o.file and o.file.endswith(".vrm")]

    @property
    def ok(self) -> bool:
        return all(o.status in ("promoted", "would promote") for o in self.outcomes) and not self.problems

    def to_json(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for o in self.outcomes:
            counts[o.status] = counts.get(o.status, 0) + 1
        return {
            "dry_run": self.dry_run,
            "counts": counts,
            "outcomes": [o.to_json() for o in self.outcomes],
            "repaired": self.repaired,
            "problems": self.problems,
            "allowlist": allowlist_lines(self.newly_promoted),
        }


def _error(outcome: Outcome, exc: Exception) -> None:
    outcome.status, outcome.reason, outcome.targets = "error", f"{exc}; left queued for the next run", {}


def _entry_problem(name: str, size: object, limit: int) -> str | None:
    """Why a queue entry cannot be a request, judged from its listing alone (nothing downloaded yet)."""
    if name.endswith(_LINK_SUFFIX):
        return f"queue entry {name[: -len(_LINK_SUFFIX)]!r} is a symbolic link; queue entries must be plain files"
    if not name.endswith(_REQUEST_SUFFIX) or bucket_keys.parse_stem(name[: -len(_REQUEST_SUFFIX)]) is None:
        return f"queue entry {name!r} is not named <Name>-v<N>.json (N from 1 to {bucket_keys.MAX_VERSION})"
    if isinstance(size, int) and size > limit:
        return f"queue entry is {size} bytes, over the limit of {limit}"
    return None


def _stage(items: list[_Verified], stage: Path) -> None:
    """Lays the verified files out as every tier holds them: models and thumbnails at the root, clips in
    animations/."""
    (stage / bucket_keys.ANIMATIONS).mkdir(parents=True)
    for item in items:
        item.vrm.rename(stage / str(item.outcome.file))
        if item.thumbnail is not None:
            (stage / str(item.thumbnail_file)).write_bytes(item.thumbnail.data)


def _stem_of(file: str) -> str:
    """`A-v1.vrm`, `animations/A-v1.vrma` -> `A-v1`: a version is one file, whichever its kind."""
    return file.rsplit("/", 1)[-1].partition(".")[0]


def _record_name(entry: str) -> str:
    """The failed/ record's name for a queue entry: its own, unless that is no name for a request."""
    if _entry_problem(entry, 0, 1) is None:
        return entry
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", entry).lstrip(".")[:100]
    return f"{safe}.{hashlib.sha256(entry.encode('utf-8', 'surrogateescape')).hexdigest()[:8]}.json"


class Promoter:
    def __init__(self, config: Config, rclone: Rclone, log: Log | None = None) -> None:
        self.config = config
        self.rclone = rclone
        self.log = log or (lambda _line: None)

    def _source(self, key: str) -> str:
        return join(self.config.source, key)

    def queued(self) -> tuple[list[str], dict[str, str]]:
        """Queue entries, oldest first (by upload time, then name), and those refused on sight with why.

        A publisher's hidden temporaries (`.A-v1.json.1a2b.tmp`) are neither: they are not written yet.
        """
        entries = self.rclone.lsjson(self._source(bucket_keys.QUEUE), "--links")
        ordered = sorted(entries, key=lambda e: (str(e.get("ModTime", "")), str(e.get("Name", ""))))
        queue: list[str] = []
        refused: dict[str, str] = {}
        for entry in ordered:
            name = str(entry.get("Name", ""))
            if not name or name.startswith("."):
                continue
            problem = _entry_problem(name, entry.get("Size"), self.config.limits.max_request_bytes)
            if problem is None:
                queue.append(name)
            else:
                refused[name] = problem
        return queue, refused

    def run_pass(self, dry_run: bool = False) -> PassReport:
        report = PassReport(dry_run)
        queue, refused = self.queued()
        report.outcomes += self._refuse(refused, dry_run)
        if queue:
            recorded = {
                **dict.fromkeys(self.rclone.names(self._source(bucket_keys.FAILED)), "failed"),
                **dict.fromkeys(self.rclone.names(self._source(bucket_keys.DONE)), "promoted"),
            }
            present = {t.name: self._files(t.remote) for t in self.config.targets}
            for start in range(0, len(queue), BATCH):
                report.outcomes += self._batch(queue[start : start + BATCH], recorded, present, dry_run)
        self._reconcile(report)
        for outcome in report.outcomes:
            self.log(f"{outcome.request}: {outcome.status}" + (f" ({outcome.reason})" if outcome.reason else ""))
        return report

    def _files(self, remote: str) -> set[str]:
        """The files of a target, as index.json names them: models at its root, clips under animations/."""
        clips = self.rclone.names(join(remote, bucket_keys.ANIMATIONS))
        return self.rclone.names(join(remote, "")) | {bucket_keys.ANIMATIONS + name for name in clips}

    def _reconcile(self, report: PassReport) -> None:
        """Adds to each target's index.json the promoted models it lacks: a file on the target whose
        record is in promotion/done/ (its size checked against the record). Costs a listing of done/ and
        one read of each target's index, side by side (each is an rclone start); the target is listed and
        records read only when one is missing."""
        targets = self.config.targets
        with ThreadPoolExecutor(max_workers=1 + len(targets)) as pool:
            listing = pool.submit(self.rclone.names, self._source(bucket_keys.DONE))
            reads = [pool.submit(self.rclone.cat, join(t.remote, "index.json")) for t in targets]
        try:
            promoted = {
                versioned.stem: name
                for name in listing.result()
                if name.endswith(_REQUEST_SUFFIX)
                and (versioned := bucket_keys.parse_stem(name[: -len(_REQUEST_SUFFIX)]))
            }
        except RcloneError as exc:
            report.problems.append(f"promotion/done/ cannot be listed to check the indexes: {exc}")
            return
        for target, read in zip(targets, reads, strict=True):
            index_path = join(target.remote, "index.json")
            try:
                indexed = {_stem_of(m["file"]) for m in parse_index(read.result(), self.config.limits.index())}
                missing = {stem: record for stem, record in promoted.items() if stem not in indexed}
                listed = self._sizes(target.remote) if missing else {}
            except (RcloneError, IndexFileError) as exc:
                report.problems.append(f"{target.name}: {index_path} cannot be checked ({exc})")
                continue
            on_target = {_stem_of(file): file for file in listed}
            entries = []
            for stem, record in sorted(missing.items()):
                file = on_target.get(stem)
                if file is None:  # not promoted to this target (yet): nothing to index
                    continue
                try:
                    entry = promoted_entry(self.rclone.cat(self._source(bucket_keys.DONE + record)) or b"",
                                           self.config.limits.request())  # fmt: skip
                except (RcloneError, RequestError) as exc:
                    report.problems.append(f"{target.name}: {file} is not in {index_path}: its done record: {exc}")
                    continue
                if entry.file != file or entry.size != listed[file]:
                    report.problems.append(f"{target.name}: {file} is not in {index_path} and differs from its "
                                           "done record; left for a person")  # fmt: skip
                    continue
                entries.append(entry)
            if not entries:
                continue
            report.repaired[target.name] = [e.file for e in entries]
            if report.dry_run:
                continue
            try:
                self._write_index(index_path, target, entries)
            except (RcloneError, IndexFileError) as exc:
                del report.repaired[target.name]
                report.problems.append(f"{target.name}: {index_path} could not be repaired: {exc}")
                continue
            self.log(f"{target.name}: {index_path} lacked {', '.join(e.file for e in entries)} (promoted): added")

    def _sizes(self, remote: str) -> dict[str, object]:
        """A target's promoted files (as index.json names them) and their sizes."""
        listed = {str(e.get("Name")): e.get("Size") for e in self.rclone.lsjson(join(remote, ""))}
        for entry in self.rclone.lsjson(join(remote, bucket_keys.ANIMATIONS)):
            listed[bucket_keys.ANIMATIONS + str(entry.get("Name"))] = entry.get("Size")
        return listed

    def _refuse(self, refused: dict[str, str], dry_run: bool) -> list[Outcome]:
        """Moves queue entries that cannot be requests to failed/, each with its reason, unread."""
        outcomes = [Outcome(name, "would fail" if dry_run else "failed", reason) for name, reason in refused.items()]
        if dry_run or not outcomes:
            return outcomes
        with tempfile.TemporaryDirectory(prefix="avatar-forge-refused-") as scratch:
            for outcome in outcomes:
                detail = {"reason": outcome.reason, "queue_entry": outcome.request}
                (Path(scratch) / _record_name(outcome.request)).write_bytes(outcome_record(b"", "failed", detail))
            try:
                self.rclone.run("copy", scratch, self._source(bucket_keys.FAILED))
            except RcloneError as exc:
                for outcome in outcomes:
                    _error(outcome, exc)
                return outcomes
        for outcome in outcomes:
            try:
                # One by one and by name: such names cannot go in a --files-from list (a newline).
                self.rclone.deletefile(self._source(bucket_keys.QUEUE + outcome.request), "--links")
            except RcloneError as exc:
                self.log(f"{outcome.request!r} is recorded in failed/ but stays queued until the next run: {exc}")
        return outcomes

    def _fetch(self, keys: list[str], into: Path) -> None:
        """Downloads source keys under `into` (same relative paths) in one rclone run; missing ones are skipped."""
        listing = into / ".keys"
        listing.write_text("".join(f"{k}\n" for k in keys))
        self.rclone.run("copy", "--files-from-raw", str(listing), self.config.source, str(into))

    def _batch(
        self, entries: list[str], recorded: dict[str, str], present: dict[str, set[str]], dry_run: bool
    ) -> list[Outcome]:
        outcomes = {e: Outcome(e, "error") for e in entries}
        with tempfile.TemporaryDirectory(prefix="avatar-forge-promote-") as scratch:
            root = Path(scratch)
            try:
                self._fetch([f"{bucket_keys.QUEUE}{e}" for e in entries], root)
                raws = {
                    e: (root / bucket_keys.QUEUE / e).read_bytes()
                    for e in entries
                    if (root / bucket_keys.QUEUE / e).is_file()
                }
                for entry in set(entries) - set(raws):
                    outcomes[entry].reason = "the queue entry vanished (another promoter?)"
                # A run killed after recording these: only their queue entries are left to remove.
                finished = [e for e in raws if e in recorded]
                for entry in finished:
                    outcomes[entry].status, outcomes[entry].reason = recorded[entry], "recorded by an earlier run"
                verified, rejected = self._verify({e: raws[e] for e in raws if e not in recorded}, root, outcomes)
            except RcloneError as exc:
                for outcome in outcomes.values():
                    _error(outcome, exc)
                return list(outcomes.values())
            for entry, (_raw, reason) in rejected.items():
                outcomes[entry].status, outcomes[entry].reason = "would fail" if dry_run else "failed", reason
            for item in verified.values():
                item.outcome.file = item.request.served_file
                item.outcome.status = "would promote" if dry_run else "promoted"
            if not dry_run:
                self._deliver(list(verified.values()), root / ".stage", present)
                self._conclude(verified, rejected, finished, root / ".records")
        return [outcomes[e] for e in entries]

    def _fetch_artifacts(self, requests: dict[str, Request], root: Path) -> dict[str, RcloneError]:
        """Downloads every request's artifacts; the requests whose own artifacts could not be fetched.

        All at once first; if that fails (one file too large for the scratch space, one unreadable),
        request by request, so that the failure is charged to the request it belongs to.
        """
        try:
            self._fetch([a.key for r in requests.values() for a in r.artifacts], root)
        except RcloneError:
            failed: dict[str, RcloneError] = {}
            for entry, request in requests.items():
                try:
                    self._fetch([a.key for a in request.artifacts], root)
                except RcloneError as exc:
                    failed[entry] = exc
                    for artifact in request.artifacts:  # make room for the next one
                        (root / artifact.key).unlink(missing_ok=True)
            return failed
        return {}

    def _verify(
        self, raws: dict[str, bytes], root: Path, outcomes: dict[str, Outcome]
    ) -> tuple[dict[str, _Verified], dict[str, tuple[bytes, str]]]:
        """Requests whose artifacts are exactly what was published, and the rejected ones with their reason.

        A request whose artifacts could not be fetched is neither: its outcome says why, and it stays queued.
        """
        requests: dict[str, Request] = {}
        rejected: dict[str, tuple[bytes, str]] = {}
        limits = self.config.limits
        for entry, raw in raws.items():
            try:
                request = parse_request(raw, limits.request())
                if f"{request.versioned.stem}.json" != entry:
                    raise _RejectedError(f"queue entry {entry} describes {request.versioned.stem}")
                requests[entry] = request
            except (RequestError, _RejectedError) as exc:
                rejected[entry] = (raw, str(exc))
        for entry, trouble in self._fetch_artifacts(requests, root).items():
            _error(outcomes[entry], trouble)
            del requests[entry]
        verified: dict[str, _Verified] = {}
        for entry, request in requests.items():
            try:
                self._check_artifacts(request, root)
                verified[entry] = _Verified(raws[entry], request, root / request.vrm.key, outcomes[entry])
                if request.kind == MODEL:
                    facts = picker_facts(root / request.vrm.key, limits.vrm(), limits.max_thumbnail_bytes)
                    verified[entry].meta, verified[entry].thumbnail = facts.meta, facts.thumbnail
            except _RejectedError as exc:
                rejected[entry] = (raws[entry], str(exc))
            finally:
                # Only verified VRMs travel on: free the scratch space for the requests after this one.
                (root / request.blend.key).unlink(missing_ok=True)
                if entry not in verified:
                    (root / request.vrm.key).unlink(missing_ok=True)
        return verified, rejected

    def _check_artifacts(self, request: Request, root: Path) -> None:
        """Raises _RejectedError unless the artifacts are what was published and the VRM is loadable."""
        for artifact in request.artifacts:
            path = root / artifact.key
            if not path.is_file():
                raise _RejectedError(f"{artifact.key} is missing")
            digest = digest_file(path)
            if digest.size != artifact.size:
                raise _RejectedError(f"{artifact.key} is {digest.size} bytes, the request says {artifact.size}")
            if digest.sha256 != artifact.sha256:
                raise _RejectedError(f"{artifact.key} sha256 {digest.sha256} differs from the request's")
        inspect, what = (inspect_vrm_file, "VRM") if request.kind == MODEL else (inspect_vrma_file, "VRM Animation")
        problems = inspect(root / request.vrm.key, self.config.limits.vrm()).problems
        if problems:
            raise _RejectedError(f"{request.vrm.key} is not a valid {what}: {'; '.join(problems)}")

    def _deliver(self, items: list[_Verified], stage: Path, present: dict[str, set[str]]) -> None:
        """Copies the verified VRMs to every target, then adds them to each target's index.json."""
        if not items:
            return
        _stage(items, stage)
        for target in self.config.targets:
            for item in items:  # what failed at an earlier target goes to no later one
                if item.outcome.status != "promoted":
                    for file in item.files:
                        (stage / file).unlink(missing_ok=True)
            copying = [i for i in items if i.outcome.status == "promoted"]
            if not copying:
                continue
            index_path = join(target.remote, "index.json")
            try:
                parse_index(self.rclone.cat(index_path), self.config.limits.index())
            except (RcloneError, IndexFileError) as exc:
                # Checked before copying: a target whose index cannot be extended gets nothing unindexed.
                problem = f"{target.name}: {index_path} cannot be read or extended ({exc}); fix it by hand"
                for item in copying:
                    _error(item.outcome, RuntimeError(problem))
                continue
            # --immutable: a file already there with other content is an error and is never replaced.
            flags = ["--header-upload", IMMUTABLE_CACHE] if target.s3 else []
            try:
                self.rclone.run("copy", "--immutable", "--checksum", *flags, str(stage), join(target.remote, ""))
            except RcloneError:
                # One conflicting file fails the whole copy: find it, and let the others go out.
                copying = self._copy_each(target.remote, flags, stage, copying, target.name)
            try:
                self._write_index(index_path, target, [item.index_entry() for item in copying])
            except (RcloneError, IndexFileError) as exc:
                for item in copying:
                    _error(item.outcome, RuntimeError(f"{target.name}: {exc}"))
                continue
            for item in copying:
                item.outcome.targets[target.name] = (
                    "already there" if item.outcome.file in present[target.name] else "copied"
                )

    def _copy_each(
        self, remote: str, flags: list[str], stage: Path, items: list[_Verified], target: str
    ) -> list[_Verified]:
        """Copies item by item; the ones that fail are left queued with the reason. Returns the rest.

        Each is a `copy` of the stage limited to one file, not a `copyto`: rclone 1.75's copyto replaces a
        different file at the destination despite --immutable.
        """
        copied = []
        listing = stage.parent / "one-file"
        for item in items:
            listing.write_text("".join(f"{file}\n" for file in item.files))
            try:
                self.rclone.run(
                    "copy", "--immutable", "--checksum", *flags, "--files-from-raw", str(listing), str(stage),
                    join(remote, ""),
                )  # fmt: skip
            except RcloneError as exc:
                _error(item.outcome, RuntimeError(f"{target}: {exc}"))
                for file in item.files:
                    (stage / file).unlink(missing_ok=True)
            else:
                copied.append(item)
        return copied

    def _write_index(self, index_path: str, target: Target, entries: list[IndexEntry]) -> None:
        """Merges `entries` into the index as it is right before writing, writes it, and reads it back
        until they are all there (another promoter's write can land between ours and the check)."""
        limits = self.config.limits.index()
        for _attempt in range(INDEX_ATTEMPTS):
            raw = self.rclone.cat(index_path)
            changed = False
            for entry in entries:
                raw, added = merge_index(raw, entry, limits, target.url)
                changed = changed or added
            if not changed or raw is None:
                return
            with tempfile.TemporaryDirectory(prefix="avatar-forge-index-") as scratch:
                local = Path(scratch) / "index.json"
                local.write_bytes(raw)
                self.rclone.copyto(str(local), index_path, immutable=False, header=INDEX_CACHE if target.s3 else None)
            listed = {m["file"] for m in parse_index(self.rclone.cat(index_path), limits)}
            if all(e.file in listed for e in entries):
                return
        raise IndexFileError(
            f"{index_path} lost our entries to other writes {INDEX_ATTEMPTS} times (another promoter?)"
        )

    def _conclude(
        self,
        verified: dict[str, _Verified],
        rejected: dict[str, tuple[bytes, str]],
        finished: list[str],
        records: Path,
    ) -> None:
        """Writes done/ and failed/ records, then removes the queue entries they conclude (in that order)."""
        concluded = list(finished)
        for folder, status in ((bucket_keys.DONE, "promoted"), (bucket_keys.FAILED, "failed")):
            local = records / folder
            local.mkdir(parents=True)
            if folder == bucket_keys.DONE:
                items = {
                    e: (
                        i.raw,
                        {
                            "file": i.outcome.file,
                            "sha256": i.request.vrm.sha256,
                            "targets": i.outcome.targets,
                            "meta": i.meta,
                            "thumbnail": i.thumbnail_json(),
                        },
                    )
                    for e, i in verified.items()
                    if i.outcome.status == "promoted"
                }
            else:
                items = {e: (raw, {"reason": reason}) for e, (raw, reason) in rejected.items()}
            for entry, (raw, detail) in items.items():
                (local / entry).write_bytes(outcome_record(raw, status, detail))
            if items:
                try:
                    self.rclone.run("copy", str(local), self._source(folder))
                except RcloneError as exc:
                    for entry in items:
                        if entry in verified:
                            _error(verified[entry].outcome, exc)
                    continue
                concluded += items
        if concluded:
            listing = records / ".queue"
            listing.write_text("".join(f"{e}\n" for e in concluded))
            try:
                self.rclone.run("delete", "--files-from-raw", str(listing), self._source(bucket_keys.QUEUE))
            except RcloneError as exc:
                # The outcomes are recorded: the next run sees that and only removes these entries.
                self.log(f"queue entries stay until the next run: {exc}")
