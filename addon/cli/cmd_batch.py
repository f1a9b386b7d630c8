"""`forge.py batch`: re-export every published avatar, or convert a folder, S3 prefix or list of models,
one worker process per item; `--shard I/N` takes this shard's items so N pods share the work without
talking. `forge.py batch-report` merges the shards' reports. This process never imports Blender."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..batch import plan, report
from ..batch.shards import WHOLE, Shard, parse_shard, select
from ..core.models.files import is_model_file
from ..core.terminal import write_control
from ..core.wire.json_limits import JsonLimits, load_json
from ..process import children
from ..storage.base import Storage, StorageError
from ..storage.targets import open_location
from .command import EXIT_OK, EXIT_PROBLEMS, Command, Result, UsageError

DEFAULT_TIMEOUT = 1800.0
# A report holds about 300 bytes an item; one read by batch-report is parsed within these bounds.
_REPORT_LIMITS = JsonLimits(max_bytes=256 * 1024 * 1024, max_depth=32)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--from", dest="source", required=True, metavar="SOURCE",
        help="a bucket's projects/ (folder or s3:// prefix: each model's latest .blend is re-exported and "
        "published), or models to convert: a folder, an s3:// prefix, or a list file (a path or s3:// URL a line)",
    )  # fmt: skip
    parser.add_argument("--preset", required=True, help="export preset (see `forge.py presets`)")
    parser.add_argument("--fix", choices=("safe", "all"), help="fix each rig first (as `convert --fix`)")
    parser.add_argument(
        "--rig", choices=("auto", "replace"),
        help="models to convert only (as `convert --rig`): auto rigs a model whose meshes no armature drives, "
        "replace discards each model's own armature and rigs it anew",
    )  # fmt: skip
    parser.add_argument(
        "--out", required=True, metavar="DEST",
        help="where the results go: the storage root (folder or s3://) re-exports are published to, or the "
        "folder or s3:// prefix for converted .vrm files; reports and done markers go under DEST/batch/",
    )  # fmt: skip
    parser.add_argument("--shard", help="I/N: only the items whose stable hash falls in shard I of N (0-based)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per item (default 1800)")
    parser.add_argument("--run", help="the run's id, shared by its shards (default: derived from the arguments)")
    parser.add_argument("--endpoint-url", help="S3 endpoint (default: AWS, or AWS_ENDPOINT_URL)")


def _open(where: str, endpoint: str | None) -> Storage:
    try:
        return open_location(where, endpoint)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _models(source: str, endpoint: str | None) -> list[tuple[str, str]]:
    """(id, source) of each model a folder, an S3 prefix or a list file names."""
    if source.startswith("s3://"):
        keys = _open(source, endpoint).list("")
        return [(key, f"{source.rstrip('/')}/{key}") for key in keys if is_model_file(Path(key))]
    path = Path(source).expanduser().absolute()
    if path.is_dir():
        return [(p.name, str(p)) for p in sorted(path.iterdir()) if p.is_file() and is_model_file(p)]
    if not path.is_file():
        raise UsageError(f"{path}: no such file or folder")
    if is_model_file(path):
        raise UsageError(f"{path} is one model: give a folder, an s3:// prefix or a list file (or use convert)")
    try:
        entries = plan.list_entries(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the list file {path}: {exc}") from None
    return [(e, e if e.startswith("s3://") else str((path.parent / e).absolute())) for e in entries]


def _plan(source: str, endpoint: str | None, rig: str | None) -> list[plan.Item]:
    kind = plan.source_kind(source, not source.startswith("s3://") and Path(source).expanduser().is_dir())
    if rig and kind == "projects":
        raise UsageError(f"--rig {rig} rigs models to convert; {source} holds projects to re-export")
    try:
        if kind == "projects":
            root = plan.root_of_projects(source)
            items = plan.project_items(root, _open(root, endpoint).list("projects/"))
        else:
            items = plan.convert_items(_models(source, endpoint))
    except StorageError as exc:
        raise UsageError(f"cannot list {source}: {exc}") from None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if not items:
        raise UsageError(f"{source}: nothing to do (no models, or no projects/<Name>-v<N>.blend)")
    return items


def _worker(args: argparse.Namespace, *more: str, timeout: float) -> tuple[int, dict[str, Any] | None, str]:
    """Runs `batch-item` in a child process (children.run: killed on timeout, and with this process when it
    is interrupted, terminated or killed): (exit code, its JSON, stderr)."""
    command = [*children.forge_command(), "batch-item", "--json", "--preset", args.preset, *more]
    command += ["--fix", args.fix] if args.fix else []
    command += ["--rig", args.rig] if args.rig else []
    command += ["--endpoint-url", args.endpoint_url] if args.endpoint_url else []
    finished = children.run(command, timeout=timeout)
    if finished.timed_out:
        return finished.code, None, f"timed out after {timeout:g} s"
    try:
        data = json.loads(finished.stdout)
    except json.JSONDecodeError:
        data = None
    return finished.code, data if isinstance(data, dict) else None, finished.stderr


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip()[:300] if lines else "no output"


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    """The versions and the preset, from a worker (this process has no Blender to ask)."""
    code, data, err = _worker(args, "--probe", timeout=300)
    if code != EXIT_OK or data is None:
        raise UsageError(_last_line(err).removeprefix("forge: error: "))
    key = plan.settings_key(data["preset"], args.fix, data["versions"], args.rig)
    return {"key": key, "preset": args.preset, "fix": args.fix, "rig": args.rig, "versions": data["versions"]}


def _run_item(args: argparse.Namespace, item: plan.Item, settings: str) -> dict[str, Any]:
    started = time.perf_counter()
    code, data, err = _worker(
        args, "--item", json.dumps(item.to_json()), "--out", args.out, "--settings", settings, timeout=args.timeout
    )
    seconds = time.perf_counter() - started
    if data is not None and data.get("status") in ("done", "skipped", "failed"):
        return report.item_result(item.to_json(), data["status"], reason=data.get("reason"), result=data,
                                  seconds=seconds)  # fmt: skip
    why = err if code == -signal.SIGKILL and data is None and err.startswith("timed out") else _last_line(err)
    reason = f"worker {children.describe(code)}: {why}"
    return report.item_result(item.to_json(), "failed", reason=reason, seconds=seconds)


class _Progress:
    """A bar with an ETA on a terminal, a line per item elsewhere (a pod's log)."""

    def __init__(self, total: int) -> None:
        self.total, self.done, self.started = total, 0, time.perf_counter()
        self.tty = sys.stderr.isatty()

    def show(self, what: str) -> None:
        line = report.progress_line(self.done, self.total, time.perf_counter() - self.started, what)
        if self.tty:  # our own carriage return and erase-line; the item names in the line stay escaped
            write_control(sys.stderr, "\r\033[K")
        print(line if self.tty else f"batch: {line}", end="" if self.tty else "\n", file=sys.stderr, flush=True)

    def finish(self, result: dict[str, Any]) -> None:
        self.done += 1
        self.show(f"{result['id']}: {result['status']}")
        if self.tty and self.done == self.total:
            print(file=sys.stderr)


def _run(args: argparse.Namespace) -> Result:
    started = time.perf_counter()
    try:
        shard: Shard = parse_shard(args.shard) if args.shard else WHOLE
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.timeout <= 0:
        raise UsageError("--timeout must be a positive number of seconds")
    dest = _open(args.out, args.endpoint_url)
    items = _plan(args.source, args.endpoint_url, args.rig)
    settings = _settings(args)
    run = args.run or plan.run_id(args.source, args.out, args.preset, args.fix, args.rig)
    mine = select(items, [i.id for i in items], shard)
    progress = _Progress(len(mine))
    results = []
    for item in mine:
        progress.show(item.id)
        results.append(_run_item(args, item, settings["key"]))
        progress.finish(results[-1])
    data = report.shard_report(run, (shard.index, shard.count), settings, results, time.perf_counter() - started)
    data["planned"] = len(items)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")  # sorts by time; a retry's never collides
    key = plan.report_key(run, shard.index, shard.count, stamp)
    try:
        dest.put_bytes(key, report.encode(data))
    except StorageError as exc:
        print(f"forge: warning: the report could not be stored: {exc}", file=sys.stderr)
        key = ""
    data["report"] = dest.where(key) if key else None
    counts = data["counts"]
    summary = (f"shard {shard.label} of run {run}: {len(mine)} of {len(items)} item(s): {counts['done']} done, "
               f"{counts['skipped']} skipped, {counts['failed']} failed")  # fmt: skip
    lines = [f"{r['status']:<8} {r['id']}: {r['written'] or report.reason(r)}" for r in results]
    lines += [summary] + ([f"report: {data['report']}"] if data["report"] else [])
    return Result(data, lines, EXIT_PROBLEMS if counts["failed"] or not key else EXIT_OK)


def _add_report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="dest", required=True, metavar="DEST", help="the --out the batch wrote to")
    parser.add_argument("--run", help="which run (default: the only one there)")
    parser.add_argument("--endpoint-url", help="S3 endpoint (default: AWS, or AWS_ENDPOINT_URL)")


