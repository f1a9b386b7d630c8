"""The sweep of temp folders left by killed forge processes never takes a live process's folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from addon.process import scratch

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="no flock: folders go only at a normal exit")


def test_a_folder_whose_lock_is_being_made_or_held_stays_and_a_dead_owners_goes(tmp_path: Path) -> None:
    making = tmp_path / f"{scratch.PREFIX}1-making"
    making.mkdir()
    (making / ".owner.new").touch()  # the instant between the lock file's creation and its lock
    dead = tmp_path / f"{scratch.PREFIX}2-dead"
    dead.mkdir()
    (dead / ".owner").touch()  # nobody holds it: its owner was killed
    live = tmp_path / f"{scratch.PREFIX}3-live"
    live.mkdir()
    # A process that holds the lock of `live` until we close its stdin.
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl,os,sys; fd=os.open(sys.argv[1], os.O_CREAT|os.O_RDWR);"
         "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); sys.stdin.read()", str(live / ".owner")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert scratch.sweep(tmp_path) == [dead]
        assert making.is_dir() and live.is_dir() and not dead.exists()
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    assert scratch.sweep(tmp_path) == [live]  # its owner has ended


# In a process of its own (claim() points this process's temp folder at its own): another forge process's sweep
# runs in the instant the claiming process takes its lock.
SWEEP_WHILE_LOCKING = """
import fcntl, os, sys, types
sys.path.insert(0, os.getcwd())
from addon.process import scratch
def flock(fd, op):
    scratch.sweep(scratch.system_tempdir())
    fcntl.flock(fd, op)
scratch.fcntl = types.SimpleNamespace(flock=flock, LOCK_EX=fcntl.LOCK_EX, LOCK_NB=fcntl.LOCK_NB)
root = scratch.claim()
print(root.is_dir(), sorted(os.listdir(root)) if root.is_dir() else None)
scratch.fcntl = fcntl
print(scratch.sweep(root.parent))
scratch.release()
"""


def test_a_folder_being_claimed_is_never_swept(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SWEEP_WHILE_LOCKING], capture_output=True, text=True, timeout=60, check=True,
        env={**os.environ, "TMPDIR": str(tmp_path)}, cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    assert done.stdout.splitlines() == ["True ['.owner']", "[]"], done.stdout + done.stderr
    assert list(tmp_path.iterdir()) == []  # and released at the end
