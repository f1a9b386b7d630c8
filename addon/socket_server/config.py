"""What a server is started with, and the checks made before anything binds. No bpy here."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from ..assets import polyhaven as polyhaven_api
from ..assets import rodin as rodin_api
from ..assets.fetch import Limits
from ..core import settings
from ..core.wire.protocol import MAX_MESSAGE_BYTES


class ConfigError(ValueError):
    """A server that must not start as asked; the message is one line for the user."""


@dataclass(frozen=True)
class ServerConfig:
    host: str = settings.DEFAULT_MCP_HOST
    port: int = settings.DEFAULT_MCP_PORT
    token: str | None = None  # when set, every client authenticates first
    execute_code_policy: str = settings.DEFAULT_EXECUTE_CODE_POLICY
    audit_code: bool = False  # write execute_code bodies into the audit log
    audit_dir: Path | None = None  # None: no audit log (tests that do not look at it)
    max_message_bytes: int = MAX_MESSAGE_BYTES
    blender_version: str = ""  # read on the main thread before the network thread starts
    max_connections: int = settings.DEFAULT_MCP_MAX_CONNECTIONS
    handshake_seconds: float = settings.DEFAULT_MCP_HANDSHAKE_SECONDS
    idle_seconds: float = settings.DEFAULT_MCP_IDLE_SECONDS
    max_buffered_bytes: int = settings.DEFAULT_MCP_MAX_BUFFERED_MB * 1024 * 1024
    max_queued: int = settings.DEFAULT_MCP_MAX_QUEUED
    # Poly Haven: off until the user turns it on; `polyhaven_api` is only ever changed for a stand-in service.
    polyhaven: bool = False
    polyhaven_api: str = polyhaven_api.API
    fetch_limits: Limits = field(default_factory=Limits)
    # Hyper3D Rodin: off until turned on, and then only with a key (preferences or the environment).
    hyper3d: bool = False
    hyper3d_key: str = field(default="", repr=False)
    hyper3d_api: str = rodin_api.API

    def __post_init__(self) -> None:
        if self.execute_code_policy not in settings.EXECUTE_CODE_POLICIES:
            raise ConfigError(
                f"execute-code policy must be one of {', '.join(settings.EXECUTE_CODE_POLICIES)}, "
                f"got {self.execute_code_policy!r}"
            )
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port must be between 0 (any free port) and 65535, got {self.port}")
        for name, value, least in (
            ("max connections", self.max_connections, 2),
            ("handshake seconds", self.handshake_seconds, 0.1),
            ("idle seconds", self.idle_seconds, 0),
            ("max buffered bytes", self.max_buffered_bytes, 1024 * 1024),
            ("max queued commands", self.max_queued, 1),
        ):
            if value < least:
                raise ConfigError(f"{name} must be at least {least}, got {value}")
        if self.token is None and not is_loopback(self.host):
            raise ConfigError(
                f"binding {self.host} lets other machines in: give a token file (--token-file, or the "
                "'Token file' preference), or keep 127.0.0.1 and use an SSH tunnel"
            )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name other than localhost may resolve to anything
        return False


def read_token(path: Path) -> str:
    """The token in `path`: its first non-blank line, stripped; at least 16 characters, so not guessable."""
    try:
        text = path.expanduser().read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read token file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"token file {path} is not UTF-8 text") from None
    lines = text.strip().splitlines()
    token = lines[0].strip() if lines else ""
    if len(token) < 16:
        raise ConfigError(f"token file {path} must hold a token of at least 16 characters on its first line")
    return token
