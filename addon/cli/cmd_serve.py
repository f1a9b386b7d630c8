"""`forge.py serve`: the sidebar's MCP socket server, headless, with its own main-thread loop until
SIGINT or SIGTERM; then every socket is closed and it exits 0."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

from ..core import settings
from .blender_args import enable_vrm_addon
from .command import Command, Result, UsageError


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=settings.DEFAULT_MCP_HOST, help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=settings.DEFAULT_MCP_PORT, help="TCP port (default 9876; 0: any free port)"
    )
    parser.add_argument("--token-file", type=Path, help="clients must first send the token in this file")
    parser.add_argument(
        "--execute-code",
        choices=settings.EXECUTE_CODE_POLICIES,
        default=settings.DEFAULT_EXECUTE_CODE_POLICY,
        help="whether clients may run Python (default allow)",
    )
    parser.add_argument("--audit-code", action="store_true", help="also write execute_code bodies to the audit log")
    limits = parser.add_argument_group("limits (docs/security.md)")
    limits.add_argument(
        "--max-connections",
        type=int,
        default=settings.DEFAULT_MCP_MAX_CONNECTIONS,
        help=f"clients connected at once (default {settings.DEFAULT_MCP_MAX_CONNECTIONS})",
    )
    limits.add_argument(
        "--handshake-seconds",
        type=float,
        default=settings.DEFAULT_MCP_HANDSHAKE_SECONDS,
        help=f"time to authenticate or send a first request (default {settings.DEFAULT_MCP_HANDSHAKE_SECONDS:g})",
    )
    limits.add_argument(
        "--idle-seconds",
        type=float,
        default=settings.DEFAULT_MCP_IDLE_SECONDS,
        help="when every connection is taken, a client idle this long is closed to let a newcomer in "
        f"(default {settings.DEFAULT_MCP_IDLE_SECONDS:g})",
    )
    limits.add_argument(
        "--max-buffered-mb",
        type=int,
        default=settings.DEFAULT_MCP_MAX_BUFFERED_MB,
        help=f"memory for unfinished and queued messages (default {settings.DEFAULT_MCP_MAX_BUFFERED_MB})",
    )
    limits.add_argument(
        "--max-queued",
        type=int,
        default=settings.DEFAULT_MCP_MAX_QUEUED,
        help=f"commands waiting for Blender, all clients (default {settings.DEFAULT_MCP_MAX_QUEUED})",
    )

    assets = parser.add_argument_group("asset sources (off unless turned on here or in the preferences)")
    assets.add_argument("--polyhaven", action="store_true", help="answer the Poly Haven commands")
    assets.add_argument(
        "--polyhaven-api", default=None, help="Poly Haven API base URL (default the real one; for a stand-in service)"
    )
    assets.add_argument(
        "--hyper3d",
        action="store_true",
        help=f"answer the Hyper3D Rodin commands, with the key in {settings.HYPER3D_KEY_ENV} (never a flag)",
    )
    assets.add_argument("--hyper3d-api", default=None, help="Rodin API base URL (for a stand-in service)")
    assets.add_argument(
        "--max-download-mb", type=int, default=None, help="largest asset a download may bring (default 512)"
    )
    assets.add_argument(
        "--fetch-timeout", type=float, default=None, help="seconds to wait for an asset service to answer (default 15)"
    )


def _limits(args: argparse.Namespace) -> Any:
    from ..assets.fetch import Limits

    default = Limits()
    if (args.max_download_mb is not None and args.max_download_mb < 1) or (
        args.fetch_timeout is not None and args.fetch_timeout <= 0
    ):
        raise UsageError("--max-download-mb must be at least 1 and --fetch-timeout above 0")
    return Limits(
        timeout=args.fetch_timeout or default.timeout,
        deadline=default.deadline,
        max_bytes=args.max_download_mb * 1024 * 1024 if args.max_download_mb else default.max_bytes,
    )


def _run(args: argparse.Namespace) -> Result:
    import bpy

    from ..blender.paths import config_dir
    from ..socket_server.config import ConfigError, ServerConfig, read_token
    from ..socket_server.server import Server

    try:
        config = ServerConfig(
            host=args.host,
            port=args.port,
            token=read_token(args.token_file) if args.token_file else None,
            execute_code_policy=args.execute_code,
            audit_code=args.audit_code,
            audit_dir=config_dir(),
            blender_version=bpy.app.version_string,
            max_connections=args.max_connections,
            handshake_seconds=args.handshake_seconds,
            idle_seconds=args.idle_seconds,
            max_buffered_bytes=args.max_buffered_mb * 1024 * 1024,
            max_queued=args.max_queued,
            polyhaven=args.polyhaven,
            fetch_limits=_limits(args),
            **({"polyhaven_api": args.polyhaven_api} if args.polyhaven_api else {}),
            hyper3d=args.hyper3d,
            hyper3d_key=os.environ.get(settings.HYPER3D_KEY_ENV, ""),
            **({"hyper3d_api": args.hyper3d_api} if args.hyper3d_api else {}),
        )
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    # As in the artist's Blender: the avatar commands read and write the VRM Add-on's data.
    enable_vrm_addon("avatar_* commands will report it")
    server = Server(config)
    try:
        server.start()
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    # A plain flag, not a threading.Event: Event.set takes a lock, and a second signal arriving while the
    # first handler holds it (Ctrl-C twice, SIGTERM twice) deadlocks the main thread.
    stop: list[int] = []

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.append(signum)

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    host, port = server.address
    started = time.perf_counter()
    # The one line a supervisor (or a test) waits for; with --port 0 it is how the port is learnt.
    print(f"forge: MCP server listening on {host}:{port}", file=sys.stderr, flush=True)
    try:
        while not stop:
            server.pump(wait=0.1, budget=0.5)
    finally:
        status = server.status()
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    data = {
        "host": host,
        "port": port,
        "commands": status["commands"],
        "last_error": status["last_error"],
        "audit_log": status["audit_log"],
        "seconds": round(time.perf_counter() - started, 3),
    }
    return Result(data, [f"served {status['commands']} command(s) on {host}:{port}; stopped"])


COMMAND = Command("serve", "run the MCP socket server headless until SIGINT or SIGTERM", _add_arguments, _run)
