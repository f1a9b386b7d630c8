"""Expensive work shared by the test files of one pytest session, on disk: the first file to ask for a
conversion runs it, every other file (on any pytest-xdist worker) reads the same files.

An entry lives under the session's base temporary folder (`pytest-N`, shared by its xdist workers, a new one
each session: nothing is ever reused across sessions), keyed by what makes the work: each input's name and
SHA-256, the preset and the flags. A file lock per entry makes a second worker asking for it wait while the
first one works, instead of converting the same thing twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ForgeRun, run_forge


def session_folder(factory: pytest.TempPathFactory) -> Path:
    """The session's own temporary folder: pytest-xdist gives each worker `<session>/popen-gwN`."""
    base = factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def shared(factory: pytest.TempPathFactory, key: Any, make: Callable[[Path], None]) -> Path:
    """The folder `make` filled for `key` (JSON-able) in this session: made on the first call, by one
    process at a time, in place (what it writes may name its own paths); a `make` that raises leaves nothing
    behind (the next caller tries again)."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    cache = session_folder(factory) / "session-cache"
    cache.mkdir(exist_ok=True)
    folder, finished = cache / digest, cache / f"{digest}.done"
    with _locked(cache / f"{digest}.lock"):
        if not finished.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            try:
                make(folder)
            except BaseException:
                shutil.rmtree(folder, ignore_errors=True)
                raise
            finished.touch()
    return folder


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class Converted:
    """`forge.py convert INPUTS --out OUT --preset P FLAGS --json` of copies of the models, run once."""

    inputs: Path  # the folder of copies convert read (the originals are never handed to it)
    out: Path
    run: ForgeRun

    def models(self) -> dict[str, dict[str, Any]]:
        """The JSON report's entries, by input file name."""
        return {Path(m["input"]).name: m for m in self.run.json()["models"]}


def converted(
    factory: pytest.TempPathFactory, models: Sequence[Path], preset: str, *flags: str, timeout: float = 900
) -> Converted:
    """The models converted in one `forge.py convert` of a folder holding copies of them, with a shipped
    `preset` and `flags`, once per session whichever test file asks first."""
    key = ["convert", sorted((m.name, sha256(m)) for m in models), preset, list(flags)]

    def make(folder: Path) -> None:
        inputs, out = folder / "inputs", folder / "out"
        inputs.mkdir()
        out.mkdir()
        for model in models:  # copies: an importer must never get the chance to write beside the originals
            shutil.copy2(model, inputs / model.name)
        done = run_forge("convert", inputs, "--out", out, "--preset", preset, *flags, "--json", timeout=timeout)
        (folder / "run.json").write_text(json.dumps(vars(done)))

    folder = shared(factory, key, make)
    run = ForgeRun(**json.loads((folder / "run.json").read_text()))
    return Converted(folder / "inputs", folder / "out", run)
