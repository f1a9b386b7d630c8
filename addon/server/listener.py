"""The network side: one thread with a selector that accepts, reads, frames and writes. It never touches
bpy: a request that needs Blender becomes a Job on the main thread's queue, and its reply comes back
through `send`, so a slow command or a slow reader never holds up anyone else's bytes.
"""

from __future__ import annotations

import contextlib
import errno
import hmac
import selectors
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..core import protocol
from ..core.protocol import BadMessage, MessageTooLargeError, Request, RequestDecoder
from .config import ConfigError, ServerConfig

READ_SIZE = 65536
# After refusing a client, its unread bytes are drained for this long before the socket closes: closing
# with unread input sends a reset, which can destroy the error reply before the client reads it.
DRAIN_SECONDS = 5.0
# Backpressure: a client that sends faster than it reads is not read from while this much is pending,
# so neither its replies nor its queued jobs can grow without bound.
MAX_OUTBOX_BYTES = 8 * 1024 * 1024
MAX_IN_FLIGHT = 32
AUTH_HELP = 'authentication required: send {"type": "auth", "params": {"token": "<token>"}} first'

PRE_AUTH_MAX_BYTES = 64 * 1024


@dataclass(frozen=True)
class Job:
    connection: int
    peer: str
    message: Request | BadMessage


@dataclass
class _Connection:
    id: int
    sock: socket.socket
    peer: str
    decoder: RequestDecoder
    authenticated: bool
    outbox: bytearray = field(default_factory=bytearray)
    in_flight: int = 0  # jobs queued for the main thread, whose replies must come before any later one
    closing: bool = False  # close once the outbox is written
    drain_until: float = 0.0  # set once closing: reads are discarded until EOF or then
    events: int = selectors.EVENT_READ  # what the selector watches for on this socket (0: not registered)


# (request, peer) -> the reply, when it can be answered without Blender; None sends it to the main thread
InlineAnswer = Callable[[Request, str], bytes | None]


