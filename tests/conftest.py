"""Test harness: the real bpy with a throwaway user folder, Avatar Forge enabled as an extension.

`addon` is importable as a plain package (`from addon.core import humanoid`), so core tests need no bpy.
Blender tests ask for the `blender` fixture: it imports bpy with BLENDER_USER_RESOURCES pointing at a
temporary folder whose user_default extension repository links to this checkout's addon/, and enables
both the VRM Add-on and `bl_ext.user_default.avatar_forge` (so operators, panels and preferences are
registered). Modules imported as `addon.*` and as `bl_ext.user_default.avatar_forge.*` are two copies of
the same code: keep module-level state (a running server, say) on one side per test.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORGE = ROOT / "scripts" / "forge.py"
EXTENSION = "bl_ext.user_default.avatar_forge"
QUICK = "quick-web"  # companions-web without the thumbnail render: the thumbnail has its own tests
# The Blender these tests run on (the bpy module carries Blender's version), without importing bpy here:
# `make test-matrix` runs the suite on several.
BLENDER_VERSION = importlib.metadata.version("bpy")

# Set before anything imports bpy: Blender reads it once, at import.
_USER_RESOURCES = Path(tempfile.mkdtemp(prefix="avatar-forge-user-"))
os.environ["BLENDER_USER_RESOURCES"] = str(_USER_RESOURCES)


def _link_extension(user_resources: Path) -> None:
    repo = user_resources / "extensions" / "user_default"
    repo.mkdir(parents=True, exist_ok=True)
    link = repo / "avatar_forge"
    if not link.exists():
        link.symlink_to(ROOT / "addon", target_is_directory=True)


@pytest.fixture(scope="session")
def blender() -> ModuleType:
    """The bpy module with the VRM Add-on and Avatar Forge enabled; returns the enabled extension."""
    _link_extension(_USER_RESOURCES)
    import bpy  # first: addon_utils exists only once bpy is imported

    addon_utils = importlib.import_module("addon_utils")

    bpy.ops.wm.read_homefile(use_empty=True)
    for name in ("io_scene_vrm", EXTENSION):
        if addon_utils.enable(name, default_set=True) is None:
            pytest.fail(f"could not enable {name}")
    return sys.modules[EXTENSION]


@pytest.fixture
def empty_scene(blender: ModuleType) -> Iterator[Any]:
    """An empty file (add-ons stay enabled); yields bpy."""
    import bpy

    bpy.ops.wm.read_homefile(use_empty=True)
    yield bpy


@dataclass
class ForgeRun:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


# Runs the script named next on its command line with bpy unimportable: `python -c WITHOUT_BPY forge.py ...`.
WITHOUT_BPY = (
    "import runpy, sys; sys.modules['bpy'] = None; del sys.argv[0]; runpy.run_path(sys.argv[0], run_name='__main__')"
)


# The same, in a Blender whose user turned "Auto Run Python Scripts" on (the bpy module reads no saved
# preferences, so the test sets the preference as the user's would be).
AUTO_RUN_SCRIPTS = (
    "import runpy, sys, bpy; bpy.context.preferences.filepaths.use_scripts_auto_execute = True; "
    "del sys.argv[0]; runpy.run_path(sys.argv[0], run_name='__main__')"
)


def run_forge(
    *args: str | Path,
    user_resources: Path | None = None,
    timeout: float = 300,
    without_bpy: bool = False,
    auto_run_scripts: bool = False,
    env: dict[str, str] | None = None,
) -> ForgeRun:
    """Runs `python scripts/forge.py ARGS` the way a user does, in its own process and user folder;
    `without_bpy`: in a process where `import bpy` fails (for work that must not load Blender);
    `auto_run_scripts`: in a Blender whose preferences let files run their Python; `env`: more environment
    variables."""
    env = {**os.environ, **(env or {})}
    own_user = None if user_resources else Path(tempfile.mkdtemp(prefix="forge-user-"))
    env["BLENDER_USER_RESOURCES"] = str(user_resources or own_user)
    prelude = ("-c", WITHOUT_BPY) if without_bpy else ("-c", AUTO_RUN_SCRIPTS) if auto_run_scripts else ()
    try:
        done = subprocess.run(
            [sys.executable, *prelude, str(FORGE), *map(str, args)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    finally:
        if own_user is not None:
            shutil.rmtree(own_user, ignore_errors=True)
    return ForgeRun(done.returncode, done.stdout, done.stderr)


def quick_preset_user(folder: Path, name: str = "quick") -> Path:
    """A Blender user folder at `folder` holding preset `name`: companions-web without the thumbnail render."""
    presets = folder / "config" / "avatar_forge" / "presets"
    presets.mkdir(parents=True)
    shipped = (ROOT / "addon" / "presets" / "companions-web.toml").read_text()
    quick = shipped.replace('name = "companions-web"', f'name = "{name}"').replace(
        "thumbnail = true", "thumbnail = false"
    )
    assert "thumbnail = false" in quick
    (presets / f"{name}.toml").write_text(quick)
    return folder


@pytest.fixture(scope="session")
def demo_blend(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo avatar at detail 1, built once per session by the CLI."""
    out = tmp_path_factory.mktemp("demo") / "Avatar.blend"
    result = run_forge("demo-avatar", "--out", out)
    assert result.code == 0, result.stderr
    return out


@pytest.fixture(scope="session")
def user_resources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Blender user folder holding the QUICK preset, for the forge.py runs of this module."""
    return quick_preset_user(tmp_path_factory.mktemp("user"), QUICK)


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    # addopts asks pytest-xdist for workers; with it blocked (`-p no:xdist`) those options are accepted and the
    # suite runs in this one process.
    if pluginmanager.is_blocked("xdist"):
        group = parser.getgroup("xdist", "pytest-xdist is blocked: the suite runs in this process")
        group._addoption("-n", "--numprocesses", dest="numprocesses", help="ignored")
        group.addoption("--dist", dest="dist", help="ignored")
        group.addoption("--no-loadscope-reorder", action="store_true", help="ignored")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The files with a test marked slow first, each file's tests kept together and in order: pytest-xdist
    # hands out whole files in this order (addopts), so quick files even out the end of a run instead of one
    # worker finishing a long file alone.
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow)


_exit_status = 0


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global _exit_status  # noqa: PLW0603
    _exit_status = int(exitstatus)


def pytest_unconfigure(config: pytest.Config) -> None:
    # Each process (the pytest-xdist controller and every worker) made its own user folder at import.
    shutil.rmtree(_USER_RESOURCES, ignore_errors=True)
    # A process that imported bpy and the VRM Add-on can hang at interpreter exit (DESIGN.md).
    bpy = sys.modules.get("bpy")
    if bpy is not None:
        sys.stdout.flush()
        sys.stderr.flush()
        if Path(bpy.app.tempdir).name.startswith("blender_"):
            # Blender removes its session temp folder at its own exit, which os._exit skips.
            shutil.rmtree(bpy.app.tempdir, ignore_errors=True)
        os._exit(_exit_status)
