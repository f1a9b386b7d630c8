"""The corpus fixtures: the built corpus (build.py runs once per session and skips what is built), the
manifest of what each model is (manifest.toml), and the third-party avatars (`../shared/corpus`) converted
once per session for every file that reads them. Set AVATAR_FORGE_CORPUS to use a corpus built elsewhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests import session_cache

if TYPE_CHECKING:
    from tests.corpus.autorig_harness import Stripped

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
MANIFEST = tomllib.loads((HERE / "manifest.toml").read_text())
MODELS: list[dict[str, Any]] = MANIFEST["model"]
SHARED = ROOT.parent / "shared" / "corpus"
# How the third-party avatars are converted for every test that reads them: as a user converts an avatar.
SHARED_PRESET = "companions-web"
SHARED_FLAGS = ("--fix", "all")


def shared_sums() -> dict[str, str]:
    """The third-party avatars' names and their SHA-256 as published (SHA256SUMS); {} without the corpus."""
    if not (SHARED / "SHA256SUMS").is_file():
        return {}
    lines = (SHARED / "SHA256SUMS").read_text().splitlines()
    return {name.strip(): digest for digest, name in (line.split(maxsplit=1) for line in lines if line.strip())}


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


@pytest.fixture(scope="session")
def shared_converted(tmp_path_factory: pytest.TempPathFactory) -> session_cache.Converted:
    """Every third-party avatar converted in one `forge.py convert FOLDER --preset SHARED_PRESET SHARED_FLAGS`
    of copies, once per session: tests/corpus/test_shared_corpus.py checks these VRMs, test_autorig.py measures
    the auto-rig against them."""
    sums = shared_sums()
    if not sums:
        pytest.skip(f"the shared corpus is not at {SHARED} (see tests/corpus/SOURCES.md; CI has it)")
    models = [SHARED / name for name in sums]
    return session_cache.converted(tmp_path_factory, models, SHARED_PRESET, *SHARED_FLAGS)


def stripped(factory: pytest.TempPathFactory, source: Path) -> Stripped:
    """`autorig_harness.strip(source)` once per session (test_autorig.py and test_autorig_weights.py strip the
    same artists' avatars), in this process: it needs bpy with the VRM Add-on enabled."""
    from addon.core.autorig import Bone, RigPlan
    from tests.corpus import autorig_harness as harness  # bpy: imported only where a test strips

    def make(folder: Path) -> None:
        done = harness.strip(source, folder / "bare.glb")
        plan = done.oracle
        bones = [[b.name, b.head, b.tail, b.parent] for b in plan.bones]
        record = {"bones": bones, "frame": plan.to_rig_frame, "height": plan.height, "notes": plan.notes}
        (folder / "stripped.json").write_text(json.dumps({**record, "vertices": done.vertices}))

    folder = session_cache.shared(factory, ["strip", source.name, session_cache.sha256(source)], make)
    record = json.loads((folder / "stripped.json").read_text())
    bones = tuple(Bone(name, tuple(head), tuple(tail), parent) for name, head, tail, parent in record["bones"])
    frame = tuple(tuple(row) for row in record["frame"])
    oracle = RigPlan(bones, frame, record["height"], notes=tuple(record["notes"]))  # type: ignore[arg-type]
    return harness.Stripped(folder / "bare.glb", oracle, record["vertices"])


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
