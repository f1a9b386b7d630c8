"""Blender's console output during an export: captured and filtered unless the user asked for all of it.

Blender and its exporters write to file descriptors 1 and 2 themselves (C code, and logging handlers bound
to the streams of the moment), so the capture works on the descriptors, not on sys.stdout.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import sys
import tempfile
from collections.abc import Iterator

from ..core.log_lines import warnings_in

# Blender's glTF exporter logs here, through a console handler of its own on each export.
_GLTF_LOGGER = "glTFImporter"


def _flush_all() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).fflush(None)  # C stdio buffers (Blender's own printf) too


@contextlib.contextmanager
def _gltf_lines_once() -> Iterator[None]:
    """Each glTF exporter line printed once: its handler prints it, and propagating to the root logger
    (which Blender's Python gives a handler) printed it again."""
    logger = logging.getLogger(_GLTF_LOGGER)
    propagate = logger.propagate
    logger.propagate = False
    try:
        yield
    finally:
        logger.propagate = propagate


@contextlib.contextmanager
def quiet(verbose: bool) -> Iterator[None]:
    """Everything printed inside goes to a temporary file; afterwards only its warnings and errors are
    written to stderr, once each. With `verbose`, everything is printed as it comes (glTF lines once)."""
    with _gltf_lines_once():
        if verbose:
            yield
            return
        _flush_all()
        saved = os.dup(1), os.dup(2)
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                _flush_all()
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
                os.close(saved[0])
                os.close(saved[1])
                sink.seek(0)
                for line in warnings_in(sink.read().decode("utf-8", "replace")):
                    print(line, file=sys.stderr)
