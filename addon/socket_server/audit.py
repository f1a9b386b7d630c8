"""The audit log: one line per command (when, who, what, how long, how it ended, what it wrote), rotating,
in the user's config folder. Code sent to execute_code is written only when the user opted in.

Refusals (wrong tokens, oversize or malformed messages, HTTP requests, too many connections...) are
written once per peer host and reason per interval, then counted: a flood of them cannot rotate the
earlier records away. Every field but opted-in code is cut to FIELD_CHARS.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import threading
import time
from pathlib import Path
from typing import Any

FILE_NAME = "mcp-audit.log"
MAX_BYTES = 1024 * 1024
BACKUPS = 3
FIELD_CHARS = 300
REFUSAL_INTERVAL = 60.0


def _field(value: str) -> str:
    return json.dumps(value if len(value) <= FIELD_CHARS else f"{value[:FIELD_CHARS]}... ({len(value)} characters)")


class _PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """Every log file it opens (the first and each after a rollover) is readable by its owner only: it
    may hold code the user sent."""

    def _open(self) -> Any:
        stream = super()._open()
        os.chmod(self.baseFilename, 0o600)
        return stream


class AuditLog:
    def __init__(self, folder: Path | None, include_code: bool = False) -> None:
        self.include_code = include_code
        self.path = folder / FILE_NAME if folder is not None else None
        # A logger of our own per server, not the root logger: Blender's and other add-ons' logs stay apart.
        self._logger = logging.getLogger(f"avatar_forge.mcp.audit.{id(self)}")
        self._logger.propagate = False
        self._logger.setLevel(logging.INFO)
        self._handler: logging.Handler | None = None
        self._lock = threading.Lock()
        # (host, reason) -> [when its interval began, refusals since its first line]
        self._refusals: dict[tuple[str, str], list[float]] = {}
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handler = _PrivateRotatingFileHandler(
                self.path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
            )
            self._handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
            self._logger.addHandler(self._handler)

    def record(
        self,
        peer: str,
        command: str,
        seconds: float,
        *,
        error: str | None = None,
        code: str | None = None,
        wrote: list[str] | None = None,
    ) -> None:
        """Thread-safe (logging's handlers lock)."""
        if self._handler is None:
            return
        parts = [f"peer={peer}", f"type={_field(command)}", f"ms={seconds * 1000:.1f}"]
        parts.append("outcome=ok" if error is None else f"outcome=error message={_field(error)}")
        parts += [f"wrote={_field(path)}" for path in wrote or []]
        if code is not None and self.include_code:
            parts.append(f"code={json.dumps(code)}")
        self._logger.info(" ".join(parts))

    def refused(self, peer: str, reason: str) -> None:
        """A client or message turned away: the first per host and reason in an interval is a line of its
        own, the rest are counted into one line when the interval ends. Thread-safe."""
        host = peer.rsplit(":", 1)[0]
        now = time.monotonic()
        with self._lock:
            self._flush(now)
            entry = self._refusals.get((host, reason))
            if entry is not None:
                entry[1] += 1
                return
            self._refusals[(host, reason)] = [now, 0]
        if self._handler is not None:
            self._logger.info(f"peer={peer} refused={_field(reason)}")

    def flush(self, everything: bool = False) -> None:
        """Writes the counts of intervals that have ended (all of them at close)."""
        with self._lock:
            self._flush(time.monotonic(), everything)

    def _flush(self, now: float, everything: bool = False) -> None:
        for (host, reason), (began, count) in list(self._refusals.items()):
            if everything or now - began >= REFUSAL_INTERVAL:
                del self._refusals[(host, reason)]
                if count and self._handler is not None:
                    self._logger.info(
                        f"peer={host} refused={_field(reason)} repeats={count:.0f} within_s={now - began:.0f}"
                    )

    def close(self) -> None:
        self.flush(everything=True)
        if self._handler is not None:
            self._logger.removeHandler(self._handler)
            self._handler.close()
            self._handler = None
