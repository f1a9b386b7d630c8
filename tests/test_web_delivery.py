"""Web delivery, proven on the real consumers: a companions-web export is a compressed VRM (quantized,
meshopt, WebP) that three + @pixiv/three-vrm with meshoptimizer's MeshoptDecoder loads as the same avatar
as the uncompressed export of the same scene (humanoid, expressions and their binds, spring bones, meta;
skinned and morphed vertices within the stated 0.5 mm on a 2 m avatar, in every expression and a test
pose), the Khronos validator finds no errors in, and Avatar Forge's own import reads back.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path
from typing import Any

import bpy  # before addon.blender: bmesh and mathutils exist only after it
import numpy as np
import numpy.typing as npt
import pytest
from mathutils.kdtree import KDTree

from addon.blender import avatar_import, vrm_export
from addon.core.presets import get_preset
from addon.core.vrm import webpack
from addon.core.vrm.glb import read
from addon.core.vrm.webpack import geometry_check
from tests import session_cache
from tests.conftest import ROOT, ForgeRun, run_forge
from tests.console_lines import strays
from tests.float32_json import same_as_float32
from tests.test_vrm_export import DEMO_EXPRESSIONS, NODE_DIR, open_demo

pytestmark = pytest.mark.slow  # module fixtures that export and convert for tens of seconds

SHARED_CORPUS = ROOT.parent / "shared" / "corpus"
VRM_EXTENSIONS = ("VRMC_vrm", "VRMC_springBone", "VRMC_node_constraint", "VRM")


@dataclasses.dataclass
class Pair:
    plain: Path  # companions-web-uncompressed
    web: Path  # companions-web: the same scene packed
    runs: list[ForgeRun] = dataclasses.field(default_factory=list)  # the two conversions that wrote them


def _compare(pair: Pair) -> dict[str, Any]:
    if not (NODE_DIR / "node_modules" / "meshoptimizer").is_dir():
        pytest.fail("the VRM consumers are not installed: run `make node` (npm ci in tests/node)")
    command = ["node", "web_compare.mjs", str(pair.plain), str(pair.web)]
    done = subprocess.run(command, cwd=NODE_DIR, capture_output=True, text=True, timeout=300, check=False)
    result: dict[str, Any] = json.loads(done.stdout) if done.stdout.strip() else {"error": done.stderr[-2000:]}
    assert "error" not in result, result["error"]
    return result


@pytest.fixture(scope="module")
def demo(blender: Any, demo_blend: Path, tmp_path_factory: pytest.TempPathFactory) -> Pair:
    folder = tmp_path_factory.mktemp("web")
    pair = Pair(folder / "plain.vrm", folder / "web.vrm")
    # One name for both (a model without one is named after its file).
    open_demo(demo_blend)
    vrm_export.export_vrm(pair.plain, get_preset("companions-web-uncompressed"), meta_overrides={"name": "Demo"})
    open_demo(demo_blend)
    vrm_export.export_vrm(pair.web, get_preset("companions-web"), meta_overrides={"name": "Demo"})
    return pair


@pytest.fixture(scope="module")
def demo_compared(demo: Pair) -> dict[str, Any]:
    return _compare(demo)


def test_the_web_export_is_a_compressed_vrm_several_times_smaller(demo):
    document, _binary = read(demo.web.read_bytes())
    plain, _ = read(demo.plain.read_bytes())
    assert {"KHR_mesh_quantization", "EXT_meshopt_compression", "EXT_texture_webp"} <= set(
        document["extensionsRequired"]
    )
    # Every VRM extension as the uncompressed file has it: nothing they point at was renumbered (numbers
    # are spelled shorter: each reads back as the same float32).
    for name in VRM_EXTENSIONS:
        assert same_as_float32(document.get("extensions", {}).get(name), plain.get("extensions", {}).get(name)), name
    for part in ("nodes", "meshes", "materials"):
        assert same_as_float32(document[part], plain[part]), part
    assert demo.web.stat().st_size * 3 < demo.plain.stat().st_size


def test_three_vrm_with_the_meshopt_decoder_loads_the_same_avatar(demo_compared):
    a, b = demo_compared["a"], demo_compared["b"]
    # Meta, humanoid, expressions with their binds, spring bones, look-at, first person (numbers as float32).
    assert same_as_float32(a, b)
    assert set(a["expressions"]) >= DEMO_EXPRESSIONS and a["thumbnail"]
    assert all(e["binds"] > 0 for name, e in a["expressions"].items() if name in DEMO_EXPRESSIONS)


def test_skinned_and_morphed_vertices_match_within_the_stated_bound(demo_compared):
    positions = demo_compared["positions"]
    bound = 0.5e-3 / 2.0 * 1.75  # 0.5 mm on a 2 m avatar, for the 1.75 m demo
    for pose, found in positions.items():
        assert found["difference"] <= bound, (pose, found)
    # The comparison means something: the expressions and the test pose move the demo's vertices.
    moving = {p for p, found in positions.items() if found["moved"] > 1e-3}
    assert {f"expression:{e}" for e in ("aa", "blink", "happy", "surprised")} <= moving
    assert positions["pose"]["moved"] > 0.1


def test_the_validator_finds_no_errors_in_the_web_export(demo_compared):
    validator = demo_compared["validator"]
    assert validator["errors"] == 0, validator["error_messages"]


def test_the_export_says_what_packing_did_and_the_loader_line_it_needs(blender, demo_blend, tmp_path, tmp_path_factory):
    out = tmp_path / "cli.vrm"
    done = run_forge("export", "--blend", demo_blend, "--preset", "companions-web", "--out", out, "--json")
    assert done.code == 0, done.stderr
    data = done.json()
    assert data["loader"] == list(webpack.LOADER_LINES)
    web = data["web"]
    assert web["meshopt"] and web["bytes"] == data["bytes"] == out.stat().st_size
    assert web["geometry"]["position_mm"] <= web["geometry"]["position_bound_mm"]
    assert web["textures"]["bytes_after"] < web["textures"]["bytes_before"]
    # The report for people, of the exports other files read too (tests/session_cache.py).
    _, plain = session_cache.demo_export(tmp_path_factory, demo_blend, "companions-web-uncompressed")
    assert plain.code == 0, plain.stderr
    assert "setMeshoptDecoder" not in plain.stdout
    _, human = session_cache.demo_export(tmp_path_factory, demo_blend, "companions-web")
    assert "loader.setMeshoptDecoder(MeshoptDecoder);" in human.stdout.splitlines()


def _shown(path: Path) -> dict[str, Any]:
    bpy.ops.wm.read_homefile(use_empty=True)  # factory settings would disable the add-ons for later tests
    avatar_import.import_avatar(path)
    graph = bpy.context.evaluated_depsgraph_get()
    found = {}
    for obj in bpy.data.objects:
        if obj.type == "MESH":
            mesh = obj.evaluated_get(graph).to_mesh()
            points = np.array([obj.matrix_world @ v.co for v in mesh.vertices])
            keys = obj.data.shape_keys  # type: ignore[union-attr]
            found[obj.name] = (points, [k.name for k in keys.key_blocks] if keys else [])
    return found


def _farthest_nearest(points: npt.NDArray[np.float64], others: npt.NDArray[np.float64]) -> float:
    """The largest distance from a point to the nearest of `others` (a k-d tree: the demo has 10k, all pairs
    took seconds); measured in float64 from the point the tree, which holds float32, finds nearest."""
    tree = KDTree(len(others))
    for index, point in enumerate(others):
        tree.insert(point, index)
    tree.balance()
    nearest = [tree.find(point)[1] for point in points]
    return float(np.sqrt(((points - others[nearest]) ** 2).sum(axis=1)).max(initial=0.0))


def test_avatar_forge_imports_the_compressed_file_back(blender, demo):
    # Blender's glTF importer (so the VRM Add-on) cannot read meshopt: the import decodes it first. The packer
    # renumbers vertices (fetch order), so each mesh's vertices are compared as sets.
    plain, web = _shown(demo.plain), _shown(demo.web)
    assert plain.keys() == web.keys()
    for name, (points, keys) in plain.items():
        assert keys == web[name][1], name
        assert len(points) == len(web[name][0]), name
        nearest = max(_farthest_nearest(points, web[name][0]), _farthest_nearest(web[name][0], points))
        assert nearest < 1e-4, name


@pytest.fixture(scope="module")
def converted(blender: Any, tmp_path_factory: pytest.TempPathFactory) -> list[Pair]:
    """Third-party avatars with spring bones and colliders, converted with both presets."""
    if not SHARED_CORPUS.is_dir():
        pytest.skip(f"the third-party corpus is not at {SHARED_CORPUS} (see tests/corpus/SOURCES.md)")
    folder = tmp_path_factory.mktemp("web-corpus")
    pairs = []
    for name in ("vrm1_debug_robot.vrm", "vrm0_godette.vrm"):
        pair = Pair(folder / f"{name}.plain.vrm", folder / f"{name}.web.vrm")
        for preset, out in (("companions-web-uncompressed", pair.plain), ("companions-web", pair.web)):
            done = run_forge("convert", SHARED_CORPUS / name, "--out", out, "--preset", preset, "--fix", "safe")
            assert done.code == 0, (name, preset, done.stderr[-2000:])
            pair.runs.append(done)
        pairs.append(pair)
    return pairs


def test_converted_avatars_keep_spring_bones_expressions_and_meta_when_packed(converted):
    springs = 0
    for pair in converted:
        result = _compare(pair)
        assert same_as_float32(result["a"], result["b"]), pair.web.name
        assert result["validator"]["errors"] == 0, result["validator"]["error_messages"]
        for pose, found in result["positions"].items():
            assert found["difference"] <= 0.5e-3 / 2.0 * 2.0, (pair.web.name, pose, found)
        springs += len(result["a"]["springJoints"])
        assert pair.web.stat().st_size < pair.plain.stat().st_size
    assert springs > 0  # the comparison covered spring bones


def test_converting_a_vrm_prints_the_report_alone(converted):
    # The VRM Add-on's importer goes through Blender's glTF importer (an INFO line per node), the export
    # renders a thumbnail ("Saved: ...", "Time: ..."): none of it on stdout, nor on stderr.
    for pair in converted:
        for run in pair.runs:
            assert strays(run) == [], run.stdout + run.stderr


def test_a_packing_that_cannot_be_proven_writes_the_verified_file_uncompressed(
    blender, demo_blend, tmp_path, monkeypatch
):
    open_demo(demo_blend)
    monkeypatch.setattr(geometry_check, "POSITION_SHARE", 1e-9)  # no 16-bit grid is that fine: the proof fails
    result = vrm_export.export_vrm(
        tmp_path / "a.vrm", dataclasses.replace(get_preset("companions-web"), thumbnail=False)
    )
    assert result.web is None and vrm_export.loader_lines(result) == []
    assert not webpack.is_compressed((tmp_path / "a.vrm").read_bytes())
    assert any(f.id == "web_packing_skipped" and "uncompressed" in f.message for f in result.findings)
