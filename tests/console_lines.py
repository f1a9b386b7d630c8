"""Where a forge.py run's lines belong: its own report on stdout (or its one JSON document), its progress and
Blender's warnings and errors, once each, on stderr; Blender's chatter (an importer's INFO line per glTF node,
the FBX importer's version, `Read blend: ...`) nowhere unless --verbose."""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import sys
import tempfile
from collections.abc import Iterator

from tests.conftest import ForgeRun

# convert's report (cli/cmd_convert.py): a line per model, its errors, the auto-rig's line, the summary.
CONVERT_REPORT = re.compile(r"converted |FAILED {4}| {4}error: |auto-rigged |\d+ of \d+ model\(s\) converted, ")
# What Blender, its importers and exporters print as they go.
CHATTER = re.compile(r"\| INFO: |^INFO |^FBX version: |^Read blend: |^Saved: |^Time: \d")


def chatter(text: str) -> list[str]:
    """The lines of Blender's chatter in `text`."""
    return [line for line in text.splitlines() if CHATTER.search(line)]


def strays(run: ForgeRun, report: re.Pattern[str] = CONVERT_REPORT) -> list[str]:
    """What a run (without --json) printed where it does not belong: on stdout a line that is not its
    `report`; on stderr Blender's chatter, and a line said twice."""
    said = [line for line in run.stderr.splitlines() if line.strip()]
    return (
        [f"stdout: {line}" for line in run.stdout.splitlines() if not report.match(line)]
        + [f"stderr: {line}" for line in chatter(run.stderr)]
        + [f"stderr, twice: {line}" for line in dict.fromkeys(line for line in said if said.count(line) > 1)]
    )


@contextlib.contextmanager
def fd1_text() -> Iterator[list[str]]:
    """What is written to stdout inside (Blender's C code, `print`, a logging handler alike): its text, in the
    list yielded, once the block is done. sys.stdout is the process's own meanwhile, on file descriptor 1, as
    in a command (pytest points it at a file of its own)."""
    written: list[str] = []
    libc = ctypes.CDLL(None)
    stream = sys.stdout
    stream.flush()
    libc.fflush(None)
    saved = os.dup(1)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 1)
        sys.stdout = sys.__stdout__ or stream
        try:
            yield written
        finally:
            sys.stdout.flush()
            libc.fflush(None)  # Blender's printf buffer
            sys.stdout = stream
            os.dup2(saved, 1)
            os.close(saved)
            sink.seek(0)
            written.append(sink.read().decode("utf-8", "replace"))
