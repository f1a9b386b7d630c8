"""Argument parsing, the --blend/--json conventions, and exit codes, shared by every subcommand."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import sys
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import NoReturn

from ..core.errors import InputError, OperationError
from ..core.terminal import EscapingWriter, printable
from ..process import children, lifetime, scratch
from . import (
    cmd_animation,
    cmd_batch,
    cmd_batch_item,
    cmd_check,
    cmd_convert,
    cmd_demo,
    cmd_export,
    cmd_import_probe,
    cmd_mcp,
    cmd_presets,
    cmd_promote,
    cmd_publish,
    cmd_serve,
    cmd_serving_module,
    cmd_version,
)
from .command import EXIT_INTERNAL, EXIT_USAGE, Command, Result, UsageError, failed
from .paths import open_blend

EXIT_BROKEN_PIPE = 128 + 13  # as a process killed by SIGPIPE
_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))

COMMANDS: tuple[Command, ...] = (
    cmd_version.COMMAND,
    cmd_demo.COMMAND,
    cmd_check.COMMAND,
    cmd_presets.COMMAND,
    cmd_export.COMMAND,
    cmd_animation.EXPORT_COMMAND,
    cmd_convert.COMMAND,
    cmd_serve.COMMAND,
    cmd_mcp.COMMAND,
    cmd_publish.COMMAND,
    cmd_animation.PUBLISH_COMMAND,
    cmd_promote.COMMAND,
    cmd_serving_module.COMMAND,
    cmd_batch.COMMAND,
    cmd_batch.REPORT_COMMAND,
    cmd_batch_item.COMMAND,
    cmd_import_probe.COMMAND,
)


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--blend", type=Path, help="open this .blend file first")
    common.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    parser = argparse.ArgumentParser(
        prog="forge.py",
        description="Avatar Forge: build, check, export and publish VRM avatars, headless.",
        epilog="exit codes: 0 ok, 1 the work found problems, 2 bad usage or bad input",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")
    for command in COMMANDS:
        p = sub.add_parser(command.name, help=command.help, parents=[common], description=command.help)
        command.add_arguments(p)
        p.set_defaults(_command=command)
    return parser


@contextlib.contextmanager
def _stdout_reserved(reserve: bool) -> Iterator[int | None]:
    """With --json, point fd 1 at stderr while working: Blender writes logs to fd 1 itself.

    Yields a duplicate of the real stdout to write the one JSON document to, or None.
    """
    if not reserve:
        yield None
        return
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield saved
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


@contextlib.contextmanager
def _escaped_output() -> Iterator[None]:
    """Everything a command prints passes through an EscapingWriter: names from models, files and
    storage reach the terminal with their control characters escaped, whichever message prints them."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = EscapingWriter(saved[0]), EscapingWriter(saved[1])
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stdout, sys.stderr = saved


def _execute(args: argparse.Namespace) -> Result:
    command: Command = args._command
    if args.blend is not None and not command.own_blend:
        if not command.needs_bpy:
            raise UsageError(f"{command.name} does not use a .blend file")
        open_blend(args.blend, verbose=getattr(args, "verbose", False))  # only some commands have --verbose
    return command.run(args)


def main(argv: Sequence[str]) -> int:
    """Runs one subcommand and returns its exit code; never raises for a user's mistake."""
    try:
        args = _parser().parse_args(list(argv))
    except SystemExit as exc:  # argparse has printed usage and the error
        return int(exc.code or 0)
    with _stdout_reserved(args.json) as json_fd, _escaped_output():
        try:
            result = _execute(args)
        except InputError as exc:  # the user's mistake: one line, never a traceback
            print(f"forge: error: {printable(str(exc))}", file=sys.stderr)
            return EXIT_USAGE
        except OperationError as exc:  # the work found a problem the command does not render itself
            result = failed(exc, f"forge: {args.command}: {{}}")
        except KeyboardInterrupt:
            print("forge: interrupted", file=sys.stderr)
            return 130
        except Exception:
            traceback.print_exc()
            print(
                f"forge: internal error in {args.command}; please report it with the traceback above", file=sys.stderr
            )
            return EXIT_INTERNAL
        try:
            if json_fd is not None:
                os.write(json_fd, (json.dumps(result.data, indent=2, sort_keys=True) + "\n").encode())
            else:
                for line in result.lines:
                    print(printable(line))
                sys.stdout.flush()
        except BrokenPipeError:  # the reader went away (`| head`): what a pipe's writer exits with
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)  # what is still buffered goes nowhere, not into an error
            os.close(devnull)
            return EXIT_BROKEN_PIPE
    return result.exit_code


def _leave(code: int) -> NoReturn:
    """Ends this process, whatever state it is in: children killed, output flushed where it still can be,
    this process's temp folder removed, and no interpreter shutdown (bpy can hang there, DESIGN.md)."""
    for sig in _SIGNALS:
        signal.signal(sig, signal.SIG_IGN)  # a second Ctrl-C does not interrupt the cleanup
    children.stop_all()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe, a closed file
            stream.flush()
    bpy = sys.modules.get("bpy")
    if bpy is not None and Path(bpy.app.tempdir).name.startswith("blender_"):
        # Blender removes its session temp folder at its own exit, which os._exit skips (it is inside our
        # folder unless Blender started before us: a Blender binary running this script).
        shutil.rmtree(bpy.app.tempdir, ignore_errors=True)
    scratch.release()
    os._exit(code)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    with contextlib.suppress(OSError, ValueError):
        print(f"forge: {'interrupted' if signum == signal.SIGINT else 'terminated'}", file=sys.stderr, flush=True)
    _leave(128 + signum)


def run_process(argv: Sequence[str]) -> NoReturn:
    """Runs one subcommand as this whole process (launch.py) and ends it through _leave on every path: its
    exit code, an exception, a closed stdout, SIGINT, SIGTERM or SIGHUP (serve and mcp handle SIGINT and
    SIGTERM themselves while they run). A process we started dies with its parent."""
    lifetime.follow_parent()
    scratch.claim()  # before Blender loads: its own temp folder goes inside ours
    for sig in _SIGNALS:
        signal.signal(sig, _on_signal)
    code = EXIT_INTERNAL
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else EXIT_USAGE
    finally:
        _leave(code)
