"""Each forge process keeps its temporary files, Blender's own `blender_*` session folder included, in one
folder of its own, `avatar-forge-run-<pid>-*` in the system temp folder, removed when it exits. A process
that was killed cannot remove it: the next forge process does, once the folder's lock shows its owner is
gone. Folders not named so, or whose owner lives, are never touched."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

PREFIX = "avatar-forge-run-"
_LOCK = ".owner"  # held (flock) by the owning process for its whole life; the kernel drops it at death

try:
    import fcntl
except ImportError:  # Windows: no flock; folders are still removed at a normal exit
    fcntl = None  # type: ignore[assignment]

_system_temp: Path | None = None
_root: Path | None = None
_lock_fd: int | None = None


def system_tempdir() -> Path:
    """The temp folder the system gave this process (not our own folder inside it)."""
    return _system_temp or Path(tempfile.gettempdir())


def claim() -> Path:
    """Makes this process's folder, points TMPDIR and Python's tempfile at it (Blender reads TMPDIR when it
    loads: call this before bpy is imported), and first removes what killed forge processes left."""
    global _system_temp, _root, _lock_fd  # noqa: PLW0603
    if _root is not None:
        return _root
    _system_temp = Path(tempfile.gettempdir())
    sweep(_system_temp)
    root = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=_system_temp))
    # Locked under another name first: a sweep opens only `.owner`, so it never finds the lock file in the
    # instant between its creation and its lock (it would take the lock, and remove a live folder).
    fd = os.open(root / f"{_LOCK}.new", os.O_CREAT | os.O_RDWR, 0o600)  # not inherited: children do not hold it
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX)
    os.rename(root / f"{_LOCK}.new", root / _LOCK)
    _root, _lock_fd = root, fd
    os.environ["TMPDIR"] = tempfile.tempdir = str(root)
    return root


def release() -> None:
    """Removes this process's folder (at exit; our children have ended by then)."""
    global _root, _lock_fd  # noqa: PLW0603
    if _root is not None:
        shutil.rmtree(_root, ignore_errors=True)
    if _lock_fd is not None:
        os.close(_lock_fd)
    _root = _lock_fd = None


def _abandoned(folder: Path) -> bool:
    """Whether `folder` is one of ours whose owner has died: its lock file can be locked."""
    if fcntl is None or folder.is_symlink() or not folder.is_dir() or folder.stat().st_uid != os.getuid():
        return False
    try:
        fd = os.open(folder / _LOCK, os.O_RDWR | os.O_NOFOLLOW)
    except OSError:
        return False  # being made right now, or not ours
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False  # its owner is alive
    finally:
        os.close(fd)
    return True


def sweep(parent: Path) -> list[Path]:
    """Removes the folders of dead forge processes directly inside `parent`; returns them."""
    removed = []
    with contextlib.suppress(OSError):
        for folder in parent.glob(f"{PREFIX}*"):
            if _abandoned(folder):
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder)
    return removed
