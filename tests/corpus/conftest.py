"""The corpus fixtures: the built corpus (build.py runs once per session and skips what is built) and the
manifest of what each model is (manifest.toml). Set AVATAR_FORGE_CORPUS to use a corpus built elsewhere."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
MANIFEST = tomllib.loads((HERE / "manifest.toml").read_text())
MODELS: list[dict[str, Any]] = MANIFEST["model"]


def run_build(out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # Its own user folder, and a temp folder for Blender's blender_* (build.py ends with os._exit), both removed.
    with tempfile.TemporaryDirectory(prefix="corpus-user-") as user:
        (Path(user) / "tmp").mkdir()
        env = dict(os.environ, BLENDER_USER_RESOURCES=user, TMPDIR=str(Path(user) / "tmp"))
        return subprocess.run(
            [sys.executable, str(HERE / "build.py"), str(out), *args],
            capture_output=True,
            text=True,
            env=env,
            stdin=subprocess.DEVNULL,
            timeout=900,
            check=False,
        )


@pytest.fixture(scope="session")
def corpus() -> Path:
    out = Path(os.environ.get("AVATAR_FORGE_CORPUS") or ROOT / "out" / "corpus")
    done = run_build(out)
    if done.returncode != 0:
        pytest.fail(f"corpus build failed: {done.stderr.strip().splitlines()[-1:]}")
    return out


def load(bpy: Any, path: Path) -> None:
    """Imports `path` into the empty scene as a user would."""
    importers = {
        ".vrm": bpy.ops.import_scene.vrm,
        ".glb": bpy.ops.import_scene.gltf,
        ".gltf": bpy.ops.import_scene.gltf,
        ".fbx": bpy.ops.import_scene.fbx,
    }
    if path.suffix == ".blend":
        bpy.ops.wm.open_mainfile(filepath=str(path))
    else:
        assert importers[path.suffix](filepath=str(path)) == {"FINISHED"}
