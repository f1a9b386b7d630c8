"""The stdio MCP server: lists the tools, runs each call against the socket server on a worker thread
(the socket is blocking), and turns every failure into an MCP tool error carrying the server's message."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any, TextIO

import anyio
from mcp import types
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server

from ..core.version import VERSION
from .connection import Connection
from .tools import TOOLS, Content

INSTRUCTIONS = """Avatar Forge drives the user's Blender to make VRM avatars for a three.js front end.
Start with get_scene_info and check_rig. Build and dress a character with create_object, modify_object,
set_material (MToon for the VRM look), duplicate_object and delete_object: no code needed.
check_rig lists findings with ids; fix_rig applies the safe ones (one id, or all_safe). See the avatar
with render_preview (optionally an expression) or get_viewport_screenshot. export_vrm writes a .vrm with a
preset from list_presets; publish versions it into the avatars storage (ask the user first).
execute_code runs Python in Blender for anything the tools do not cover."""


def build(connection: Connection) -> Server[Any, Any]:
    server: Server[Any, Any] = Server("avatar-forge", version=VERSION, instructions=INSTRUCTIONS)
    specs = {spec.name: spec for spec in TOOLS}

    @server.list_tools()  # type: ignore[no-untyped-call,untyped-decorator]
    async def list_tools() -> list[types.Tool]:
        return [spec.to_tool() for spec in TOOLS]

    @server.call_tool()  # type: ignore[untyped-decorator]
    async def call_tool(name: str, arguments: dict[str, Any]) -> list[Content]:
        spec = specs.get(name)
        if spec is None:
            raise ValueError(f"unknown tool {name!r}; list_tools names the tools")
        # An exception here becomes an MCP tool error whose text is its message (the server's own).
        return await anyio.to_thread.run_sync(spec.run, connection, arguments)

    return server


@contextlib.contextmanager
def _protocol_channel() -> Iterator[tuple[TextIO, TextIO]]:
    """Our own handles on stdin and stdout for the MCP messages, with fd 1 pointed at stderr meanwhile: a
    stray print (ours or a library's) goes to the log instead of corrupting the protocol."""
    sys.stdout.flush()
    saved, protocol = os.dup(1), os.dup(1)
    os.dup2(2, 1)
    try:
        with (
            open(os.dup(0), encoding="utf-8", newline="") as reader,
            open(protocol, "w", encoding="utf-8", newline="") as writer,
        ):
            yield reader, writer
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


async def serve_stdio(connection: Connection) -> None:
    server = build(connection)
    with _protocol_channel() as (reader, writer):
        async with stdio_server(anyio.wrap_file(reader), anyio.wrap_file(writer)) as (read, write):
            await server.run(read, write, server.create_initialization_options())
