"""A running socket server: the listener, the dispatcher and the audit log, started and stopped together.
The sidebar (through `runtime`), `forge.py serve` and the tests all use this one class."""

from __future__ import annotations

from typing import Any

from .audit import AuditLog
from .config import ServerConfig
from .dispatcher import Dispatcher
from .listener import Listener


class Server:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.audit = AuditLog(config.audit_dir, include_code=config.audit_code)
        # The dispatcher replies through the listener, which is built next: _send looks it up per call.
        self.dispatcher = Dispatcher(config, self.audit, self._send)
        self._listener = Listener(
            config,
            self.dispatcher.submit,
            self.dispatcher.answer_inline,
            refused=self.audit.refused,
        )

    def _send(self, connection: int, data: bytes) -> None:
        self._listener.send(connection, data)

    @property
    def address(self) -> tuple[str, int]:
        return self._listener.address

    def start(self) -> None:
        """Binds and listens; raises ConfigError (port in use, bad address) with nothing left open."""
        try:
            self._listener.start()
        except Exception:
            self.audit.close()
            raise

    def stop(self) -> None:
        """Closes every socket; replies still queued are dropped with their connections."""
        self._listener.stop()
        self.audit.close()

    def pump(self, wait: float = 0.0, budget: float = 0.05) -> int:
        """Main thread: run queued commands (see Dispatcher.pump)."""
        self.audit.flush()
        return self.dispatcher.pump(wait, budget)

    def status(self) -> dict[str, Any]:
        activity = self.dispatcher.activity()
        host, port = self.address
        return {
            "host": host,
            "port": port,
            "clients": self._listener.client_count(),
            "token_required": self.config.token is not None,
            "execute_code_policy": self.config.execute_code_policy,
            "audit_log": str(self.audit.path) if self.audit.path else None,
            **vars(activity),
        }
