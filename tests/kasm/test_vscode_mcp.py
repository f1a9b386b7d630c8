""".vscode/mcp.json starts a server that works today: the command it names, from the installed
packages (offline), against our socket server, lists BlenderMCP's tools and reaches Blender."""

from __future__ import annotations

import json
import re
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.server.serving import Serving
from tests.server.test_mcp_clients import BLENDER_MCP, _session, _text

CONFIG = ROOT / ".vscode" / "mcp.json"


@pytest.fixture(scope="module")
def entry() -> dict[str, Any]:
    entry: dict[str, Any] = json.loads(CONFIG.read_text())["servers"]["blender"]
    return entry


def test_the_entry_pins_blender_mcp_with_mcp_below_2_and_no_telemetry(entry):
    assert entry["type"] == "stdio" and entry["command"] == "uvx"
    assert entry["args"] == ["--with", "mcp<2", "blender-mcp==1.5.5"]
    assert entry["env"] == {"BLENDER_HOST": "127.0.0.1", "BLENDER_PORT": "9876", "DISABLE_TELEMETRY": "true"}


def test_the_installed_packages_are_what_the_entry_asks_uvx_for(entry):
    pins = {}
    for arg in entry["args"]:
        if not arg.startswith("-"):
            found = re.fullmatch(r"([\w-]+)(==|<)(.+)", arg)
            assert found, arg
            pins[found.group(1)] = found.group(3)
    assert version("blender-mcp") == pins["blender-mcp"]
    assert int(version("mcp").split(".")[0]) < int(pins["mcp"])


def test_the_configured_server_lists_its_tools_and_reaches_blender(entry, demo_blend: Path, tmp_path: Path):
    with Serving("--blend", demo_blend) as served:
        # uvx would run the package's console script; the installed one is the same program, offline.
        env = {**entry["env"], "BLENDER_PORT": str(served.port)}  # the test server's free port, not 9876
        result = _session(BLENDER_MCP, served.port, tmp_path, [("get_scene_info", {"user_prompt": "test"})], env=env)
    assert {"get_scene_info", "get_object_info", "execute_blender_code", "get_viewport_screenshot"} <= result["tools"]
    assert '"Avatar"' in _text(result["0:get_scene_info"])
