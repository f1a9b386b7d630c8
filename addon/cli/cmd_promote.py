"""`forge.py promote`: move verified models from the promotion queue to the serving tiers. No bpy."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..promote.config import ConfigError, load_config
from ..promote.promoter import PassReport, Promoter
from ..promote.rclone import Rclone, RcloneError, find_rclone
from .command import EXIT_OK, EXIT_PROBLEMS, Command, Result, UsageError


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, type=Path, help="the promoter's TOML config")
    parser.add_argument("--once", action="store_true", help="process the queue once and exit (else poll)")
    parser.add_argument("--dry-run", action="store_true", help="verify and report; copy, index and move nothing")


def _lines(report: PassReport) -> list[str]:
    lines = []
    for o in report.outcomes:
        where = ", ".join(f"{t} {how}" for t, how in o.targets.items())
        # A queue entry's name is untrusted: one with a newline must not forge a line of this report.
        entry = o.request if o.request.isprintable() else repr(o.request)
        lines.append(f"{entry}: {o.status}" + (f" - {o.reason}" if o.reason else "") + (f" ({where})" if where else ""))
    if not report.outcomes:
        lines.append("nothing queued")
    verb = "would add" if report.dry_run else "added"
    for target, files in report.repaired.items():
        lines.append(f"{target}: index.json lacked {', '.join(files)} (promoted earlier): {verb}")
    lines += report.problems
    allowlist = report.to_json()["allowlist"]
    if allowlist:
        lines += ["", "To make the new models selectable, add to the frontend (a reviewed change):", *allowlist]
    return lines


def _run(args: argparse.Namespace) -> Result:
    try:
        config = load_config(args.config.expanduser())
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    try:
        rclone = Rclone(find_rclone(config.rclone))
    except RcloneError as exc:
        raise UsageError(str(exc)) from None
    promoter = Promoter(config, rclone, log=lambda line: print(f"promote: {line}", file=sys.stderr))
    while True:
        try:
            report = promoter.run_pass(dry_run=args.dry_run)
        except RcloneError as exc:  # the source cannot even be listed: nothing was touched
            if args.once or args.dry_run:
                return Result({"error": str(exc)}, [f"promote: {exc}"], EXIT_PROBLEMS)
            print(f"promote: {exc}; retrying in {config.poll_seconds:g} s", file=sys.stderr, flush=True)
        else:
            if args.once or args.dry_run:
                return Result(report.to_json(), _lines(report), EXIT_OK if report.ok else EXIT_PROBLEMS)
            for line in _lines(report) if report.outcomes or report.repaired or report.problems else []:
                print(line, flush=True)
        time.sleep(config.poll_seconds)


COMMAND = Command(
    "promote",
    "verify queued models and copy them to the serving tiers (no Blender needed)",
    _add_arguments,
    _run,
    needs_bpy=False,
)
