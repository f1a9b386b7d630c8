"""The real path an AI assistant takes: the official MCP SDK's stdio client spawns BlenderMCP's MCP server
(`blender-mcp` 1.5.5, and the newer `mcp-for-blender` 2.2.4 from its own virtualenv), which connects to
our socket server in a headless Blender (`forge.py serve`), and calls its tools."""

from __future__ import annotations

import base64
import json
import os
import re
import sys
from pathlib import Path
from typing import Any, TextIO

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from pydantic import AnyUrl

from tests.server.serving import Serving

ROOT = Path(__file__).resolve().parents[2]
BLENDER_MCP = Path(sys.executable).parent / "blender-mcp"
MCP_FOR_BLENDER = ROOT / ".venv-mcp4b" / "bin" / "mcp-for-blender"


def _text(result: Any) -> str:
    assert not result.isError, result
    return "".join(part.text for part in result.content if part.type == "text")


def _session(
    command: Path,
    port: int,
    home: Path,
    calls: list[tuple[str, dict[str, Any]]],
    *,
    env: dict[str, str] | None = None,
    errlog: Path | None = None,
) -> dict[str, Any]:
    """Starts the MCP server over stdio, lists its tools, then makes each call in order: a tool call, or
    a resource read when the name is `resource:URI`.

    `env` replaces the BlenderMCP settings (host, port, telemetry) when a test takes them from a config;
    the server's log (stderr) goes to `errlog` when given.
    """
    settings = env or {"DISABLE_TELEMETRY": "true", "BLENDER_HOST": "127.0.0.1", "BLENDER_PORT": str(port)}
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),  # whatever state these servers keep goes into a throwaway home
        **settings,
    }

    async def run(log: TextIO) -> dict[str, Any]:
        params = StdioServerParameters(command=str(command), args=[], env=env)
        async with stdio_client(params, errlog=log) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            tools = await session.list_tools()
            out: dict[str, Any] = {"tools": {tool.name for tool in tools.tools}}
            for i, (name, arguments) in enumerate(calls):
                with anyio.fail_after(120):
                    if name.startswith("resource:"):
                        out[f"{i}:{name}"] = await session.read_resource(AnyUrl(name.removeprefix("resource:")))
                    else:
                        out[f"{i}:{name}"] = await session.call_tool(name, arguments)
            return out

    if errlog is None:
        return anyio.run(run, sys.stderr)
    with errlog.open("w") as log:
        return anyio.run(run, log)


@pytest.fixture(scope="module")
def served(demo_blend: Path):
    with Serving("--blend", demo_blend) as serving:
        yield serving


