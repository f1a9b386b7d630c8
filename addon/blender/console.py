"""Blender's console output while it imports, rigs, fixes or exports: captured and filtered unless the user
asked for all of it. Stdout carries the command's own report (or its one JSON document, or the MCP
protocol); what Blender says meanwhile is chatter, except its warnings and errors.

Blender, its importers and exporters write to file descriptors 1 and 2 themselves (C code, `print`, and
logging handlers bound to the streams of the moment), so the capture works on the descriptors, not on
sys.stdout.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import sys
import tempfile
from collections.abc import Iterator

from ..core.terminal import EscapingWriter, printable
from ..core.vrm.log_lines import warnings_in

# Blender's glTF importer and exporter log to these, through console handlers each run adds and removes after.
# The VRM Add-on builds export settings of its own with the same handlers and never removes them: each of its
# exports left one more, and every glTF line was printed once more.
_GLTF_LOGGERS = ("glTFImporter", "glTFImporter_errors")


def _flush_all() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    with contextlib.suppress(OSError, AttributeError, TypeError):  # no C library handle on some platforms
        ctypes.CDLL(None).fflush(None)  # C stdio buffers (Blender's own printf) too


@contextlib.contextmanager
def _no_leaked_gltf_handlers() -> Iterator[None]:
    """Removes, on the way out, the glTF log handlers added inside and left behind."""
    loggers = [logging.getLogger(name) for name in _GLTF_LOGGERS]
    before = [list(logger.handlers) for logger in loggers]
    try:
        yield
    finally:
        for logger, kept in zip(loggers, before, strict=True):
            for handler in [h for h in logger.handlers if h not in kept]:
                logger.removeHandler(handler)


@contextlib.contextmanager
def gltf_log_alone() -> Iterator[None]:
    """The glTF exporter's own handlers only, for the one export inside: each line is printed once."""
    loggers = [logging.getLogger(name) for name in _GLTF_LOGGERS]
    aside = [list(logger.handlers) for logger in loggers]
    for logger, handlers in zip(loggers, aside, strict=True):
        for handler in handlers:
            logger.removeHandler(handler)
    try:
        yield
    finally:
        for logger, handlers in zip(loggers, aside, strict=True):
            for handler in handlers:
                logger.addHandler(handler)


class _Capture:
    running = False  # a quiet() is in force: one inside it (an import within a convert) leaves it to that one


@contextlib.contextmanager
def quiet(verbose: bool) -> Iterator[None]:
    """Everything Blender prints inside goes to a temporary file; afterwards only its warnings and errors
    are written to stderr, once each (not the one an error raised inside repeats: whoever catches that
    error says it). Python's sys.stderr (progress lines) still reaches the terminal.
    With `verbose`, everything is printed as it comes. Inside another quiet() the outer one decides: a
    convert --verbose shows its import's output too, and a capture inside a capture would take the
    outer one's file for the terminal."""
    if _Capture.running:
        yield
        return
    _Capture.running = True
    try:
        with _no_leaked_gltf_handlers():
            if verbose:
                yield
            else:
                with _captured():
                    yield
    finally:
        _Capture.running = False


@contextlib.contextmanager
def _captured() -> Iterator[None]:
    _flush_all()
    saved = os.dup(1), os.dup(2)
    python_stderr = sys.stderr
    with tempfile.TemporaryFile() as sink, os.fdopen(os.dup(saved[1]), "w", encoding="utf-8") as terminal:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        sys.stderr = EscapingWriter(terminal)
        said = ""  # what the error raised inside says: its caller prints that line, once
        try:
            yield
        except BaseException as exc:
            said = str(exc)
            raise
        finally:
            _flush_all()
            sys.stderr = python_stderr
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            sink.seek(0)
            for line in warnings_in(sink.read().decode("utf-8", "replace")):
                if line.removeprefix("Error: ") not in said:
                    print(printable(line), file=sys.stderr)  # a name in it is anyone's text
