"""`forge.py check`: the humanoid rig check, optionally with every safe fix (then the file is saved)."""

from __future__ import annotations

import argparse

from ..core.rig.findings import CheckReport
from .blender_args import add_verbose, enable_vrm_addon
from .blender_args import preset as cli_preset
from .command import EXIT_OK, EXIT_PROBLEMS, Command, Result, UsageError

DEFAULT_TARGET = "companions-web"


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--armature", help="the armature to check (default: the one with most VRM bones mapped)")
    parser.add_argument("--target", default=DEFAULT_TARGET, help=f"preset for spec and budgets ({DEFAULT_TARGET})")
    parser.add_argument(
        "--fix",
        nargs="?",
        const="safe",
        choices=("safe", "all"),
        help="fix what can be fixed, then save the --blend file: 'safe' (the default) keeps every vertex where it "
        "is; 'all' also changes the skeleton where that makes it a VRM humanoid",
    )
    add_verbose(parser)


def report_lines(report: CheckReport) -> list[str]:
    """What a person reads: one line per finding, errors first, and a verdict."""
    tag = {"safe": "  [fixable]", "structural": "  [fixable with --fix all]", None: ""}
    lines = [f"fixed   {line}" for line in report.fixes]
    lines += [f"{f.severity:<7} {f.id:<28} {f.message}{tag[f.fix]}" for f in report.findings]
    errors = len(report.errors())
    verdict = "ready" if report.ok else f"{errors} error(s)"
    lines.append(
        f"{report.armature or 'no armature'}: {verdict}, {len(report.findings) - errors} other finding(s), "
        f"{len(report.mapping)} VRM bones mapped ({report.seconds:.2f} s)"
    )
    return lines


def _run(args: argparse.Namespace) -> Result:
    import bpy

    from ..blender import console, rig_check

    preset = cli_preset(args.target)
    enable_vrm_addon("no VRM mapping can be read or written")
    if args.fix and not bpy.data.filepath:
        raise UsageError("--fix needs a .blend file (--blend FILE): the fixes are saved into it")
    with console.quiet(args.verbose):  # the fixes' and the save's own output: see add_verbose
        report = rig_check.check_rig(args.armature, preset)  # no such armature: an InputError, exit 2
        if args.fix and any(f.fixable and (args.fix == "all" or not f.structural) for f in report.findings):
            report = rig_check.check_rig(report.armature, preset, fix=args.fix)
            # Blender keeps the previous version beside it as FILE.blend1.
            bpy.ops.wm.save_mainfile()
    return Result(report.to_json(), report_lines(report), EXIT_OK if report.ok else EXIT_PROBLEMS)


COMMAND = Command("check", "check the humanoid rig for VRM (and fix what is safe with --fix)", _add_arguments, _run)
