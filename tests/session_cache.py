"""Expensive work shared by the test files of one pytest session, on disk: the first file to ask for a
conversion runs it, every other file (on any pytest-xdist worker) reads the same files.

An entry lives under the session's base temporary folder (`pytest-N`, shared by its xdist workers, a new one
each session: nothing is ever reused across sessions), keyed by what makes the work: each input's name and
SHA-256, the preset and the flags. A file lock per entry makes a second worker asking for it wait while the
first one works, instead of converting the same thing twice. Work done in batches (one Blender process for
many avatars) keeps an entry per item (`shared_each`): two workers asking for overlapping lists at once each
make the items nobody holds, then wait for the other's.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

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


def _try_lock(path: Path) -> IO[str] | None:
    """The lock file held (released when closed), or None when another process holds it."""
    handle = path.open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


@dataclass(frozen=True)
class _Entry:
    folder: Path
    finished: Path
    lock: Path

    @staticmethod
    def of(factory: pytest.TempPathFactory, key: Any) -> _Entry:
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
        cache = session_folder(factory) / "session-cache"
        cache.mkdir(exist_ok=True)
        return _Entry(cache / digest, cache / f"{digest}.done", cache / f"{digest}.lock")

    def fresh(self) -> Path:
        """The entry's folder, emptied (the caller holds the lock)."""
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir()
        return self.folder


def shared(factory: pytest.TempPathFactory, key: Any, make: Callable[[Path], None]) -> Path:
    """The folder `make` filled for `key` (JSON-able) in this session: made on the first call, by one
    process at a time, in place (what it writes may name its own paths); a `make` that raises leaves nothing
    behind (the next caller tries again)."""
    return _filled(_Entry.of(factory, key), make)


def _filled(entry: _Entry, make: Callable[[Path], None]) -> Path:
    """`shared` for its entry."""
    with _locked(entry.lock):
        if not entry.finished.exists():
            try:
                make(entry.fresh())
            except BaseException:
                shutil.rmtree(entry.folder, ignore_errors=True)
                raise
            entry.finished.touch()
    return entry.folder


Item = TypeVar("Item", bound=Hashable)


def shared_each(
    factory: pytest.TempPathFactory,
    items: Sequence[Item],
    key: Callable[[Item], Any],
    make: Callable[[dict[Item, Path]], None],
) -> dict[Item, Path]:
    """Per item, the folder `make` filled for `key(item)` in this session, as `shared` keeps it; `make` gets
    the items to make, each with its empty folder, and makes them in one go (one Blender process for many).
    The items no other process is making are made here first; the others are then waited for (and made here,
    one by one, if that process failed): two pytest-xdist workers asking at once share the work."""
    entries = {item: _Entry.of(factory, key(item)) for item in items}
    with contextlib.ExitStack() as held:
        mine = {}
        for item, entry in entries.items():
            lock = None if entry.finished.exists() else _try_lock(entry.lock)
            if lock is not None:
                held.callback(lock.close)
                if not entry.finished.exists():
                    mine[item] = entry
        if mine:
            try:
                make({item: entry.fresh() for item, entry in mine.items()})
            except BaseException:
                for entry in mine.values():
                    shutil.rmtree(entry.folder, ignore_errors=True)
                raise
            for entry in mine.values():
                entry.finished.touch()
    # Each key once: a key may hash a model file.
    return {item: _filled(entry, functools.partial(_make_one, make, item)) for item, entry in entries.items()}


def _make_one(make: Callable[[dict[Item, Path]], None], item: Item, folder: Path) -> None:
    make({item: folder})


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


def demo_export(factory: pytest.TempPathFactory, demo_blend: Path, preset: str) -> tuple[Path, ForgeRun]:
    """The file and the run of `forge.py export --blend DEMO --preset PRESET --out Avatar.vrm` (the report for
    people), once per session for every test file that only reads them. Keyed by the preset alone: each
    pytest-xdist worker builds its own demo .blend (never the same bytes twice), the same avatar."""

    def make(folder: Path) -> None:
        done = run_forge("export", "--blend", demo_blend, "--preset", preset, "--out", folder / "Avatar.vrm")
        (folder / "run.json").write_text(json.dumps(vars(done)))

    folder = shared(factory, ["export", "demo-avatar", preset], make)
    return folder / "Avatar.vrm", ForgeRun(**json.loads((folder / "run.json").read_text()))
