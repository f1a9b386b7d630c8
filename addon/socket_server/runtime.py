"""The one server the sidebar runs in this Blender: started and stopped by the operators (or at load
when the preference says so), and drained by one persistent timer registered from the main thread."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import bpy
from bpy.app.handlers import persistent

from .. import preferences
from ..blender.paths import config_dir
from ..core import settings
from .config import ConfigError, ServerConfig, read_token
from .server import Server

TICK_SECONDS = 0.05
PUMP_BUDGET = 0.02  # keep the UI responsive while a queue drains: the rest waits for the next tick

_server: Server | None = None
_last_start_error = ""


def current() -> Server | None:
    return _server


def last_start_error() -> str:
    return _last_start_error


def config_from_preferences() -> ServerConfig:
    """The server the preferences describe (core's defaults when the add-on is not enabled)."""
    prefs = preferences.get()
    if prefs is None:
        return ServerConfig(audit_dir=config_dir(), blender_version=bpy.app.version_string)
    token_file = bpy.path.abspath(prefs.mcp_token_file) if prefs.mcp_token_file else ""
    return ServerConfig(
        host=prefs.mcp_host,
        port=prefs.mcp_port,
        token=read_token(Path(token_file)) if token_file else None,
        execute_code_policy=prefs.execute_code_policy,
        audit_code=prefs.mcp_audit_code,
        audit_dir=config_dir(),
        blender_version=bpy.app.version_string,
        max_connections=prefs.mcp_max_connections,
        handshake_seconds=prefs.mcp_handshake_seconds,
        max_buffered_bytes=prefs.mcp_max_buffered_mb * 1024 * 1024,
        max_queued=prefs.mcp_max_queued,
        polyhaven=prefs.polyhaven_enabled,
        hyper3d=prefs.hyper3d_enabled,
        hyper3d_key=prefs.hyper3d_api_key or os.environ.get(settings.HYPER3D_KEY_ENV, ""),
    )


def start() -> Server:
    """Starts the server the preferences describe, once; raises ConfigError (port in use, no token...)."""
    global _server, _last_start_error  # noqa: PLW0603 (one server per Blender)
    if _server is not None:
        return _server
    try:
        server = Server(config_from_preferences())
        server.start()
    except ConfigError as exc:
        _last_start_error = str(exc)
        raise
    _server, _last_start_error = server, ""
    if not bpy.app.timers.is_registered(_tick):
        bpy.app.timers.register(_tick, first_interval=0.0, persistent=True)
    return server


def stop() -> None:
    global _server  # noqa: PLW0603
    if _server is not None:
        _server.stop()
        _server = None
    if bpy.app.timers.is_registered(_tick):
        bpy.app.timers.unregister(_tick)


def _tick() -> float | None:
    if _server is None:
        return None
    _server.pump(budget=PUMP_BUDGET)
    return TICK_SECONDS


def _auto_start() -> None:
    prefs = preferences.get()
    if prefs is None or not prefs.mcp_auto_start or _server is not None:
        return
    try:
        start()
    except ConfigError as exc:  # Blender is starting: say it where the artist looks, and go on
        print(f"Avatar Forge: MCP server not started: {exc}", file=sys.stderr)


@persistent  # type: ignore[untyped-decorator]  # bpy.app.handlers.persistent is untyped in the stubs
def _on_load_post(*_args: object) -> None:
    _auto_start()


def _auto_start_timer() -> None:
    _auto_start()


def register() -> None:
    """Auto-start: once Blender has finished starting (timer), and after each file load (handler)."""
    if _on_load_post not in bpy.app.handlers.load_post:
        bpy.app.handlers.load_post.append(_on_load_post)
    bpy.app.timers.register(_auto_start_timer, first_interval=0.5)


def unregister() -> None:
    if _on_load_post in bpy.app.handlers.load_post:
        bpy.app.handlers.load_post.remove(_on_load_post)
    if bpy.app.timers.is_registered(_auto_start_timer):
        bpy.app.timers.unregister(_auto_start_timer)
    stop()
