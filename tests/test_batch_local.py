"""`forge.py batch` converting a list of local models: a hanging model is killed at its timeout and
fails alone, a broken one fails alone, the good one is converted, and the shard exits 1."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from tests.conftest import QUICK, run_forge

# Any positive value works; it must only exceed the good item's time on a loaded machine (with the preset that
# renders no thumbnail about 4 s here, 14 s beside seven other test runs): the hanging item costs the test this.
TIMEOUT = 20


@pytest.mark.slow
def test_a_list_of_models_with_a_hanging_and_a_broken_one_converts_the_good_one_and_exits_1(
    demo_blend: Path, user_resources: Path, tmp_path: Path
):
    models = tmp_path / "models"
    models.mkdir()
    (models / "Good.blend").write_bytes(demo_blend.read_bytes())
    (models / "Broken.fbx").write_bytes(b"not an fbx")
    # A glTF whose texture is a named pipe nobody writes: Blender's importer blocks opening it for ever.
    os.mkfifo(models / "hang.png")
    data = "data:application/octet-stream;base64," + base64.b64encode(bytes(12)).decode()
    gltf = {"asset": {"version": "2.0"}, "buffers": [{"uri": data, "byteLength": 12}],
            "bufferViews": [{"buffer": 0, "byteLength": 12}],
            "accessors": [{"bufferView": 0, "componentType": 5126, "count": 1, "type": "VEC3",
                           "max": [1, 1, 1], "min": [0, 0, 0]}],
            "images": [{"uri": "hang.png"}], "textures": [{"source": 0}],
            "materials": [{"pbrMetallicRoughness": {"baseColorTexture": {"index": 0}}}],
            "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "material": 0}]}], "nodes": [{"mesh": 0}],
            "scenes": [{"nodes": [0]}], "scene": 0}  # fmt: skip
    (models / "Hang.gltf").write_text(json.dumps(gltf))
    listing = tmp_path / "models.txt"
    listing.write_text("# the library\nmodels/Good.blend\nmodels/Hang.gltf\n\nmodels/Broken.fbx\n")
    out = tmp_path / "out"
    out.mkdir()

    run = run_forge("batch", "--from", listing, "--out", out, "--preset", QUICK,
                    "--timeout", str(TIMEOUT), "--json", user_resources=user_resources, timeout=600)  # fmt: skip
    assert run.code == 1, run.stderr
    items = {i["id"]: i for i in run.json()["items"]}
    assert set(items) == {"models/Good.blend", "models/Hang.gltf", "models/Broken.fbx"}
    assert items["models/Good.blend"]["status"] == "done"
    assert items["models/Hang.gltf"]["status"] == "failed"
    assert f"timed out after {TIMEOUT} s" in items["models/Hang.gltf"]["reason"]
    assert items["models/Broken.fbx"]["status"] == "failed" and "FBX" in items["models/Broken.fbx"]["reason"]
    assert sorted(p.name for p in out.glob("*.vrm")) == ["Good.vrm"]
    report = next((out / "batch" / "reports").rglob("*.json"))
    assert json.loads(report.read_text())["counts"] == {"done": 1, "skipped": 0, "failed": 2}

    # A rerun, once the hanging model's texture is gone (it now fails at once instead of waiting for the
    # timeout again), skips the good one and never touches its .vrm again.
    (models / "hang.png").unlink()
    before = (out / "Good.vrm").stat().st_mtime_ns
    again = run_forge("batch", "--from", listing, "--out", out, "--preset", QUICK,
                      "--timeout", str(TIMEOUT), "--json", user_resources=user_resources, timeout=600)  # fmt: skip
    assert {i["id"]: i["status"] for i in again.json()["items"]}["models/Good.blend"] == "skipped"
    assert (out / "Good.vrm").stat().st_mtime_ns == before

    # The skip is decided before Blender loads: the same item again, in a process where bpy cannot be imported.
    item = {"id": "models/Good.blend", "kind": "convert", "source": str(models / "Good.blend"), "output": "Good.vrm"}
    settings = again.json()["settings"]["key"]  # as `batch` passes it (its report says), not read off a marker
    skipped = run_forge("batch-item", "--json", "--preset", QUICK, "--item", json.dumps(item), "--out", out,
                        "--settings", settings, user_resources=user_resources, timeout=120,
                        without_bpy=True)  # fmt: skip
    assert skipped.code == 0, skipped.stderr
    assert skipped.json()["status"] == "skipped"

    # So is the failure of a file that is not what its name says: a library's broken files start no Blender.
    item = {"id": "models/Broken.fbx", "kind": "convert", "source": str(models / "Broken.fbx"), "output": "Broken.vrm"}
    broken = run_forge("batch-item", "--json", "--preset", QUICK, "--item", json.dumps(item), "--out", out,
                       "--settings", settings, user_resources=user_resources, timeout=120,
                       without_bpy=True)  # fmt: skip
    assert broken.code == 1, broken.stderr
    assert broken.json() == {"status": "failed", "reason": items["models/Broken.fbx"]["reason"]}
