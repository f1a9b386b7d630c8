"""`forge.py mcp`: Avatar Forge's MCP server on stdio, for an AI assistant (VS Code starts it). No bpy: it
talks to the socket server in Blender; with --blend FILE and no Blender listening it starts a private
headless one and stops it on exit."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from types import FrameType

from ..core import settings
from ..mcp_server.connection import Connection
from ..mcp_server.private_blender import PrivateBlender, StartError, blender_command, listening
from ..socket_server.config import ConfigError, read_token
from .command import Command, Result, UsageError
from .paths import existing_file


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=settings.DEFAULT_MCP_HOST, help="the socket server's host (127.0.0.1)")
    parser.add_argument("--port", type=int, default=settings.DEFAULT_MCP_PORT, help="its port (default 9876)")
    parser.add_argument("--token-file", type=Path, help="the token the socket server was started with")
    parser.add_argument(
        "--blender",
        help="Blender binary for the private server of --blend (default: this Python's bpy, else `blender`)",
    )


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGINT or SIGTERM from the MCP client: unwind, so the private Blender is stopped


def _private_blender(args: argparse.Namespace) -> PrivateBlender | None:
    """The private headless Blender --blend asks for, unless a Blender already listens where we would look."""
    if args.blend is None:
        return None
    if listening(args.host, args.port):
        # Never open a file in a Blender the artist is using: their unsaved work is in it.
        print(
            f"forge: a Blender already listens on {args.host}:{args.port}; using it, {args.blend} is not opened",
            file=sys.stderr,
        )
        return None
    blend = existing_file(args.blend, ".blend")
    try:
        private = PrivateBlender(blender_command(args.blender), blend)
    except StartError as exc:
        raise UsageError(str(exc)) from None
    print(f"forge: private headless Blender for {blend} on {private.host}:{private.port}", file=sys.stderr)
    return private


def _run(args: argparse.Namespace) -> Result:
    if args.json:
        raise UsageError("mcp speaks the MCP protocol on stdout; --json does not apply")
    try:  # only this subcommand needs the MCP SDK: Blender's own Python runs every other one without it
        import anyio

        from ..mcp_server.server import serve_stdio
    except ImportError as exc:
        raise UsageError(f"the MCP SDK is missing ({exc}): pip install -r requirements-mcp.txt") from None
    try:
        token = read_token(args.token_file) if args.token_file else None
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    private: PrivateBlender | None = None
    try:
        private = _private_blender(args)
        connection = (
            Connection(private.host, private.port, private.token)
            if private is not None
            else Connection(args.host, args.port, token)
        )
        try:
            anyio.run(serve_stdio, connection)
        finally:
            connection.close()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if private is not None:
            private.stop()
    return Result({}, [])  # stdout was the MCP channel: nothing more goes there


COMMAND = Command(
    "mcp",
    "Avatar Forge's MCP server on stdio, for AI assistants (connects to Blender's socket server)",
    _add_arguments,
    _run,
    needs_bpy=False,
    own_blend=True,
)
