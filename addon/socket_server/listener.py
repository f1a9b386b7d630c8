"""The network side: one thread with a selector that accepts, reads, frames and writes. It never touches
bpy: a request that needs Blender becomes a Job on the main thread's queue, and its reply comes back
through `send`, so a slow command or a slow reader never holds up anyone else's bytes.

Limits (docs/security.md): at most `max_connections` connections, and a client that has not proven
itself (authenticated with a token; without one, sent a request) is closed after `handshake_seconds`
or to make room for a newcomer; so, when the server is full, is a proven client idle `idle_seconds`
(nothing sent, nothing in flight), so that connections that ping once and sit cannot hold every slot;
at most `max_buffered_bytes` held across connections (over it, the connection holding most is refused);
at most MAX_IN_FLIGHT jobs per connection and `max_queued` in all (over it, "busy"); wrong tokens slow a
host down, then lock it: its wrong tokens are answered one at a time, the slowest way, while the right
token is still let in at once (on loopback the guesser's host is the real client's too).
"""

from __future__ import annotations

import contextlib
import errno
import hmac
import selectors
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from ..core.wire import protocol
from ..core.wire.protocol import BadMessage, RawMessage, Request, RequestDecoder, StreamRefusedError
from .config import ConfigError, ServerConfig

READ_SIZE = 65536
# After refusing a client, its unread bytes are drained for this long before the socket closes: closing
# with unread input sends a reset, which can destroy the error reply before the client reads it.
DRAIN_SECONDS = 5.0
# Backpressure: a client that sends faster than it reads is not read from while this much is pending,
# so neither its replies nor its queued jobs can grow without bound.
MAX_OUTBOX_BYTES = 8 * 1024 * 1024
MAX_IN_FLIGHT = 8
AUTH_HELP = 'authentication required: send {"type": "auth", "params": {"token": "<token>"}} first'
LAB_AUTH_HELP = (
    "authentication required: this Avatar Forge server takes a token, which Blender Lab's MCP client cannot "
    "send; start it without a token file (on 127.0.0.1), or use forge.py mcp with --token-file"
)
PRE_AUTH_MAX_BYTES = 64 * 1024
# Wrong tokens from one host: the first few are answered at once, then each answer waits twice as long
# as the last (up to AUTH_MAX_DELAY), and after AUTH_LOCKOUT_AFTER the host is locked for
# AUTH_LOCKOUT_SECONDS: each of its wrong tokens then waits AUTH_MAX_DELAY after the one before it, on
# whichever connection, so parallel guesses gain nothing. Failures older than AUTH_FORGET_SECONDS are
# forgotten.
AUTH_FREE_FAILURES = 3
AUTH_FIRST_DELAY = 0.25
AUTH_MAX_DELAY = 4.0
AUTH_LOCKOUT_AFTER = 10
AUTH_LOCKOUT_SECONDS = 60.0
AUTH_FORGET_SECONDS = 600.0


@dataclass(frozen=True)
class Job:
    connection: int
    peer: str
    message: Request | BadMessage | RawMessage
    gone: threading.Event = field(default_factory=threading.Event)  # set when the client has left


@dataclass
class _Connection:
    id: int
    sock: socket.socket
    peer: str
    host: str
    decoder: RequestDecoder
    proven: bool  # authenticated (with a token) or sent a request (without): no handshake deadline
    opened: float
    active: float = 0.0  # when it last sent bytes or had a reply go out
    gone: threading.Event = field(default_factory=threading.Event)
    outbox: bytearray = field(default_factory=bytearray)
    jobs: deque[int] = field(default_factory=deque)  # bytes of each queued job, whose replies come first
    held: Request | BadMessage | RawMessage | None = None  # taken from the decoder, waiting for queue room
    closing: bool = False  # close once the outbox is written
    drain_until: float = 0.0  # set once closing: reads are discarded until EOF or then
    reply_at: float = 0.0  # a refusal held back until then (a wrong token's slowdown)
    delayed: bytes = b""
    events: int = selectors.EVENT_READ  # what the selector watches for on this socket (0: not registered)
    single: bool = False  # sent a Blender Lab request: nothing more is read, and it closes after the reply

    @property
    def held_bytes(self) -> int:
        return self.decoder.pending_bytes + sum(self.jobs)


