""".vscode/mcp.json starts servers that work today: Avatar Forge's own (`forge.py mcp`, listed first, the
default) and the pinned mcp-for-blender. Each entry's command, from the installed packages (offline),
against our socket server, lists its tools and reaches Blender."""

from __future__ import annotations

import json
import re
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from mcp import StdioServerParameters

from tests.conftest import ROOT
from tests.server.serving import Serving
from tests.server.test_mcp_clients import MCP_FOR_BLENDER, _session, _text
from tests.server.test_mcp_forge import ok, session

CONFIG = ROOT / ".vscode" / "mcp.json"


@pytest.fixture(scope="module")
def servers() -> dict[str, Any]:
    servers: dict[str, Any] = json.loads(CONFIG.read_text())["servers"]
    return servers


def _workspace(value: str) -> str:
    return value.replace("${workspaceFolder}", str(ROOT))


def test_ours_comes_first_and_mcp_for_blender_is_pinned_without_telemetry(servers):
    assert list(servers) == ["avatar-forge", "mcp-for-blender"]
    ours, theirs = servers["avatar-forge"], servers["mcp-for-blender"]
    assert ours["type"] == theirs["type"] == "stdio"
    assert ours["args"][1:] == ["mcp", "--host", "127.0.0.1", "--port", "9876"]
    assert theirs["command"] == "uvx" and theirs["args"] == ["--with", "mcp==1.30.0", "mcp-for-blender==2.2.4"]
    assert theirs["env"] == {"BLENDER_HOST": "127.0.0.1", "BLENDER_PORT": "9876", "DISABLE_TELEMETRY": "true"}


def test_the_installed_packages_are_what_the_entries_ask_for(servers):
    pins = {}
    for arg in servers["mcp-for-blender"]["args"][1:]:
        found = re.fullmatch(r"([\w-]+)==(.+)", arg)
        assert found, arg
        pins[found.group(1)] = found.group(2)
    assert pins == {"mcp": version("mcp"), "mcp-for-blender": "2.2.4"}
    venv = MCP_FOR_BLENDER.parents[1]
    assert (venv / "lib" / "python3.11" / "site-packages" / "mcp_for_blender-2.2.4.dist-info").is_dir()
    assert Path(_workspace(servers["avatar-forge"]["command"])).exists()


def test_both_configured_servers_reach_blender(servers, demo_blend: Path, tmp_path: Path):
    ours = servers["avatar-forge"]
    with Serving("--blend", demo_blend) as served:
        args = [_workspace(a) for a in ours["args"]]
        args[args.index("--port") + 1] = str(served.port)  # the test server's free port, not 9876
        params = StdioServerParameters(command=_workspace(ours["command"]), args=args, env={})
        forge = session(params, [("check_rig", {})])
        # uvx would run the package's console script; the installed one is the same program, offline.
        env = {**servers["mcp-for-blender"]["env"], "BLENDER_PORT": str(served.port)}
        theirs = _session(MCP_FOR_BLENDER, served.port, tmp_path, [("get_scene_info", {"user_prompt": "t"})], env=env)
    assert ok(forge["0:check_rig"])["armature"] == "Avatar"
    assert {"get_scene_info", "execute_blender_code", "look"} <= theirs["tools"]
    assert "Scene 'Scene'" in _text(theirs["0:get_scene_info"])