@pytest.fixture(scope="module")
def blender_mcp(served: Serving, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    prompt: dict[str, Any] = {"user_prompt": "test"}
    calls: list[tuple[str, dict[str, Any]]] = [
        ("get_scene_info", prompt),
        ("get_object_info", {"object_name": "AvatarBody", **prompt}),
        ("execute_blender_code", {"code": "print(bpy.data.objects['Avatar'].type)", **prompt}),
        ("execute_blender_code", {"code": "raise ValueError('no such bone')", **prompt}),
        ("get_viewport_screenshot", {"max_size": 128, **prompt}),
        ("get_polyhaven_status", prompt),
        ("get_hyper3d_status", prompt),
        ("get_sketchfab_status", prompt),
        ("get_hunyuan3d_status", prompt),
    ]
    return _session(BLENDER_MCP, served.port, tmp_path_factory.mktemp("home"), calls)


def test_blender_mcp_lists_its_scene_tools(blender_mcp):
    assert {
        "get_scene_info",
        "get_object_info",
        "get_viewport_screenshot",
        "execute_blender_code",
        "get_polyhaven_status",
    } <= blender_mcp["tools"]


@pytest.mark.smoke
def test_blender_mcp_get_scene_info_shows_every_object(blender_mcp):
    scene = json.loads(_text(blender_mcp["0:get_scene_info"]))
    names = {o["name"] for o in scene["objects"]}
    assert {"Avatar", "AvatarBody"} <= names
    assert len(scene["objects"]) == scene["object_count"]


def test_blender_mcp_get_object_info(blender_mcp):
    info = json.loads(_text(blender_mcp["1:get_object_info"]))
    assert info["name"] == "AvatarBody" and info["type"] == "MESH"
    assert info["mesh"]["vertices"] > 1000 and len(info["world_bounding_box"]) == 2


def test_blender_mcp_execute_code_returns_printed_output(blender_mcp):
    assert _text(blender_mcp["2:execute_blender_code"]) == "Code executed successfully: ARMATURE\n"


def test_blender_mcp_execute_code_error_carries_the_traceback(blender_mcp):
    text = _text(blender_mcp["3:execute_blender_code"])
    assert text.startswith("Error executing code:")
    assert "no such bone" in text and "Traceback" in text and "<execute_code>" in text


def test_blender_mcp_screenshot_is_a_png_image(blender_mcp):
    result = blender_mcp["4:get_viewport_screenshot"]
    assert not result.isError, result
    (image,) = [part for part in result.content if part.type == "image"]
    assert image.mimeType == "image/png"
    assert base64.b64decode(image.data)[:8] == b"\x89PNG\r\n\x1a\n"


def test_blender_mcp_integration_statuses_say_disabled(blender_mcp):
    tools = ("get_polyhaven_status", "get_hyper3d_status", "get_sketchfab_status", "get_hunyuan3d_status")
    for i, tool in enumerate(tools, start=5):
        assert "integration is disabled" in _text(blender_mcp[f"{i}:{tool}"]), tool


def test_blender_mcp_pings_with_polyhaven_status_and_every_command_succeeded(blender_mcp, served):
    log = served.audit_log.read_text().splitlines()
    pings = [line for line in log if 'type="get_polyhaven_status"' in line]
    assert len(pings) >= 8  # 1.5.5 checks the connection with it before each command
    errors = [line for line in log if "outcome=error" in line]
    assert len(errors) == 1 and 'type="execute_code"' in errors[0]  # only the code that raised


@pytest.fixture(scope="module")
def mcp_for_blender(served: Serving, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if not MCP_FOR_BLENDER.exists():
        pytest.fail("mcp-for-blender is missing: run `make venv` (it builds .venv-mcp4b)")
    prompt: dict[str, Any] = {"user_prompt": "test"}
    calls: list[tuple[str, dict[str, Any]]] = [
        ("execute_blender_code", {"code": "print(sorted(o.name for o in bpy.data.objects)[:2])", **prompt}),
        ("execute_blender_code", {"code": "x = 1\nraise RuntimeError('bad weights')", **prompt}),
        ("get_addon_status", prompt),
        ("get_scene_info", {"root": "Avatar", "fields": ["size", "children", "weights"], **prompt}),
        ("look", {"mode": "viewport", "max_size": 256, **prompt}),
        ("resource:blender://object/AvatarBody", {}),
        ("search_mentions", {"query": "avatar"}),
        ("resource:blender://material/AvatarMaterial", {}),
    ]
    home = tmp_path_factory.mktemp("home4b")
    out = _session(MCP_FOR_BLENDER, served.port, home, calls, errlog=home / "server.log")
    out["log"] = (home / "server.log").read_text()
    return out


def test_mcp_for_blender_handshakes_with_get_addon_info(mcp_for_blender, served):
    assert "execute_blender_code" in mcp_for_blender["tools"]
    handshakes = [line for line in served.audit_log.read_text().splitlines() if 'type="get_addon_info"' in line]
    assert handshakes and all("outcome=ok" in line for line in handshakes)


def test_mcp_for_blender_finds_us_up_to_date_with_no_outdated_warning(mcp_for_blender):
    assert "Blender addon up to date (protocol 15" in mcp_for_blender["log"]
    assert "behind" not in mcp_for_blender["log"] and "outdated" not in mcp_for_blender["log"]
    status = json.loads(_text(mcp_for_blender["2:get_addon_status"]).split("\n\n", 1)[0])
    assert status["up_to_date"] is True and status["protocol_version"] == 15
    assert status["warning"] is None and status["telemetry_consent"] is False
    # Every integration probe answered "off", not "not in this addon version" (an error reply).
    assert set(status["libraries"].values()) == {"off"}
    assert {status["generators"][g] for g in ("hunyuan3d", "hyper3d", "meshy")} == {"off"}


def test_mcp_for_blender_execute_code_output_and_parsed_traceback(mcp_for_blender):
    assert _text(mcp_for_blender["0:execute_blender_code"]) == "Code executed successfully: ['Avatar', 'AvatarBody']\n"
    error = _text(mcp_for_blender["1:execute_blender_code"])
    # 2.2.4 means to render our JSON error as text, but its own send_command wraps the message first
    # ("Communication error with Blender: ..."), so it shows the JSON: type, message, traceback with line.
    assert error.startswith("Error executing code:")
    assert "RuntimeError" in error and "bad weights" in error and "<execute_code>" in error and "line 2" in error


def test_mcp_for_blender_scripted_scene_info_reads_the_rig(mcp_for_blender):
    # Its own script, run through execute_code and parsed from the __MCP_RESULT__ line (no fallback).
    text = _text(mcp_for_blender["3:get_scene_info"])
    assert text.startswith("Scene 'Scene' | 1 armature, 1 camera, 1 mesh | active Avatar")
    assert re.search(r"\n  AvatarBody \| mesh \| size [\d.x]+ \| 0 of \d+ verts unweighted by Avatar", text), text


def test_mcp_for_blender_look_shows_the_headless_viewport(mcp_for_blender):
    result = mcp_for_blender["4:look"]
    assert not result.isError, result
    (image,) = [part for part in result.content if part.type == "image"]
    png = base64.b64decode(image.data)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert max(width, height) == 256


def test_mcp_for_blender_object_resource(mcp_for_blender):
    (content,) = mcp_for_blender["5:resource:blender://object/AvatarBody"].contents
    info = json.loads(content.text)
    assert info["name"] == "AvatarBody" and info["type"] == "MESH"


def test_mcp_for_blender_mentions_and_material_resource_use_list_scene_items(mcp_for_blender, served):
    found = mcp_for_blender["6:search_mentions"].structuredContent["items"]
    assert {item["name"] for item in found} >= {"Avatar", "AvatarBody"}
    assert all(item["uri"].startswith("blender://") for item in found)
    (content,) = mcp_for_blender["7:resource:blender://material/AvatarMaterial"].contents
    assert json.loads(content.text) == {
        "kind": "material",
        "name": "AvatarMaterial",
        "detail": "Material on AvatarBody",
    }
    listed = [line for line in served.audit_log.read_text().splitlines() if 'type="list_scene_items"' in line]
    assert len(listed) == 2 and all("outcome=ok" in line for line in listed)  # not its get_scene_info fallback