@dataclass
class _Failures:
    count: int = 0
    last: float = 0.0
    locked_until: float = 0.0
    next_answer: float = 0.0  # while locked: the earliest a wrong token's answer may go out


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
        self._refused = refused  # (peer, reason) of each client or message turned away
        self._selector = selectors.DefaultSelector()
        self._server: socket.socket | None = None
        self._wake_r, self._wake_w = socket.socketpair()
        self._replies: list[tuple[int, bytes]] = []
        self._lock = threading.Lock()
        self._connections: dict[int, _Connection] = {}
        self._failures: dict[str, _Failures] = {}
        self._queued = 0  # jobs of live connections not yet answered
        self._next_id = 1
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.address: tuple[str, int] = (config.host, config.port)

    def start(self) -> None:
        """Binds and starts the network thread; raises ConfigError when the port cannot be had."""
        try:
            self._server = socket.create_server((self.config.host, self.config.port), backlog=socket.SOMAXCONN)
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
            for key, events in self._selector.select(timeout=self._timers()):
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

    def _timers(self) -> float:
        """Acts on every deadline that has passed; returns the seconds until the next one (at most 1)."""
        now = time.monotonic()
        upcoming = now + 1.0
        for conn in list(self._connections.values()):
            if conn.drain_until:
                if conn.drain_until <= now:
                    self._drop(conn)
                    continue
                upcoming = min(upcoming, conn.drain_until)
            elif conn.reply_at:
                if conn.reply_at <= now:
                    conn.reply_at = 0.0
                    self._queue(conn, conn.delayed, close=True)
                else:
                    upcoming = min(upcoming, conn.reply_at)
            elif not conn.proven and not conn.closing:
                deadline = conn.opened + self.config.handshake_seconds
                if deadline <= now:
                    what = "authenticate" if self.config.token is not None else "send a request"
                    self._refuse(conn, f"no time left to {what} ({self.config.handshake_seconds:g} s)")
                else:
                    upcoming = min(upcoming, deadline)
        return max(0.0, upcoming - now)

    def _accept(self) -> None:
        assert self._server is not None
        try:
            sock, address = self._server.accept()
        except (BlockingIOError, ConnectionAbortedError):
            return
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        host = str(address[0])
        conn = _Connection(
            id=self._next_id,
            sock=sock,
            peer=f"{host}:{address[1]}",
            host=host,
            # Until a client proves it holds the token it gets no room for big messages.
            decoder=RequestDecoder(self.config.max_message_bytes if self.config.token is None else PRE_AUTH_MAX_BYTES),
            proven=False,
            opened=time.monotonic(),
        )
        conn.active = conn.opened
        self._next_id += 1
        if len(self._connections) >= self.config.max_connections and not self._make_room():
            self._turn_away(conn, f"too many connections (at most {self.config.max_connections}): try again later")
            return
        self._connections[conn.id] = conn
        self._selector.register(sock, selectors.EVENT_READ, conn.id)

    def _make_room(self) -> bool:
        """Closes a refused connection still draining, or else the oldest that has not proven itself, or
        else the proven one idle longest, if for `idle_seconds` or more."""
        now = time.monotonic()
        conns = self._connections.values()
        candidates = [c for c in conns if c.closing and not c.outbox] or [c for c in conns if not c.proven]
        if candidates:
            oldest = min(candidates, key=lambda c: c.opened)
            if not oldest.closing:
                self._refused(oldest.peer, "closed to make room: no request or token yet")
                with contextlib.suppress(OSError):
                    oldest.sock.send(
                        protocol.error("connection closed to make room for another: send a request sooner")
                    )
            self._drop(oldest)
            return True
        idle = [c for c in conns if not (c.jobs or c.outbox or c.held) and now - c.active >= self.config.idle_seconds]
        if not idle:
            return False
        longest = min(idle, key=lambda c: c.active)
        self._refused(longest.peer, "closed to make room: idle")
        with contextlib.suppress(OSError):
            longest.sock.send(
                protocol.error(
                    f"connection closed to make room for another: idle for {now - longest.active:.0f} s "
                    f"(at most {self.config.max_connections} connections); reconnect when you need it"
                )
            )
        self._drop(longest)
        return True

    def _turn_away(self, conn: _Connection, reason: str) -> None:
        """Refuses a connection that was never admitted: one error, best effort, and closed at once."""
        self._refused(conn.peer, reason)
        with contextlib.suppress(OSError):
            conn.sock.send(protocol.error(reason))
        conn.sock.close()

    def _take_replies(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except BlockingIOError:
            pass
        with self._lock:
            replies, self._replies = self._replies, []
        touched = {}
        for connection, data in replies:
            conn = self._connections.get(connection)
            if conn is not None and conn.jobs:
                conn.jobs.popleft()
                self._queued -= 1
                conn.active = time.monotonic()
                conn.outbox += data
                conn.closing = conn.closing or conn.single  # Blender Lab's dialect: one request per connection
                touched[conn.id] = conn
        for conn in touched.values():
            self._write(conn)
            if conn.id in self._connections:
                self._process(conn)  # a message held for room in the queue always has a reply to wait for

    def _read(self, conn: _Connection) -> None:
        try:
            data = conn.sock.recv(READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # the client left, maybe mid-request: its queued jobs are dropped
            self._drop(conn)
            return
        if conn.closing or conn.single:  # refused, or one request only: whatever else it sends is discarded
            return
        conn.active = time.monotonic()
        conn.decoder.feed(data)
        self._process(conn)
        if conn.id in self._connections:
            self._enforce_budget()

    def _process(self, conn: _Connection) -> None:
        """Hands on this connection's complete messages while it may have more jobs in flight."""
        while not (conn.closing or conn.single) and conn.id in self._connections and len(conn.jobs) < MAX_IN_FLIGHT:
            message = conn.held
            conn.held = None
            if message is None:
                try:
                    message = conn.decoder.next()
                except StreamRefusedError as exc:
                    self._refused(conn.peer, exc.kind)
                    self._refuse(conn, f"{exc}: refused, closing the connection")
                    return
            if message is None:
                break
            if not self._handle(conn, message):
                conn.held = message
                break
        if conn.id in self._connections:
            self._watch(conn)

    def _handle(self, conn: _Connection, message: Request | BadMessage | RawMessage) -> bool:
        """Answers or queues one message; False when it must wait for room in the main-thread queue."""
        if self.config.token is not None and not conn.proven:
            self._authenticate(conn, message)
            return True
        if not isinstance(message, BadMessage):  # a whole request, parsed or to be parsed
            conn.proven = True
        if isinstance(message, Request) and message.lab:
            conn.single = True
        if isinstance(message, Request) and not conn.jobs:
            reply = self._answer_inline(message, conn.peer)
            if reply is not None:
                self._queue(conn, reply)
                return True
        if self._queued >= self.config.max_queued:
            if conn.jobs:  # its earlier replies come first: wait for them
                return False
            self._refused(conn.peer, "busy")
            busy = f"busy: {self._queued} commands are waiting for Blender; try again shortly"
            if conn.single:
                self._queue(conn, protocol.lab_reply(False, busy), close=True)
            else:
                self._queue(conn, protocol.error(busy))
            return True
        size = len(message.data) if isinstance(message, RawMessage) else 0
        conn.jobs.append(size)
        self._queued += 1
        self._submit(Job(conn.id, conn.peer, message, conn.gone))
        return True

    def _authenticate(self, conn: _Connection, message: Request | BadMessage | RawMessage) -> None:
        assert self.config.token is not None
        if isinstance(message, Request) and message.lab:  # its client cannot send a token
            self._refused(conn.peer, "authentication required")
            self._queue(conn, protocol.lab_reply(False, LAB_AUTH_HELP), close=True)
            return
        if not isinstance(message, Request) or message.type != protocol.AUTH_COMMAND:
            self._refused(conn.peer, "authentication required")
            self._refuse(conn, AUTH_HELP)
            return
        token = message.params.get("token")
        # surrogatepass: a lone surrogate in the JSON is a wrong token, not an encoding error.
        if isinstance(token, str) and hmac.compare_digest(
            token.encode("utf-8", "surrogatepass"), self.config.token.encode("utf-8")
        ):
            conn.proven = True
            conn.decoder.max_bytes = self.config.max_message_bytes
            self._queue(conn, protocol.success({"authenticated": True}))
            return
        self._refused(conn.peer, "authentication failed: wrong token")  # never the token itself
        delay = self._failed(conn.host)
        reply = protocol.error(
            "authentication failed: wrong token"
            + (f"; too many from {conn.host}: each answer now waits" if self._locked_for(conn.host) else "")
        )
        if delay > 0:  # the answer waits; so does the next guess, on this connection or another
            conn.closing, conn.reply_at, conn.delayed = True, time.monotonic() + delay, reply
            self._watch(conn)
        else:
            self._queue(conn, reply, close=True)

    def _failed(self, host: str) -> float:
        """Counts a wrong token from `host`; returns how long its answer waits."""
        now = time.monotonic()
        record = self._failures.setdefault(host, _Failures())
        if now - record.last > AUTH_FORGET_SECONDS:
            record.count = 0
        record.count += 1
        record.last = now
        if record.count >= AUTH_LOCKOUT_AFTER:
            record.locked_until = now + AUTH_LOCKOUT_SECONDS
            # One at a time: the answers of parallel guesses queue up behind each other.
            record.next_answer = max(now, record.next_answer) + AUTH_MAX_DELAY
            return record.next_answer - now
        extra = record.count - AUTH_FREE_FAILURES
        return 0.0 if extra <= 0 else min(AUTH_MAX_DELAY, AUTH_FIRST_DELAY * 2 ** (extra - 1))

    def _locked_for(self, host: str) -> float:
        record = self._failures.get(host)
        return max(0.0, record.locked_until - time.monotonic()) if record is not None else 0.0

    def _enforce_budget(self) -> None:
        """Over the buffer budget, the connection holding most is refused and its bytes let go."""
        total = sum(c.held_bytes for c in self._connections.values())
        while total > self.config.max_buffered_bytes:
            largest = max(self._connections.values(), key=lambda c: c.held_bytes)
            total -= largest.held_bytes
            self._refused(largest.peer, "over the buffer budget")
            self._refuse(
                largest,
                f"the server holds more than {self.config.max_buffered_bytes} bytes of unfinished or queued "
                f"messages and this connection holds the most ({largest.held_bytes}): refused, closing the connection",
            )
            largest.decoder = RequestDecoder(0)
            self._cancel(largest)

    def _refuse(self, conn: _Connection, message: str) -> None:
        self._queue(conn, protocol.error(message), close=True)

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
        if not conn.outbox and conn.closing and not conn.drain_until and not conn.reply_at:
            conn.drain_until = time.monotonic() + DRAIN_SECONDS
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_WR)
        self._watch(conn)

    def _watch(self, conn: _Connection) -> None:
        """Reads while the client is not too far ahead (or while draining); writes while replies wait."""
        behind = len(conn.outbox) >= MAX_OUTBOX_BYTES or len(conn.jobs) >= MAX_IN_FLIGHT or conn.held is not None
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

    def _cancel(self, conn: _Connection) -> None:
        """Its queued jobs will not run: the dispatcher skips jobs of a client that has gone."""
        conn.gone.set()
        self._queued -= len(conn.jobs)
        conn.jobs.clear()
        conn.held = None

    def _drop(self, conn: _Connection) -> None:
        if self._connections.pop(conn.id, None) is not None:
            self._cancel(conn)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(conn.sock)
        conn.sock.close()
