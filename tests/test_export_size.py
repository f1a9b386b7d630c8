"""Export size and speed, proven on the real consumers: sparse morph targets load in three + three-vrm exactly
as the VRM Add-on's dense ones, the Khronos validator finds no errors, the VRM Add-on re-imports the same
shape keys, the rig check's size estimate follows the file, and the add-on's second validation is skipped.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import bpy  # before addon.blender: bmesh and mathutils exist only after it
import numpy as np
import numpy.typing as npt
import pytest

from addon.blender import rig_reader, vrm_addon, vrm_addon_exporter, vrm_export
from addon.core.presets import Preset, get_preset
from addon.core.rig import checks
from addon.core.vrm import glb
from tests import session_cache
from tests.conftest import QUICK, run_forge
from tests.test_vrm_export import NODE_DIR, consumers, open_demo

pytestmark = pytest.mark.slow  # module fixtures that export, convert or re-import for tens of seconds

UNSIGNED_BYTE, UNSIGNED_SHORT, UNSIGNED_INT = 5121, 5123, 5125


def _quick(name: str) -> Preset:
    # The sparse rewrite alone: web packing (quantization, meshopt) has its own tests (test_web_delivery).
    return dataclasses.replace(get_preset(name), thumbnail=False, web=None)


@dataclasses.dataclass
class Files:
    dense: Path  # the VRM Add-on's own operator, alone: dense morph targets with normals
    dense_lite: Path  # the add-on's exporter without morph normals, not rewritten: dense
    web: Path  # companions-web: sparse, morph normals
    lite: Path  # companions-web-lite: sparse, no morph normals
    estimates: dict[str, int]  # preset name -> the rig check's estimate for the file


@pytest.fixture(scope="module")
def files(blender: Any, demo_blend: Path, tmp_path_factory: pytest.TempPathFactory) -> Files:
    folder = tmp_path_factory.mktemp("size")
    avatar = open_demo(demo_blend)
    web = folder / "web.vrm"
    vrm_export.export_vrm(web, _quick("companions-web"))
    # The same scene (the preset applied) through the add-on's operator: what every export wrote before.
    dense = folder / "dense.vrm"
    assert bpy.ops.export_scene.vrm(filepath=str(dense), armature_object_name=avatar.armature.name) == {"FINISHED"}
    avatar = open_demo(demo_blend)
    lite = folder / "lite.vrm"
    vrm_export.export_vrm(lite, _quick("companions-web-lite"))
    # Without morph normals the glTF exporter merges vertices differently: its dense twin is exported so too.
    found = vrm_addon_exporter.internals()
    assert found is not None
    flags = {"export_invisibles": False, "export_only_selections": False, "export_all_influences": False}
    data = vrm_addon_exporter.export(found, avatar.armature, "1.0", flags, {"export_morph_normal": False})
    assert data is not None
    dense_lite = folder / "dense-lite.vrm"
    dense_lite.write_bytes(data)
    model = rig_reader.read_rig()
    estimates = {
        name: checks.estimate_file_size(model, _quick(name)) for name in ("companions-web", "companions-web-lite")
    }
    estimates["companions-web with thumbnail"] = checks.estimate_file_size(model, get_preset("companions-web"))
    return Files(dense, dense_lite, web, lite, estimates)


def _morph_accessors(path: Path) -> list[tuple[str, dict[str, Any]]]:
    document, _binary = glb.read(path.read_bytes())
    return [
        (name, document["accessors"][index])
        for mesh in document["meshes"]
        for primitive in mesh["primitives"]
        for target in primitive.get("targets", [])
        for name, index in target.items()
    ]


def test_morph_targets_are_sparse_with_short_or_int_indices(files):
    for path in (files.web, files.lite):
        morphs = _morph_accessors(path)
        assert morphs, path.name
        for name, accessor in morphs:
            assert "bufferView" not in accessor and "sparse" in accessor, (path.name, name)
            # UniVRM rejects UNSIGNED_BYTE sparse indices.
            assert accessor["sparse"]["indices"]["componentType"] in (UNSIGNED_SHORT, UNSIGNED_INT), (path.name, name)
    for path in (files.dense, files.dense_lite):
        assert all("sparse" not in accessor for _name, accessor in _morph_accessors(path))
    assert files.web.stat().st_size < files.dense.stat().st_size / 3


def test_morph_normals_follow_the_preset(files):
    assert {name for name, _ in _morph_accessors(files.web)} == {"POSITION", "NORMAL"}
    assert {name for name, _ in _morph_accessors(files.lite)} == {"POSITION"}
    assert files.lite.stat().st_size < files.web.stat().st_size


def _morph_positions(a: Path, b: Path) -> dict[str, Any]:
    if not (NODE_DIR / "node_modules" / "@pixiv" / "three-vrm").is_dir():
        pytest.fail("the VRM consumers are not installed: run `make node` (npm ci in tests/node)")
    command = ["node", "morph_positions.mjs", str(a), str(b)]
    done = subprocess.run(command, cwd=NODE_DIR, capture_output=True, text=True, timeout=120, check=False)
    result: dict[str, Any] = json.loads(done.stdout) if done.stdout.strip() else {"error": done.stderr[-2000:]}
    assert "error" not in result, result["error"]
    return result


def test_three_vrm_morphs_the_sparse_files_exactly_like_the_dense_one(files):
    for path, dense in ((files.web, files.dense), (files.lite, files.dense_lite)):
        result = _morph_positions(path, dense)
        expressions = result["expressions"]
        assert {"aa", "blink", "happy", "surprised"} <= set(expressions), path.name
        for name, found in expressions.items():
            assert found["difference"] <= 1e-6, (path.name, name, found)
        # The comparison means something: each demo expression moves vertices by millimetres at least.
        moving = {name for name, found in expressions.items() if found["moved"] > 1e-3}
        assert {"aa", "ih", "ou", "ee", "oh", "blink", "happy", "angry", "sad", "relaxed", "surprised"} <= moving


def test_the_validator_finds_no_errors_in_the_sparse_files(files):
    summaries = consumers([files.web, files.lite])
    for path in (files.web, files.lite):
        summary = summaries[str(path)]
        assert "error" not in summary, summary.get("error")
        assert summary["validator"]["errors"] == 0, summary["validator"]["error_messages"]


def _reimported_shape_keys(path: Path) -> dict[str, npt.NDArray[np.float32]]:
    bpy.ops.wm.read_homefile(use_empty=True)
    assert bpy.ops.import_scene.vrm(filepath=str(path), use_addon_preferences=False) == {"FINISHED"}
    meshes: list[Any] = [o.data for o in bpy.data.objects if o.type == "MESH"]
    mesh = next(m for m in meshes if m.shape_keys)
    keys = {}
    for key in mesh.shape_keys.key_blocks:
        co = np.empty(len(mesh.vertices) * 3, dtype=np.float32)
        key.data.foreach_get("co", co)
        keys[key.name] = co.reshape(-1, 3)
    return keys


def test_the_vrm_addon_reimports_the_same_shape_keys(files):
    for path, dense_path in ((files.web, files.dense), (files.lite, files.dense_lite)):
        dense = _reimported_shape_keys(dense_path)
        sparse = _reimported_shape_keys(path)
        assert list(sparse) == list(dense), path.name
        for name, co in dense.items():
            assert np.abs(sparse[name] - co).max() <= 1e-6, (path.name, name)


def test_the_size_estimate_follows_the_file_within_ten_percent(files):
    for name, path in (("companions-web", files.web), ("companions-web-lite", files.lite)):
        real = path.stat().st_size
        assert abs(files.estimates[name] - real) <= 0.1 * real, (name, files.estimates[name], real)


def test_the_pinned_vrm_addon_is_called_below_its_operator(blender, demo_blend, tmp_path, monkeypatch):
    found = vrm_addon_exporter.internals()
    assert found is not None, (
        f"the VRM Add-on's internals changed underneath (version {vrm_addon.version()}, "
        f"pinned {vrm_addon_exporter.PINNED_VERSION}): update addon/blender/vrm_addon_exporter.py"
    )
    validator = found.export_scene.WM_OT_vrm_validator
    calls: list[str] = []
    original = validator.detect_errors

    def counted(*args: Any, **kwargs: Any) -> bool:
        calls.append("detect_errors")
        return bool(original(*args, **kwargs))

    monkeypatch.setattr(validator, "detect_errors", staticmethod(counted))
    open_demo(demo_blend)
    vrm_export.export_vrm(tmp_path / "fast.vrm", _quick("companions-web-lite"))
    assert calls == []  # our rig check passed: the add-on's validation did not run again
    # Another add-on version goes through the operator (validated again), and the file is still sparse.
    monkeypatch.setattr(vrm_addon_exporter, "PINNED_VERSION", (0, 0, 0))
    vrm_export.export_vrm(tmp_path / "operator.vrm", _quick("companions-web-lite"))
    assert calls
    assert {name for name, _ in _morph_accessors(tmp_path / "operator.vrm")} == {"POSITION"}


def test_the_cli_prints_progress_and_warnings_only_unless_verbose(
    files, demo_blend, user_resources, tmp_path, tmp_path_factory
):
    out = tmp_path / "a.vrm"
    # The rig check estimates the exporter's file, before any web packing: the uncompressed twin (an export
    # other files read too, tests/session_cache.py).
    written, quiet = session_cache.demo_export(tmp_path_factory, demo_blend, "companions-web-uncompressed")
    shutil.copy2(written, out)
    assert quiet.code == 0, quiet.stderr
    lines = quiet.stderr.splitlines()
    assert "EGL Error" not in quiet.stderr  # the headless thumbnail render's noise
    assert not [line for line in lines + quiet.stdout.splitlines() if "INFO" in line]
    progress = [float(line.split()[1].rstrip("%")) for line in lines if line.startswith("export:")]
    assert len(progress) >= 5 and progress == sorted(set(progress)) and progress[-1] < 100
    # This export renders the thumbnail: the estimate allows for it.
    estimate = files.estimates["companions-web with thumbnail"]
    assert abs(estimate - out.stat().st_size) <= 0.1 * out.stat().st_size, (estimate, out.stat().st_size)
    verbose = run_forge("export", "--blend", demo_blend, "--preset", QUICK, "--out", out, "--force", "--verbose",
                        user_resources=user_resources)  # fmt: skip
    assert verbose.code == 0, verbose.stderr
    assert (verbose.stdout + verbose.stderr).count("Starting glTF 2.0 export") == 1


def test_the_t_pose_is_set_without_deforming_the_meshes_at_each_bone(blender, demo_blend, tmp_path):
    avatar = open_demo(demo_blend)
    modifier = next(m for m in avatar.body.modifiers if m.type == "ARMATURE")
    deformed: list[str] = []

    def count(scene: Any, depsgraph: Any) -> None:
        for update in depsgraph.updates:
            if update.id.original == avatar.body and update.is_updated_geometry and modifier.show_viewport:
                deformed.append(update.id.name)

    bpy.app.handlers.depsgraph_update_post.append(count)
    try:
        vrm_export.export_vrm(tmp_path / "posed.vrm", _quick("companions-web-lite"))
    finally:
        bpy.app.handlers.depsgraph_update_post.remove(count)
    # The add-on turns about 30 bones one at a time, updating the view layer after each: 36 deformations of
    # the body per export when each update deformed it, 6 when only the finished pose does.
    assert len(deformed) <= 10, len(deformed)
    assert modifier.show_viewport and modifier.show_render  # the artist's display settings, as they were


def _hierarchy(path: Path) -> list[tuple[str, str | None]]:
    """Each node's name and its parent's: the scene graph a consumer builds."""
    document, _binary = glb.read(path.read_bytes())
    nodes = document["nodes"]
    parents = {child: node.get("name") for node in nodes for child in node.get("children", [])}
    return sorted((node.get("name", ""), parents.get(i)) for i, node in enumerate(nodes))


@pytest.mark.parametrize("weights", ["as painted", "edited by a modifier"])
def test_the_armature_node_is_dropped_only_when_the_addon_itself_would(
    blender, demo_blend, tmp_path, monkeypatch, weights
):
    """The add-on lets Blender's glTF exporter drop the armature's node only when every vertex under an
    armature modifier has a deform weight; the export answers that from the rig check's weights."""
    avatar = open_demo(demo_blend)
    if weights == "edited by a modifier":
        # The add-on applies it before exporting: the vertices in no group but this one lose their only weight.
        # The rig check read the weights before that, so they cannot answer for this mesh.
        mesh: Any = avatar.body.data
        alone = next(v.groups[0].group for v in mesh.vertices if len(v.groups) == 1)
        edit: Any = avatar.body.modifiers.new("Unweight", "VERTEX_WEIGHT_EDIT")
        edit.vertex_group = avatar.body.vertex_groups[alone].name
        edit.use_remove, edit.remove_threshold = True, 1.0
    asked: list[bool] = []
    with_options = vrm_addon_exporter._gltf_with

    def recording(options: dict[str, Any]) -> Any:
        invoke = with_options(options)

        def export_gltf(arguments: Any) -> Any:
            asked.append(arguments.export_armature_object_remove)
            return invoke(arguments)

        return export_gltf

    monkeypatch.setattr(vrm_addon_exporter, "_gltf_with", recording)
    vrm_export.export_vrm(tmp_path / "fast.vrm", _quick("companions-web-lite"))
    assert asked == [weights == "as painted"]  # what the add-on's own per-vertex pass answers for each scene
    operator = tmp_path / "operator.vrm"
    assert bpy.ops.export_scene.vrm(filepath=str(operator), armature_object_name=avatar.armature.name) == {"FINISHED"}
    assert _hierarchy(tmp_path / "fast.vrm") == _hierarchy(operator)
