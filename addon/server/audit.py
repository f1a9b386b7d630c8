"""The audit log: one line per command (when, who, what, how long, how it ended), rotating, in the user's
config folder. Code sent to execute_code is written only when the user opted in."""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
from pathlib import Path
from typing import Any

FILE_NAME = "mcp-audit.log"
MAX_BYTES = 1024 * 1024
BACKUPS = 3


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
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handler = _PrivateRotatingFileHandler(
                self.path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
            )
            self._handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
            self._logger.addHandler(self._handler)

    def record(
        self, peer: str, command: str, seconds: float, error: str | None = None, code: str | None = None
    ) -> None:
        """Thread-safe (logging's handlers lock)."""
        if self._handler is None:
            return
        parts = [f"peer={peer}", f"type={json.dumps(command)}", f"ms={seconds * 1000:.1f}"]
        parts.append("outcome=ok" if error is None else f"outcome=error message={json.dumps(error[:300])}")
        if code is not None and self.include_code:
            parts.append(f"code={json.dumps(code)}")
        self._logger.info(" ".join(parts))

    def close(self) -> None:
        if self._handler is not None:
            self._logger.removeHandler(self._handler)
            self._handler.close()
            self._handler = None
