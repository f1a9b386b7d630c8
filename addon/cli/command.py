"""What a subcommand is, what it returns, and the errors that map to exit codes."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 70  # a bug of ours, not the user's: the one case that prints a traceback


class UsageError(Exception):
    """Bad usage or bad input: one line on stderr, exit 2, nothing written."""


@dataclass
class Result:
    data: dict[str, Any]
    lines: list[str] = field(default_factory=list)  # what a person reads without --json
    exit_code: int = EXIT_OK


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], Result]
    needs_bpy: bool = True
    own_blend: bool = False  # reads --blend itself instead of having it opened (mcp hands it to a Blender)
