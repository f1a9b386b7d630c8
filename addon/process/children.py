"""Running Avatar Forge again in a child process: a model that crashes Blender, hangs or eats the memory
costs that child only. Children run in their own process group, are killed with it when this process
is interrupted or terminated, and die by themselves when it is killed (lifetime.follow_parent)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .lifetime import child_environment

LAUNCHER = Path(__file__).resolve().parents[1] / "cli" / "launch.py"  # the command line's entry point
_running: set[subprocess.Popen[bytes]] = set()
_CRASHES = {getattr(signal, n) for n in ("SIGSEGV", "SIGBUS", "SIGILL", "SIGFPE", "SIGABRT") if hasattr(signal, n)}


@dataclass(frozen=True)
class Finished:
    code: int  # negative: killed by that signal
    stdout: bytes
    stderr: str  # empty when it went to ours
    timed_out: bool = False


def forge_command(*, factory_startup: bool = False) -> list[str]:
    """How to run this Avatar Forge's command line again: with this Python (the bpy module, or no Blender at
    all), or with the Blender binary we run in (`factory_startup`: without the user's add-ons and startup
    file, for a child that needs neither)."""
    bpy = sys.modules.get("bpy")
    binary = getattr(getattr(bpy, "app", None), "binary_path", "") if bpy is not None else ""
    if binary:
        return [binary, "-b", *(["--factory-startup"] if factory_startup else []), "--python", str(LAUNCHER), "--"]
    return [sys.executable, str(LAUNCHER)]


def describe(code: int) -> str:
    """A child's end in words: `crashed (signal 11)`, `killed (signal 9)`, `exit 70`."""
    if code >= 0:
        return f"exit {code}"
    return f"{'crashed' if -code in _CRASHES else 'killed'} (signal {-code})"


def run(command: list[str], *, timeout: float | None = None, capture_stderr: bool = True) -> Finished:
    """Runs `command` to its end (killed, with its group, after `timeout` seconds: code -SIGKILL);
    stdin is closed, stdout captured, stderr captured or passed through to ours."""
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE if capture_stderr else None,
        env=child_environment(),
        start_new_session=True,  # its own group: a Ctrl-C reaches us, and we end its whole group
    )
    _running.add(process)
    timed_out = False
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill(process)
        out, err = process.communicate()
    finally:
        _running.discard(process)
    return Finished(process.returncode, out, (err or b"").decode(errors="replace"), timed_out)


def _kill(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if hasattr(os, "killpg"):
            os.killpg(process.pid, signal.SIGKILL)  # its group: whatever it started goes too
        else:  # Windows: no process groups to signal
            process.kill()


def stop_all() -> None:
    """Kills every child still running, with its process group, and reaps it (at an interrupted exit)."""
    for process in list(_running):
        _kill(process)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(5)
