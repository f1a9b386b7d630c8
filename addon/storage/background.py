"""A job on a background thread with progress to poll and a cancel switch, for a UI that must stay live.

Blender's sidebar polls `progress` from a modal operator's timer and never blocks on the job; the job
itself touches no bpy (addon/storage is free of it) and checks the cancel event between chunks.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")
# (fraction done 0..1, what is happening)
Progress = Callable[[float, str], None]
Job = Callable[[Progress, threading.Event], T]


class BackgroundJob(Generic[T]):
    def __init__(self, job: Job[T], name: str) -> None:
        self._job = job
        self._cancel = threading.Event()
        self._finished = threading.Event()
        self._lock = threading.Lock()
        self._progress = (0.0, "starting")
        self._result: T | None = None
        self._error: BaseException | None = None
        # A daemon: quitting Blender mid-upload must not wait for it (the upload is then lost, never half-queued).
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _report(self, fraction: float, what: str) -> None:
        with self._lock:
            self._progress = (fraction, what)

    def _run(self) -> None:
        try:
            self._result = self._job(self._report, self._cancel)
        except BaseException as exc:  # handed to whoever asks for the outcome, on their thread
            self._error = exc
        finally:
            self._finished.set()

    @property
    def progress(self) -> tuple[float, str]:
        with self._lock:
            return self._progress

    def cancel(self) -> None:
        """Asks the job to stop at its next check; `outcome()` then raises the job's cancellation error."""
        self._cancel.set()

    @property
    def cancelling(self) -> bool:
        return self._cancel.is_set()

    @property
    def done(self) -> bool:
        return self._finished.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._finished.wait(timeout)

    def outcome(self) -> T:
        """The job's result, or its exception raised here; only once `done`."""
        if not self.done:
            raise RuntimeError("the job is still running")
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result


class JobRunningError(RuntimeError):
    """A job was started while another of its kind still runs; the message names that one."""


class OneAtATime:
    """At most one running job of a kind (the sidebar's upload): a second start is refused until the
    first is done, so a second click on Publish cannot start a second upload beside the first."""

    def __init__(self, refusal: str) -> None:
        self._refusal = refusal  # formatted with {what}: the running job, as `start` named it
        self._job: BackgroundJob[object] | None = None
        self._what = ""

    def running(self) -> str | None:
        """What the running job is (as `start` named it), None when none runs."""
        return self._what if self._job is not None and not self._job.done else None

    def check(self) -> None:
        """Raises JobRunningError while a job runs."""
        what = self.running()
        if what is not None:
            raise JobRunningError(self._refusal.format(what=what))

    def start(self, job: BackgroundJob[Any], what: str) -> None:
        """Starts `job`; raises JobRunningError (and starts nothing) while another runs."""
        self.check()
        self._job, self._what = job, what
        job.start()
