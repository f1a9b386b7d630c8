"""The built zip, installed by Blender's own installer into a fresh user folder, is enabled and shows
its sidebar tab; proven in a second Blender process that only loads the saved preferences."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.test_build import built_zip  # noqa: F401  (session fixture)

INSTALL = """
import os, sys
import bpy
from bl_pkg import bl_extension_cli
bl_extension_cli.cli_extension_handler(["install-file", "-r", "user_default", "-e", sys.argv[1]])
sys.stdout.flush(); os._exit(0)
"""

# What Blender does at start-up: read the saved preferences, enable the add-ons they list. The bpy module
# starts from factory preferences, and bpy 4.2's wm.read_userpref() segfaults without a GPU (it reloads
# icon textures), so the list comes from the saved file itself: each enabled add-on is a bAddon record
# whose module name fills a NUL-padded char[128] (Blender drops the record when the add-on is disabled).
INSPECT = """
import json, os, sys
import bpy
import addon_utils
name = "bl_ext.user_default.avatar_forge"
saved = os.path.join(bpy.utils.user_resource("CONFIG"), "userpref.blend")
if os.path.exists(saved) and name.encode() + bytes(1) in open(saved, "rb").read():
    addon_utils.enable(name, default_set=True)
registered = [getattr(bpy.types, n) for n in dir(bpy.types) if n.startswith("AVATARFORGE_PT_")]
panels = {c.bl_label: (c.bl_space_type, c.bl_region_type, c.bl_category) for c in registered}
addon = bpy.context.preferences.addons.get(name)
prefs = addon.preferences if addon else None
import boto3
print(json.dumps({
    "enabled": addon is not None,
    "panels": panels,
    "prefs": {k: getattr(prefs, k) for k in ("storage_root", "mcp_host", "mcp_port", "mcp_auto_start",
              "execute_code_policy", "s3_bucket", "s3_prefix")} if prefs else None,
    "operator": hasattr(bpy.ops.avatar_forge, "add_demo_avatar"),
    "boto3": boto3.__version__,
}))
sys.stdout.flush(); os._exit(0)
"""


def _blender(code: str, user: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (user / "tmp").mkdir(parents=True, exist_ok=True)  # Blender's blender_* folder: os._exit leaves it
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(user), TMPDIR=str(user / "tmp"))
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip


@pytest.mark.smoke
def test_installed_zip_is_enabled_with_the_avatar_sidebar_tab(built_zip, tmp_path):  # noqa: F811
    user = tmp_path / "user"
    installed = _blender(INSTALL, user, str(built_zip))
    assert installed.returncode == 0, installed.stderr
    inspected = _blender(INSPECT, user)
    assert inspected.returncode == 0, inspected.stderr
    state = json.loads(inspected.stdout.strip().splitlines()[-1])
    assert state["enabled"] is True
    assert state["panels"] == {
        label: ["VIEW_3D", "UI", "Avatar"] for label in ("MCP Server", "Rig", "Export", "Publish")
    }
    assert state["prefs"] == {
        "storage_root": "/s3/blender-avatars", "mcp_host": "127.0.0.1", "mcp_port": 9876,
        "mcp_auto_start": False, "execute_code_policy": "allow", "s3_bucket": "kasm",
        "s3_prefix": "blender-avatars",
    }  # fmt: skip
    assert state["operator"] is True
    assert state["boto3"] == "1.44.8"  # from the bundled wheel


def test_a_fresh_user_folder_has_nothing_enabled_before_install(tmp_path):
    inspected = _blender(INSPECT.replace("import boto3", "boto3 = type('b', (), {'__version__': None})"), tmp_path)
    assert inspected.returncode == 0, inspected.stderr
    assert json.loads(inspected.stdout.strip().splitlines()[-1])["enabled"] is False
