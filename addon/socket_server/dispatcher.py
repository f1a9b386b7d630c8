"""One queue and one dispatcher: jobs from every connection, run in arrival order on the thread that
pumps (Blender's main thread), each reply handed back to the network thread."""

from __future__ import annotations

import queue
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..core.wire import protocol
from ..core.wire.protocol import BadMessage, RawMessage, Request
from .audit import AuditLog
from .commands import COMMANDS, unknown
from .config import ServerConfig
from .listener import Job

# "<built-in method get of bpy_prop_collection object at 0x7f...>": a memory address tells a client nothing
# and an attacker where things are.
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


@dataclass
class Activity:
    """What the sidebar shows: the last command and the last error, with when they happened."""

    commands: int = 0
    last_command: str = ""
    last_command_at: float = 0.0
    last_error: str = ""
    last_error_at: float = 0.0


class Dispatcher:
    def __init__(self, config: ServerConfig, audit: AuditLog, reply: Callable[[int, bytes], None]) -> None:
        self.config = config
        self._audit = audit
        self._reply = reply
        self._jobs: queue.SimpleQueue[Job] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._activity = Activity()

    def submit(self, job: Job) -> None:
        """Network thread: queue a job for the main thread."""
        self._jobs.put(job)

    def answer_inline(self, request: Request, peer: str) -> bytes | None:
        """Network thread: the reply to a command that needs no Blender, or None."""
        command = COMMANDS.get(request.type)
        if command is None or command.main_thread:
            return None
        return self.execute(request, peer)

    def pump(self, wait: float = 0.0, budget: float = 0.05) -> int:
        """Main thread: runs queued jobs for about `budget` seconds (at least one when there is one),
        first waiting up to `wait` seconds for one to arrive. Returns how many ran."""
        try:
            job = self._jobs.get(timeout=wait) if wait > 0 else self._jobs.get_nowait()
        except queue.Empty:
            return 0
        deadline = time.monotonic() + budget
        done = 0
        while True:
            if not job.gone.is_set():  # a client that has left gets nothing run for it
                self._run(job)
                done += 1
            if time.monotonic() >= deadline:
                return done
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return done

    def _run(self, job: Job) -> None:
        message = job.message
        if isinstance(message, RawMessage):  # parsed here, a slice at a time: see protocol.parse
            message = protocol.parse(message)
        if isinstance(message, BadMessage):
            self._audit.refused(job.peer, "malformed request")
            self._note(message.message, error=True)
            self._reply(job.connection, protocol.error(message.message))
        else:
            self._reply(job.connection, self.execute(message, job.peer))

    def execute(self, request: Request, peer: str) -> bytes:
        """Runs one command and returns its encoded reply; never raises."""
        started = time.perf_counter()
        command = COMMANDS.get(request.type)
        error: str | None = None
        wrote: list[str] = []
        if command is None:
            error = unknown(request.type)
            reply = protocol.error(error)
        else:
            try:
                result: Any = command.run(request.params, self.config)
            except (Exception, SystemExit) as exc:  # the client's error reply; the server carries on
                error = str(exc) or type(exc).__name__
                if request.type != "execute_code":  # its message is the sent code's own traceback
                    error = _ADDRESS.sub("", error)
                reply = protocol.error(error)
            else:
                reply = protocol.success(result)
                wrote = command.wrote(result)
        seconds = time.perf_counter() - started
        code = request.params.get("code") if request.type == "execute_code" else None
        self._audit.record(
            peer, request.type, seconds, error=error, code=code if isinstance(code, str) else None, wrote=wrote
        )
        self._note(protocol.echo(request.type), error=False)
        if error is not None:
            self._note(f"{protocol.echo(request.type)}: {error.splitlines()[0] if error else ''}", error=True)
        return reply

    def _note(self, text: str, error: bool) -> None:
        with self._lock:
            now = time.time()
            if error:
                self._activity.last_error, self._activity.last_error_at = text, now
            else:
                self._activity.commands += 1
                self._activity.last_command, self._activity.last_command_at = text, now

    def activity(self) -> Activity:
        with self._lock:
            return Activity(**vars(self._activity))
