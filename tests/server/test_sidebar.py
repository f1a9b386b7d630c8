"""The sidebar's server in the test's own Blender: the start/stop operators, the timer that drains the
queue (driven by hand: bpy.app.timers never fire in the bpy module), and auto-start at file load."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import bpy  # first: bmesh/mathutils exist only after it
import pytest

from tests.conftest import EXTENSION
from tests.server.serving import Client, port_is_free


def _free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return int(probe.getsockname()[1])


@pytest.fixture
def sidebar(empty_scene):
    import sys

    runtime = sys.modules[f"{EXTENSION}.socket_server.runtime"]
    prefs: Any = bpy.context.preferences.addons[EXTENSION].preferences  # type: ignore[union-attr]
    saved = (prefs.mcp_port, prefs.mcp_auto_start)
    prefs.mcp_port = _free_port()
    yield runtime, prefs
    runtime.stop()
    prefs.mcp_port, prefs.mcp_auto_start = saved


def _ask_while_pumping(runtime: Any, port: int, command: str) -> dict[str, Any]:
    """A client asks from another thread while this (main) thread runs the timer callback."""
    replies: list[dict[str, Any]] = []
    thread = threading.Thread(target=lambda: replies.append(Client(port, 30).request(command)))
    thread.start()
    deadline = time.monotonic() + 30
    while thread.is_alive() and time.monotonic() < deadline:
        assert runtime._tick() == runtime.TICK_SECONDS  # the timer keeps itself registered while serving
        time.sleep(0.01)
    thread.join(1)
    assert replies, "no reply"
    return replies[0]


def test_start_operator_serves_and_stop_closes_clients_and_frees_the_port(sidebar):
    runtime, prefs = sidebar
    bpy.ops.mesh.primitive_cube_add()
    assert bpy.ops.avatar_forge.mcp_start() == {"FINISHED"}
    server = runtime.current()
    assert server is not None and server.address == ("127.0.0.1", prefs.mcp_port)
    assert bpy.app.timers.is_registered(runtime._tick)

    reply = _ask_while_pumping(runtime, prefs.mcp_port, "get_scene_info")
    assert reply["status"] == "success" and [o["name"] for o in reply["result"]["objects"]] == ["Cube"]
    status = server.status()
    assert status["last_command"] == "get_scene_info" and status["commands"] >= 1

    idle = Client(prefs.mcp_port)
    assert idle.request("ping")["result"] == {"pong": True}
    assert bpy.ops.avatar_forge.mcp_stop() == {"FINISHED"}
    assert runtime.current() is None and not bpy.app.timers.is_registered(runtime._tick)
    assert idle.closed_by_server(5)
    assert port_is_free(prefs.mcp_port)


def test_start_on_a_port_in_use_reports_the_error_and_keeps_nothing_open(sidebar):
    runtime, prefs = sidebar
    with socket.create_server(("127.0.0.1", prefs.mcp_port)):
        with pytest.raises(RuntimeError, match="is in use"):
            bpy.ops.avatar_forge.mcp_start()
        assert runtime.current() is None
        assert "is in use" in runtime.last_start_error()


def test_non_loopback_host_without_token_is_refused(sidebar):
    runtime, prefs = sidebar
    saved = prefs.mcp_host
    prefs.mcp_host = "0.0.0.0"
    try:
        with pytest.raises(RuntimeError, match="token file"):
            bpy.ops.avatar_forge.mcp_start()
        assert runtime.current() is None
    finally:
        prefs.mcp_host = saved


def test_auto_start_preference_starts_the_server_when_a_file_loads(sidebar):
    runtime, prefs = sidebar
    prefs.mcp_auto_start = False
    bpy.ops.wm.read_homefile(use_empty=True)
    assert runtime.current() is None
    prefs.mcp_auto_start = True
    bpy.ops.wm.read_homefile(use_empty=True)
    assert runtime.current() is not None
    assert _ask_while_pumping(runtime, prefs.mcp_port, "get_scene_info")["result"]["object_count"] == 0
