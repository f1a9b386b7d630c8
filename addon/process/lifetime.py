"""A child we start dies with us: on Linux it asks the kernel for SIGKILL when its parent dies, so a batch
worker, a convert worker or a private Blender never outlives a killed parent (kill -9 included)."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Mapping

PARENT_ENV = "AVATAR_FORGE_PARENT_PID"  # set by the parent for its child only; the child removes it
_PR_SET_PDEATHSIG = 1


def child_environment(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a child of this process: `env` (default ours) naming this process as its parent."""
    return {**(os.environ if env is None else env), PARENT_ENV: str(os.getpid())}


def follow_parent() -> None:
    """In a process we started: be killed when the parent dies, or leave now if it already has. The variable
    is removed so that this process's own children are not taken for ours."""
    parent = os.environ.pop(PARENT_ENV, None)
    if parent is None or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
        return  # not allowed here (a sandbox): the parent's own kill on exit still applies
    if os.getppid() != int(parent):  # it died before the request was made
        os._exit(128 + signal.SIGKILL)
