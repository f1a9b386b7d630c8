"""A private headless Blender for `forge.py mcp --blend FILE`: `forge.py serve` on a free loopback port
with a fresh token only this process knows, stopped when the MCP session ends, and killed by the kernel
when this process dies any other way (lifetime.follow_parent)."""

from __future__ import annotations

import importlib.util
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from ..process import children, lifetime

_LISTENING = re.compile(r"listening on (\S+):(\d+)")
START_TIMEOUT = 300.0  # opening a big .blend and the VRM Add-on can take minutes on a busy machine


class StartError(Exception):
    """The private Blender did not come up; the message carries its last words."""


def blender_command(blender: str | None) -> list[str]:
    """How to run Avatar Forge's command line with Blender: this Python when it has the bpy module, else a
    Blender binary (`blender`, or the one named) running it as a script."""
    launcher = str(children.LAUNCHER)
    if blender is None and importlib.util.find_spec("bpy") is not None:
        return [sys.executable, launcher]
    binary = blender or shutil.which("blender")
    if binary is None:
        raise StartError(
            "no Blender to start: this Python has no bpy module and `blender` is not on the PATH "
            "(name one with --blender PATH)"
        )
    return [binary, "-b", "--python", launcher, "--"]


class PrivateBlender:
    """`forge.py serve --blend FILE --port 0 --token-file T` as a child process; `host`, `port`, `token`
    once started. Its log goes to our stderr: our stdout carries the MCP protocol."""

    def __init__(self, command: list[str], blend: Path) -> None:
        self._folder = Path(tempfile.mkdtemp(prefix="avatar-forge-mcp-"))  # 0700: the token stays ours
        self.token = secrets.token_urlsafe(32)
        token_file = self._folder / "token"
        token_file.touch(mode=0o600)
        token_file.write_text(self.token + "\n", encoding="utf-8")
        self.host, self.port = "127.0.0.1", 0
        self._ready = threading.Event()
        self._last_lines: list[str] = []
        args = ["serve", "--blend", str(blend), "--host", "127.0.0.1", "--port", "0", "--token-file", str(token_file)]
        self.process = subprocess.Popen(
            [*command, *args],
            stdin=subprocess.DEVNULL,
            stdout=sys.stderr.fileno(),  # Blender writes to fd 1 itself: keep it off the MCP channel
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # a Ctrl-C meant for the MCP client is not this child's to receive
            env=lifetime.child_environment(),
        )
        threading.Thread(target=self._follow, daemon=True).start()
        try:
            started = self._ready.wait(START_TIMEOUT) and self.port != 0
        except BaseException:  # interrupted while waiting: no Blender left behind
            self.stop()
            raise
        if not started:
            self.stop()
            last = "".join(self._last_lines[-5:]).strip() or "no output"
            raise StartError(f"the private headless Blender did not start ({last})")
        # serve read the token before it listened: on disk no longer, so nothing is left if we are killed
        shutil.rmtree(self._folder, ignore_errors=True)

    def _follow(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            sys.stderr.write(line)
            sys.stderr.flush()
            self._last_lines = [*self._last_lines[-20:], line]
            found = _LISTENING.search(line)
            if found and not self._ready.is_set():
                self.host, self.port = found.group(1), int(found.group(2))
                self._ready.set()
        self._ready.set()  # it exited: stop waiting

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (serve closes its sockets and exits), then SIGKILL if it hangs; the token file goes too."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self._folder, ignore_errors=True)


def listening(host: str, port: int) -> bool:
    """Whether something accepts connections at host:port (a Blender already serving there)."""
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError:
        return False
    return True
