"""What a subcommand is, what it returns, and the errors that map to exit codes."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import ForgeError, InputError, finding_line

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 70  # a bug of ours, not the user's: the one case that prints a traceback


class UsageError(InputError):
    """Bad usage or bad input: one line on stderr, exit 2, nothing written."""


@dataclass
class Result:
    data: dict[str, Any]
    lines: list[str] = field(default_factory=list)  # what a person reads without --json
    exit_code: int = EXIT_OK


def failed(exc: ForgeError, headline: str = "{}", *, severity: str | None = None, **data: Any) -> Result:
    """A refused or failed operation as a command's result (exit 1): `data`, the reason and the refusing
    rig check's report in the JSON; the headline (`{}` is the reason) and the findings (of `severity`) as text."""
    lines = [headline.format(exc), *(f"  {finding_line(f)}" for f in exc.findings(severity))]
    return Result({**data, **exc.to_json()}, lines, EXIT_PROBLEMS)


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], Result]
    needs_bpy: bool = True
    # Opens --blend itself once its other arguments are checked (a mistake in them is reported before Blender
    # reads the file), or hands it on (mcp to a Blender), instead of having it opened first.
    own_blend: bool = False
