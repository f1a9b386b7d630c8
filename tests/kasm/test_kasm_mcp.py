"""What the Kasm image gives `forge.py mcp`: the pinned MCP SDK installed at build time for Blender's own
Python, and the `avatar-forge-mcp` launcher. The launcher is run here as the image lays it out, with a bare
Python 3.11 (no virtualenv) that finds the SDK only where the image puts it."""

from __future__ import annotations

import os
import re
import sys
from importlib.metadata import requires, version
from pathlib import Path

from mcp import StdioServerParameters

from tests.conftest import FORGE, ROOT
from tests.server.serving import Serving
from tests.server.test_mcp_forge import ok, session

DOCKERFILE = ROOT / "scripts" / "kasm" / "Dockerfile"
LAUNCHER = ROOT / "scripts" / "kasm" / "avatar-forge-mcp"
REQUIREMENTS = ROOT / "requirements-mcp.txt"


def _pins() -> dict[str, str]:
    lines = [line for line in REQUIREMENTS.read_text().splitlines() if line and not line.startswith("#")]
    return dict(line.split("==") for line in lines)


def _name(requirement: str) -> str:
    found = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert found, requirement
    return found.group(0).lower().replace("_", "-")


def test_requirements_pin_the_tested_sdk_and_all_it_needs():
    pins = {_name(name): pin for name, pin in _pins().items()}
    assert pins["mcp"] == version("mcp") and int(pins["mcp"].split(".")[0]) == 1
    assert all(version(name) == pin for name, pin in pins.items())  # the versions the tests ran with
    # Every package mcp needs on Linux, transitively, is pinned (else the offline image would lack it).
    todo, seen = ["mcp"], set()
    while todo:
        name = todo.pop()
        seen.add(name)
        for requirement in requires(name) or []:
            marker = requirement.split(";", 1)[1] if ";" in requirement else ""
            if "extra ==" in marker or "win32" in marker or 'python_version < "3.1' in marker:
                continue
            dependency = _name(requirement)
            assert dependency in pins, f"{name} needs {dependency}, which requirements-mcp.txt does not pin"
            if dependency not in seen:
                todo.append(dependency)


def test_the_image_installs_the_pinned_sdk_as_wheels_and_checks_it_loads():
    text = DOCKERFILE.read_text()
    assert "COPY requirements-mcp.txt " in text
    install = re.search(r"pip install (.+?)&&", text, re.DOTALL)
    assert install, "no pip install in the Dockerfile"
    assert "--only-binary=:all:" in install.group(
        1
    ) and "-r /tmp/avatar-forge-mcp/requirements-mcp.txt" in install.group(1)
    assert "--target /opt/avatar-forge/mcp-sdk" in install.group(1)
    assert '-c "import mcp.server.lowlevel, mcp.server.stdio"' in text  # the build fails if it does not load
    assert "COPY scripts/kasm/avatar-forge-mcp /usr/local/bin/avatar-forge-mcp" in text
    assert os.access(LAUNCHER, os.X_OK)


def test_the_launcher_serves_the_tools_with_a_bare_python(demo_blend: Path, tmp_path: Path):
    home = tmp_path / "opt-avatar-forge"  # laid out as the image lays out /opt/avatar-forge
    home.mkdir()
    (home / "python").symlink_to(os.path.realpath(sys.executable))  # the interpreter, without the venv
    (home / "mcp-sdk").symlink_to(next(Path(sys.prefix).glob("lib/python3.*/site-packages")))
    (home / "forge.py").symlink_to(FORGE)
    env = {"PATH": os.environ.get("PATH", ""), "AVATAR_FORGE_HOME": str(home)}
    with Serving("--blend", demo_blend) as served:
        params = StdioServerParameters(command=str(LAUNCHER), args=["--port", str(served.port)], env=env)
        out = session(params, [("list_presets", {})])
    assert "companions-web" in {preset["name"] for preset in ok(out["0:list_presets"])["presets"]}