def _read_report(dest: Storage, key: str) -> Any:
    """A stored report's JSON value; ValueError (one line) for one that is gone, too large or not JSON."""
    return load_json(dest.read_bytes(key) or b"", _REPORT_LIMITS, "the file")


def _run_report(args: argparse.Namespace) -> Result:
    dest = _open(args.dest, args.endpoint_url)
    try:
        keys = dest.list(plan.REPORTS)
        runs = sorted({k[len(plan.REPORTS) :].split("/", 1)[0] for k in keys})
        if args.run is None and len(runs) != 1:
            found = ", ".join(runs) or "none"
            raise UsageError(f"{dest.where(plan.REPORTS)}: {len(runs)} runs ({found}); choose one with --run")
        run = args.run or runs[0]
        mine = [k for k in keys if k.startswith(f"{plan.REPORTS}{run}/")]
        if not report.per_shard_newest_first(mine):
            raise UsageError(f"no reports of run {run} in {dest.where(plan.REPORTS)}")
        reports, ignored = report.pick(run, mine, lambda key: _read_report(dest, key))
    except StorageError as exc:
        raise UsageError(str(exc)) from None
    merged = report.merge(run, reports, [f"{dest.where(plan.REPORTS)}{why[len(plan.REPORTS) :]}" for why in ignored])
    return Result(merged, report.lines(merged), EXIT_OK if merged["ok"] else EXIT_PROBLEMS)


COMMAND = Command(
    "batch", "re-export every published avatar, or convert many models, one process per item", _add_arguments,
    _run, needs_bpy=False,
)  # fmt: skip
REPORT_COMMAND = Command(
    "batch-report", "merge the shards' reports of a batch run", _add_report_arguments, _run_report, needs_bpy=False
)
