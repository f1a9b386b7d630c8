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
from . import lab_dialect
from .audit import AuditLog
from .commands import COMMANDS, SocketCommand, unknown
from .config import ServerConfig
from .deferred import Deferred
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
    fetching: tuple[str, ...] = ()  # downloads under way: "download_polyhaven_asset: 3.1 MB"


@dataclass
class _Pending:
    """A deferred command: its fetch's outcome, queued back to the main thread when the worker is done."""

    job: Job
    request: Request
    deferred: Deferred
    started: float
    value: Any = None
    error: str | None = None


class Dispatcher:
    def __init__(self, config: ServerConfig, audit: AuditLog, reply: Callable[[int, bytes], None]) -> None:
        self.config = config
        self._audit = audit
        self._reply = reply
        self._jobs: queue.SimpleQueue[Job | _Pending] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._activity = Activity()
        self._held: dict[int, list[Job]] = {}  # connection -> its jobs that wait for a deferred reply
        self._fetching: dict[int, str] = {}

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
            if isinstance(job, _Pending):
                self._finish(job)
                done += 1
            elif job.connection in self._held:
                self._held[job.connection].append(job)
            elif not job.gone.is_set():  # a client that has left gets nothing run for it
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
            reply = self._execute(message, job.peer, job)
            if reply is not None:
                self._reply(job.connection, reply)

    def _defer(self, job: Job, request: Request, deferred: Deferred, started: float) -> None:
        """Starts a deferred command's fetch on a worker thread; its reply comes from _finish."""
        pending = _Pending(job, request, deferred, started)
        self._held[job.connection] = []

        def progress(done: int, total: int | None) -> None:
            shown = f"{done / 1e6:.1f}" + (f" of {total / 1e6:.1f}" if total else "")
            with self._lock:
                self._fetching[job.connection] = f"{deferred.label}: {shown} MB"

        def work() -> None:
            try:
                pending.value = deferred.fetch(progress)
            except Exception as exc:  # the client's error reply; one line (FetchError and ValueError say why)
                pending.error = str(exc) or type(exc).__name__
            with self._lock:
                self._fetching.pop(job.connection, None)
            self._jobs.put(pending)

        threading.Thread(target=work, name="avatar-forge-fetch", daemon=True).start()

    def _finish(self, pending: _Pending) -> None:
        """Main thread: links what a deferred command fetched, replies, then runs what its client sent since."""
        connection, error, result = pending.job.connection, pending.error, None
        if error is None and pending.job.gone.is_set():
            error = "the client left before the download finished: nothing was added to the scene"
            pending.deferred.discard(pending.value)
        if error is None:
            try:
                result = pending.deferred.finish(pending.value)
            except Exception as exc:
                error = _ADDRESS.sub("", str(exc) or type(exc).__name__)
        command = COMMANDS[pending.request.type]
        self._reply(
            connection,
            self._answer(pending.request, pending.job.peer, pending.started, command, result=result, error=error),
        )
        for job in self._held.pop(connection, []):
            if connection in self._held:  # one of them was deferred in turn: the rest wait again
                self._held[connection].append(job)
            elif not job.gone.is_set():
                self._run(job)

    def execute(self, request: Request, peer: str) -> bytes:
        """Runs one command that is answered at once and returns its encoded reply; never raises."""
        reply = self._execute(request, peer, None)
        assert reply is not None  # only a queued job is ever deferred
        return reply

    def _execute(self, request: Request, peer: str, job: Job | None) -> bytes | None:
        """Runs one command and returns its encoded reply, or None for a deferred one (answered later)."""
        started = time.perf_counter()
        command = COMMANDS.get(request.type)
        error: str | None = None
        result: Any = None
        if command is None:
            error = unknown(request.type)
        else:
            try:
                result = command.run(request.params, self.config)
            except (Exception, SystemExit) as exc:  # the client's error reply; the server carries on
                error = str(exc) or type(exc).__name__
                if request.type != "execute_code":  # its message is the sent code's own traceback
                    error = _ADDRESS.sub("", error)
        if isinstance(result, Deferred):
            if job is not None:
                self._defer(job, request, result, started)
                return None
            error, result = f"{request.type} needs Blender's main thread", None
        return self._answer(request, peer, started, command, result=result, error=error)

    def _answer(
        self,
        request: Request,
        peer: str,
        started: float,
        command: SocketCommand | None,
        *,
        result: Any,
        error: str | None,
    ) -> bytes:
        """The encoded reply to a command that ran (or failed), written to the audit log and the activity."""
        if request.lab:
            reply = lab_dialect.reply(request, result, error)
        else:
            reply = protocol.error(error) if error is not None else protocol.success(result)
        wrote = command.wrote(result) if command is not None and error is None else []
        seconds = time.perf_counter() - started
        code = request.params.get("code") if request.type == "execute_code" else None
        shown = lab_dialect.AUDIT_TYPE if request.lab else request.type
        self._audit.record(peer, shown, seconds, error=error, code=code if isinstance(code, str) else None, wrote=wrote)
        self._note(protocol.echo(shown), error=False)
        if error is not None:
            self._note(f"{protocol.echo(shown)}: {error.splitlines()[0] if error else ''}", error=True)
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
            return Activity(**{**vars(self._activity), "fetching": tuple(self._fetching.values())})