class Listener:
    def __init__(
        self,
        config: ServerConfig,
        submit: Callable[[Job], None],
        answer_inline: InlineAnswer,
        refused: Callable[[str, str], None] = lambda _peer, _reason: None,
    ) -> None:
        self.config = config
        self._submit = submit
        self._answer_inline = answer_inline
        self._refused = refused  # (peer, reason) of each client turned away at authentication
        self._selector = selectors.DefaultSelector()
        self._server: socket.socket | None = None
        self._wake_r, self._wake_w = socket.socketpair()
        self._replies: list[tuple[int, bytes]] = []
        self._lock = threading.Lock()
        self._connections: dict[int, _Connection] = {}
        self._next_id = 1
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.address: tuple[str, int] = (config.host, config.port)

    def start(self) -> None:
        """Binds and starts the network thread; raises ConfigError when the port cannot be had."""
        try:
            self._server = socket.create_server((self.config.host, self.config.port), backlog=64)
        except OSError as exc:
            self._close_wakeup()
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(
                    f"port {self.config.port} on {self.config.host} is in use (another Blender or MCP server?): "
                    "stop it or choose another port"
                ) from None
            raise ConfigError(f"cannot listen on {self.config.host}:{self.config.port}: {exc.strerror}") from None
        self._server.setblocking(False)
        self.address = self._server.getsockname()[:2]
        self._selector.register(self._server, selectors.EVENT_READ, "accept")
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._thread = threading.Thread(target=self._loop, name="avatar-forge-mcp-net", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Closes the listening socket and every client socket, and ends the thread."""
        self._stopping.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        for conn in list(self._connections.values()):
            self._drop(conn)
        if self._server is not None:
            self._selector.unregister(self._server)
            self._server.close()
            self._server = None
        self._close_wakeup()
        self._selector.close()

    def send(self, connection: int, data: bytes) -> None:
        """Queues a main-thread reply for a connection (dropped if it is gone). Any thread."""
        with self._lock:
            self._replies.append((connection, data))
        self._wake()

    def client_count(self) -> int:
        return len(self._connections)

    def _wake(self) -> None:
        # OSError: already closed, or the pipe is full of wake-ups; either way the loop will run.
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    def _close_wakeup(self) -> None:
        self._wake_r.close()
        self._wake_w.close()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            now = time.monotonic()
            for expired in [c for c in self._connections.values() if c.drain_until and c.drain_until < now]:
                self._drop(expired)
            for key, events in self._selector.select(timeout=1.0):
                if key.data == "accept":
                    try:
                        self._accept()
                    except OSError:  # out of file descriptors, say: refuse this one, keep serving
                        time.sleep(0.05)
                elif key.data == "wake":
                    self._take_replies()
                else:
                    conn = self._connections.get(key.data)
                    try:
                        if conn is not None and events & selectors.EVENT_READ:
                            self._read(conn)
                        if conn is not None and conn.id in self._connections and events & selectors.EVENT_WRITE:
                            self._write(conn)
                    except Exception:  # one client's surprise must not end the thread serving them all
                        if conn is not None:
                            self._drop(conn)

    def _accept(self) -> None:
        assert self._server is not None
        try:
            sock, address = self._server.accept()
        except (BlockingIOError, ConnectionAbortedError):
            return
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = _Connection(
            id=self._next_id,
            sock=sock,
            peer=f"{address[0]}:{address[1]}",
            # Until a client proves it holds the token it gets no room for big messages.
            decoder=RequestDecoder(self.config.max_message_bytes if self.config.token is None else PRE_AUTH_MAX_BYTES),
            authenticated=self.config.token is None,
        )
        self._next_id += 1
        self._connections[conn.id] = conn
        self._selector.register(sock, selectors.EVENT_READ, conn.id)

    def _take_replies(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except BlockingIOError:
            pass
        with self._lock:
            replies, self._replies = self._replies, []
        for connection, data in replies:
            conn = self._connections.get(connection)
            if conn is not None:
                conn.in_flight -= 1
                self._queue(conn, data)

    def _read(self, conn: _Connection) -> None:
        try:
            data = conn.sock.recv(READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # the client left, maybe mid-request: its queued jobs' replies are dropped
            self._drop(conn)
            return
        if conn.closing:  # refused: whatever else it sends is discarded
            return
        try:
            messages = conn.decoder.feed(data)
        except MessageTooLargeError as exc:
            messages = []
            self._queue(conn, protocol.error(f"{exc}: refused, closing the connection"), close=True)
        for message in messages:
            if conn.closing or conn.id not in self._connections:
                break
            self._handle(conn, message)
        if conn.id in self._connections:
            self._watch(conn)

    def _handle(self, conn: _Connection, message: Request | BadMessage) -> None:
        if not conn.authenticated:
            self._authenticate(conn, message)
            return
        if isinstance(message, Request) and message.type == protocol.AUTH_COMMAND:
            self._queue(conn, protocol.success({"authenticated": True}))
            return
        if isinstance(message, Request) and conn.in_flight == 0:
            reply = self._answer_inline(message, conn.peer)
            if reply is not None:
                self._queue(conn, reply)
                return
        conn.in_flight += 1
        self._submit(Job(conn.id, conn.peer, message))

    def _authenticate(self, conn: _Connection, message: Request | BadMessage) -> None:
        assert self.config.token is not None
        if not isinstance(message, Request) or message.type != protocol.AUTH_COMMAND:
            self._refused(conn.peer, "authentication required")
            self._queue(conn, protocol.error(AUTH_HELP), close=True)
            return
        token = message.params.get("token")
        # surrogatepass: a lone surrogate in the JSON is a wrong token, not an encoding error.
        if isinstance(token, str) and hmac.compare_digest(
            token.encode("utf-8", "surrogatepass"), self.config.token.encode("utf-8")
        ):
            conn.authenticated = True
            conn.decoder.max_bytes = self.config.max_message_bytes
            self._queue(conn, protocol.success({"authenticated": True}))
        else:
            self._refused(conn.peer, "authentication failed: wrong token")  # never the token itself
            self._queue(conn, protocol.error("authentication failed: wrong token"), close=True)

    def _queue(self, conn: _Connection, data: bytes, close: bool = False) -> None:
        conn.outbox += data
        conn.closing = conn.closing or close
        self._write(conn)

    def _write(self, conn: _Connection) -> None:
        try:
            while conn.outbox:
                sent = conn.sock.send(conn.outbox)
                del conn.outbox[:sent]
        except BlockingIOError:
            pass
        except OSError:
            self._drop(conn)
            return
        if not conn.outbox and conn.closing and not conn.drain_until:
            conn.drain_until = time.monotonic() + DRAIN_SECONDS
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_WR)
        self._watch(conn)

    def _watch(self, conn: _Connection) -> None:
        """Reads while the client is not too far ahead (or while draining); writes while replies wait."""
        behind = len(conn.outbox) >= MAX_OUTBOX_BYTES or conn.in_flight >= MAX_IN_FLIGHT
        events = (selectors.EVENT_READ if conn.closing or not behind else 0) | (
            selectors.EVENT_WRITE if conn.outbox else 0
        )
        if events == conn.events:
            return
        if not events:
            self._selector.unregister(conn.sock)
        elif not conn.events:
            self._selector.register(conn.sock, events, conn.id)
        else:
            self._selector.modify(conn.sock, events, conn.id)
        conn.events = events

    def _drop(self, conn: _Connection) -> None:
        self._connections.pop(conn.id, None)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(conn.sock)
        conn.sock.close()
