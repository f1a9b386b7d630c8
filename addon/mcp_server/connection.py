"""The client side of our socket server, for the MCP server: BlenderMCP's framing, the token handshake,
and a fresh connection whenever the last one died (Blender restarted). No bpy here."""

from __future__ import annotations

import json
import select
import socket
import threading
from typing import Any

from ..core.wire.protocol import AUTH_COMMAND

START_HINT = (
    "Start Avatar Forge's MCP server: in Blender, sidebar Avatar > MCP Server > Start (or turn on 'Start with "
    "Blender' in its preferences); headless, `python scripts/forge.py serve --blend FILE`; or start this MCP "
    "server as `forge.py mcp --blend FILE` to have it run a private headless Blender."
)
_READ = 1 << 20


class BlenderUnavailableError(Exception):
    """Nothing answers at the address, or the connection broke: the message says how to fix it."""


class CommandError(Exception):
    """The server answered with an error; the message is the server's own."""


def _decode(buffer: bytearray) -> Any:
    """The reply in `buffer`, or None while it is incomplete."""
    if not buffer.rstrip().endswith(b"}"):  # every reply is an object: no parse attempts on a partial one
        return None
    try:
        return json.loads(buffer)
    except json.JSONDecodeError:
        return None


class Connection:
    """One socket to the server, opened on first use and reopened after it dies. Calls are serialised:
    replies are matched to requests only by their order on the stream."""

    def __init__(self, host: str, port: int, token: str | None = None, timeout: float = 600.0) -> None:
        self.host, self.port, self.token, self.timeout = host, port, token, timeout
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def call(self, command: str, params: dict[str, Any] | None = None) -> Any:
        """Sends one command and returns its result; raises CommandError or BlenderUnavailableError."""
        with self._lock:
            sock = self._connected()
            try:
                reply = self._exchange(sock, {"type": command, "params": params or {}})
            except (OSError, ValueError) as exc:
                self.close_locked()
                # Not resent: the server may have run it before the connection broke.
                raise BlenderUnavailableError(
                    f"the connection to Blender at {self.address} broke during {command} ({exc}); Blender may "
                    "have quit or restarted: call the tool again to reconnect"
                ) from None
        if not isinstance(reply, dict) or reply.get("status") not in ("success", "error"):
            raise CommandError(f"unexpected reply from {self.address}: {str(reply)[:200]}")
        if reply["status"] == "error":
            raise CommandError(str(reply.get("message") or "the server reported an error without a message"))
        return reply.get("result")

    def close(self) -> None:
        with self._lock:
            self.close_locked()

    def close_locked(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _connected(self) -> socket.socket:
        if self._sock is not None and not self._closed_by_peer(self._sock):
            return self._sock
        self.close_locked()
        try:
            sock = socket.create_connection((self.host, self.port), timeout=10)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise BlenderUnavailableError(
                f"Blender is not reachable at {self.address} ({reason}). {START_HINT}"
            ) from None
        sock.settimeout(self.timeout)
        if self.token is not None:
            try:
                reply = self._exchange(sock, {"type": AUTH_COMMAND, "params": {"token": self.token}})
            except (OSError, ValueError) as exc:
                sock.close()
                raise BlenderUnavailableError(f"authentication with {self.address} failed: {exc}") from None
            if not isinstance(reply, dict) or reply.get("status") != "success":
                sock.close()
                message = reply.get("message") if isinstance(reply, dict) else reply
                raise BlenderUnavailableError(f"the server at {self.address} refused the token: {message}")
        self._sock = sock
        return sock

    @staticmethod
    def _closed_by_peer(sock: socket.socket) -> bool:
        """Whether an idle connection was closed by the other end (a restarted Blender), without blocking."""
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        try:
            return sock.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    @staticmethod
    def _exchange(sock: socket.socket, request: dict[str, Any]) -> Any:
        sock.sendall(json.dumps(request).encode("utf-8"))
        buffer = bytearray()
        while True:
            chunk = sock.recv(_READ)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            buffer += chunk
            reply = _decode(buffer)
            if reply is not None:
                return reply
