"""`forge.py serve` in its own process, the way a user or the Kasm image starts it, and a raw client."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from tests.conftest import AUTO_RUN_SCRIPTS, FORGE

_LISTENING = re.compile(r"listening on (\S+):(\d+)")


class Serving:
    """A running `forge.py serve --port 0 ...`; `stop()` sends a signal and returns the exit code."""

    def __init__(
        self,
        *args: str | Path,
        user_resources: Path | None = None,
        env: dict[str, str] | None = None,
        auto_run_scripts: bool = False,
    ):
        self.user_resources = user_resources or Path(tempfile.mkdtemp(prefix="forge-serve-"))
        full_env = {**os.environ, "BLENDER_USER_RESOURCES": str(self.user_resources), **(env or {})}
        prelude = ("-c", AUTO_RUN_SCRIPTS) if auto_run_scripts else ()
        self.process = subprocess.Popen(
            [sys.executable, *prelude, str(FORGE), "serve", "--port", "0", "--json", *map(str, args)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=full_env,
        )
        self.stderr_lines: list[str] = []
        self._ready = threading.Event()
        self.host, self.port = "", 0
        threading.Thread(target=self._read_stderr, daemon=True).start()
        if not self._ready.wait(120) or not self.port:
            self.process.kill()
            raise AssertionError("forge.py serve did not start:\n" + "".join(self.stderr_lines))

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr_lines.append(line)
            found = _LISTENING.search(line)
            if found:
                self.host, self.port = found.group(1), int(found.group(2))
                self._ready.set()
        self._ready.set()

    @property
    def audit_log(self) -> Path:
        return self.user_resources / "config" / "avatar_forge" / "mcp-audit.log"

    def client(self, timeout: float = 60) -> Client:
        return Client(self.port, timeout)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> tuple[int, dict[str, Any]]:
        """Signals the server and returns its exit code and its --json summary."""
        self.process.send_signal(sig)
        return self.wait(timeout)

    def wait(self, timeout: float = 30) -> tuple[int, dict[str, Any]]:
        """Waits for the server to exit; its exit code and its --json summary."""
        out, _ = self.process.communicate(timeout=timeout)
        return self.process.returncode, json.loads(out) if out.strip() else {}

    def __enter__(self) -> Serving:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class Client:
    """BlenderMCP's framing from the client side: write JSON, read until one object decodes."""

    def __init__(self, port: int, timeout: float = 60):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self._buffer = b""

    def send(self, data: bytes | dict[str, Any]) -> None:
        self.sock.sendall(data if isinstance(data, bytes) else json.dumps(data).encode())

    def reply(self) -> dict[str, Any]:
        decoder = json.JSONDecoder()
        while True:
            text = self._buffer.decode("utf-8", errors="replace").lstrip()
            if text:
                try:
                    value, end = decoder.raw_decode(text)
                except json.JSONDecodeError:
                    pass
                else:
                    self._buffer = text[end:].encode()
                    reply: dict[str, Any] = value
                    return reply
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection")
            self._buffer += chunk

    def request(self, command: str, **params: Any) -> dict[str, Any]:
        self.send({"type": command, "params": params})
        return self.reply()

    def result(self, command: str, **params: Any) -> Any:
        reply = self.request(command, **params)
        assert reply["status"] == "success", reply
        return reply["result"]

    def closed_by_server(self, within: float = 10) -> bool:
        """True when the server closes this connection (EOF or reset) within `within` seconds."""
        self.sock.settimeout(within)
        deadline = time.monotonic() + within
        try:
            while time.monotonic() < deadline:
                if not self.sock.recv(65536):
                    return True
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False
        return False

    def close(self) -> None:
        self.sock.close()


def port_is_free(port: int) -> bool:
    """Whether a new server can listen on the port (as a restarted server would, past TIME_WAIT)."""
    try:
        socket.create_server(("127.0.0.1", port)).close()
    except OSError:
        return False
    return True
