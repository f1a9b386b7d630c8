"""Auto-rig end to end, as a user runs it: `forge.py convert MODEL --rig auto --fix all`.

- A humanoid built here from cubes and cylinders joined into one mesh (never rigged) rigs, and exports a VRM
  three-vrm loads and the validator passes; its weights are complete, at most 4 per vertex, normalised, and
  never bleed across the body.
- What is no standing humanoid (a chair, a quadruped, two characters side by side, a lying figure) is refused
  with its reason in one line, exit 1, nothing written and the input untouched.
- Measured against the artists (tests/corpus/autorig_harness.py): each rigged third-party humanoid loses its
  skeleton, the bare mesh is auto-rigged and converted, and three-vrm compares it with the artist's own rig.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bpy
import numpy as np
import pytest

from addon.blender import autorig, avatar_import, context, rig_reader, vrm_addon
from addon.blender.autorig import read
from addon.core.rig import humanoid
from tests.conftest import run_forge
from tests.corpus import autorig_harness as harness
from tests.test_vrm_export import consumers

pytestmark = pytest.mark.slow  # each model converts twice and loads in node: tens of seconds

PRESET = "companions-web"
# The goals, as fractions of the avatar's height.
GOALS = {"joint_median": 0.02, "joint_worst": 0.08, "surface": 0.01}
# Goals a model does not meet yet, and why (bench/bench_autorig.py has the figures). Each is reported as an
# expected failure, and fails the test the day the model meets it, so this list only ever shrinks.
PLACEMENT = "the automatic joint placement (addon/core/autorig) is off the artist's joints by more than this"
# With the artist's own skeleton placed (bench_autorig --oracle) these still differ after export by 1.1-4.7% of
# the height, not explained yet (docs/auto-rig.md): part of their error is the comparison's, not the rig's.
EXPORT = "; and even the artist's own skeleton, placed, differs after export"
SHORT: dict[tuple[str, str], str] = {
    ("glb_quaternius_women_casual.glb", "joint_median"): PLACEMENT,
    ("fbx_quaternius_female_casual.fbx", "joint_median"): PLACEMENT + EXPORT,
    ("fbx_quaternius_female_casual.fbx", "surface"): PLACEMENT + EXPORT + "; its one mesh needs the voxel proxy",
    ("fbx_seedsan_univrm.fbx", "joint_median"): PLACEMENT + EXPORT,
    ("fbx_seedsan_univrm.fbx", "joint_worst"): PLACEMENT + EXPORT,
    ("fbx_seedsan_univrm.fbx", "surface"): PLACEMENT + EXPORT + "; four of its five meshes need the voxel proxy",
    ("vrm0_godette.vrm", "joint_median"): PLACEMENT + EXPORT,
    ("vrm0_godette.vrm", "surface"): PLACEMENT + EXPORT + "; both its meshes need the voxel proxy",
}


def _meets(name: str, found: dict[str, Any], goal: str) -> None:
    value, limit = found[goal], GOALS[goal]
    short = SHORT.get((name, goal))
    if short is None:
        assert value <= limit, f"{name}: {goal} {value:.4f} > {limit} ({found['joints']})"
    elif value <= limit:
        pytest.fail(f"{name} now meets {goal} ({value:.4f} <= {limit}): take it off SHORT")
    else:
        pytest.xfail(f"{name}: {goal} {value:.4f} > {limit}: {short}")


def _box(center: tuple[float, float, float], size: tuple[float, float, float]) -> None:
    bpy.ops.mesh.primitive_cube_add(location=center, scale=tuple(s / 2 for s in size))


def _rod(a: tuple[float, float, float], b: tuple[float, float, float], radius: float) -> None:
    """A capped cylinder from a to b."""
    d = np.subtract(b, a)
    length = float(np.linalg.norm(d))
    pitch = math.acos(d[2] / length)
    yaw = math.atan2(d[1], d[0])
    mid = tuple(float(v) for v in (np.add(a, b) / 2))
    bpy.ops.mesh.primitive_cylinder_add(radius=radius, depth=length, location=mid, rotation=(0.0, pitch, yaw))


def _person(x: float = 0.0) -> None:
    """A 1.7 m standing figure, facing -Y, arms 30 degrees below horizontal, from boxes and cylinders."""
    _box((x, 0, 1.2), (0.36, 0.2, 0.5))  # chest and belly
    _box((x, 0, 0.9), (0.32, 0.18, 0.16))  # pelvis
    _rod((x, 0, 1.44), (x, 0, 1.52), 0.05)  # neck
    _box((x, 0, 1.61), (0.2, 0.22, 0.24))  # head
    for side in (1, -1):
        shoulder = (x + side * 0.2, 0, 1.4)
        elbow = (x + side * (0.2 + 0.28 * math.cos(math.radians(30))), 0, 1.4 - 0.28 * math.sin(math.radians(30)))
        wrist = (x + side * (0.2 + 0.54 * math.cos(math.radians(30))), 0, 1.4 - 0.54 * math.sin(math.radians(30)))
        _rod(shoulder, elbow, 0.045)
        _rod(elbow, wrist, 0.04)
        _box((wrist[0] + side * 0.06, 0, wrist[2] - 0.035), (0.12, 0.04, 0.09))  # hand
        _rod((x + side * 0.09, 0, 0.88), (x + side * 0.1, 0, 0.48), 0.07)  # thigh
        _rod((x + side * 0.1, 0, 0.48), (x + side * 0.1, 0, 0.07), 0.055)  # shin
        _box((x + side * 0.1, -0.05, 0.035), (0.1, 0.24, 0.07))  # foot


def _chair() -> None:
    for cx in (-0.22, 0.22):
        for cy in (-0.22, 0.22):
            _rod((cx, cy, 0.0), (cx, cy, 0.45), 0.025)
    _box((0, 0, 0.47), (0.5, 0.5, 0.04))
    _box((0, 0.23, 0.75), (0.5, 0.04, 0.56))


def _quadruped() -> None:
    _box((0, 0, 0.65), (0.3, 0.9, 0.3))  # body
    _box((0, -0.55, 0.85), (0.2, 0.25, 0.2))  # head
    for cx in (-0.1, 0.1):
        for cy in (-0.35, 0.35):
            _rod((cx, cy, 0.0), (cx, cy, 0.55), 0.04)


def _pair() -> None:
    _person(-0.5)
    _person(0.5)


def _lying() -> None:
    _person()
    for obj in context.scene().objects:
        obj.select_set(True)
    bpy.ops.transform.rotate(value=math.radians(90), orient_axis="X", center_override=(0, 0, 0))


def _write_glb(build: Callable[[], None], path: Path) -> Path:
    """Builds a model from primitives, joined into one mesh (no armature), and writes it as a .glb."""
    bpy.ops.wm.read_homefile(use_empty=True)
    build()
    objects = [o for o in context.scene().objects if o.type == "MESH"]
    for obj in objects:
        obj.select_set(True)
    context.view_layer().objects.active = objects[0]
    bpy.ops.object.join()
    bpy.ops.object.transform_apply(location=False, rotation=True, scale=True)
    objects[0].name = path.stem  # the join keeps the active object
    bpy.ops.export_scene.gltf(filepath=str(path), export_format="GLB")
    return path


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_never_rigged_primitive_humanoid_rigs_and_exports_a_vrm(tmp_path: Path) -> None:
    model = _write_glb(_person, tmp_path / "blocky.glb")
    before = _digest(model)
    out = tmp_path / "blocky.vrm"
    done = run_forge("convert", model, "--out", out, "--preset", PRESET, "--fix", "all", "--rig", "auto")
    assert done.code == 0, done.stdout + done.stderr[-2000:]
    assert "auto-rigged" in done.stdout
    assert _digest(model) == before
    summary = consumers([out])[str(out)]
    assert "error" not in summary, summary.get("error")
    assert summary["validator"]["errors"] == 0, summary["validator"]
    assert set(summary["humanBones"]) >= humanoid.REQUIRED_VRM1
    positions = summary["positions"]  # three-vrm: y up, the avatar faces +z, its left at +x
    assert positions["head"][1] > positions["hips"][1] > positions["leftFoot"][1]
    assert positions["leftHand"][0] > positions["leftUpperArm"][0] > 0 > positions["rightUpperArm"][0]


def test_auto_leaves_a_rigged_model_alone_and_replace_rigs_it_anew(tmp_path: Path) -> None:
    rigged = tmp_path / "rigged.vrm"
    model = _write_glb(_person, tmp_path / "blocky.glb")
    assert run_forge("convert", model, "--out", rigged, "--preset", PRESET, "--fix", "all", "--rig", "auto").code == 0
    before = _digest(rigged)
    kept = run_forge("convert", rigged, "--out", tmp_path / "kept.vrm", "--preset", PRESET, "--rig", "auto", "--json")
    assert kept.code == 0, kept.stderr[-2000:]
    entry = json.loads(kept.stdout)["models"][0]
    assert entry["rig"] == {"rigged": False, "reason": f"already rigged by '{entry['import']['armature']}'"}
    anew = run_forge("convert", rigged, "--out", tmp_path / "anew.vrm", "--preset", PRESET, "--fix", "all",
                     "--rig", "replace", "--json")  # fmt: skip
    assert anew.code == 0, anew.stderr[-2000:]
    rig = json.loads(anew.stdout)["models"][0]["rig"]
    assert rig["rigged"] and rig["replaced_armatures"], rig
    assert {p["how"] for p in rig["parts"]} <= {"heat", "proxy", "nearest", "rigid"}
    assert _digest(rigged) == before


def test_the_weights_are_complete_and_stay_on_their_side_and_region(tmp_path: Path) -> None:
    model = _write_glb(_person, tmp_path / "blocky.glb")
    bpy.ops.wm.read_homefile(use_empty=True)
    vrm_addon.ensure_enabled()
    avatar_import.import_avatar(model, bare_ok=True)
    result = autorig.auto_rig()
    assert result.mapping["leftUpperArm"] == "UpperArm.L" and result.mapping["hips"] == "Hips"
    assert vrm_addon.humanoid_mapping(bpy.data.objects[result.armature]) == result.mapping
    obj = bpy.data.objects[result.bindings[0].mesh]
    bones = result.bones
    mesh = obj.data
    assert isinstance(mesh, bpy.types.Mesh)
    weights = rig_reader.dense_weights(mesh, bones).astype(np.float64)
    co = read.read_part(obj).vertices
    assert np.allclose(weights.sum(axis=1), 1.0, atol=1e-3), "every vertex weighted, normalised"
    assert (weights > 0).sum(axis=1).max() <= 4
    column = {b: i for i, b in enumerate(bones)}
    right = [column[b] for b in bones if b.endswith(".R")]
    left = [column[b] for b in bones if b.endswith(".L")]
    height = co[:, 2].max() - co[:, 2].min()
    assert weights[co[:, 0] > 0.02 * height][:, right].max() == 0, "the avatar's left never follows a right bone"
    assert weights[co[:, 0] < -0.02 * height][:, left].max() == 0, "nor its right a left bone"
    hands = np.abs(co[:, 0]) > 0.6
    assert hands.sum() > 0
    hips_and_legs = [column[b] for b in bones if b in ("Hips", "UpperLeg.L", "UpperLeg.R", "Spine")]
    assert weights[hands][:, hips_and_legs].max() == 0, "a hand never moves the hips"


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (_chair, "supports reach the floor"),
        (_quadruped, "supports reach the floor"),
        (_pair, "several characters"),
        (_lying, "not standing"),
    ],
    ids=["chair", "quadruped", "two side by side", "lying"],
)
def test_what_is_no_standing_humanoid_is_refused_with_its_reason(
    build: Callable[[], None], reason: str, tmp_path: Path
) -> None:
    model = _write_glb(build, tmp_path / "thing.glb")
    before = _digest(model)
    done = run_forge("convert", model, "--out", tmp_path, "--preset", PRESET, "--rig", "auto")
    assert done.code == 1, done.stdout + done.stderr[-2000:]
    failed = [line for line in done.stdout.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1 and "thing.glb: not a standing humanoid:" in failed[0] and reason in failed[0], done.stdout
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "thing.vrm").exists()
    assert _digest(model) == before


@pytest.fixture(scope="module", params=harness.ARTISTS)
def measured(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One artist's avatar stripped, auto-rigged and converted, beside the artist's own rig converted."""
    name = request.param
    if not harness.SHARED_CORPUS.is_dir():
        pytest.skip(f"the third-party corpus is not at {harness.SHARED_CORPUS} (see tests/corpus/SOURCES.md)")
    vrm_addon.ensure_enabled()
    folder = tmp_path_factory.mktemp(Path(name).stem)
    stripped = harness.strip(harness.SHARED_CORPUS / name, folder / "bare.glb")
    auto, artist = folder / "auto.vrm", folder / "artist.vrm"
    rigged = run_forge("convert", stripped.bare, "--out", auto, "--preset", PRESET, "--fix", "all", "--rig", "auto",
                       timeout=900)  # fmt: skip
    done = run_forge("convert", harness.SHARED_CORPUS / name, "--out", artist, "--preset", PRESET, "--fix", "all")
    assert done.code == 0, done.stdout
    found = harness.compare(auto, artist) if rigged.code == 0 else None
    return {"name": name, "rigged": rigged, "auto": auto, "artist": artist, "found": found}


def test_every_bare_artist_mesh_rigs_into_a_vrm_three_vrm_loads(measured: dict[str, Any]) -> None:
    assert measured["rigged"].code == 0, measured["rigged"].stdout + measured["rigged"].stderr[-2000:]
    summary = consumers([measured["auto"]])[str(measured["auto"])]
    assert "error" not in summary, summary.get("error")
    assert summary["validator"]["errors"] == 0, summary["validator"]


@pytest.mark.parametrize("goal", ["joint_median", "joint_worst", "surface"])
def test_the_rig_is_the_artists(measured: dict[str, Any], goal: str) -> None:
    """Joints within 2% of the height (median) and 8% (worst) of the artist's, and after one test pose the
    surface within 1% of the height of where the artist's rig puts it."""
    assert measured["found"] is not None, measured["rigged"].stdout
    _meets(measured["name"], measured["found"], goal)


def test_a_folder_of_bare_models_is_rigged_model_by_model(tmp_path: Path) -> None:
    # Several models convert each in a process of its own: --rig must reach each of them.
    folder = tmp_path / "models"
    folder.mkdir()
    _write_glb(_person, folder / "blocky.glb")
    _write_glb(_chair, folder / "chair.glb")
    out = tmp_path / "out"
    out.mkdir()
    done = run_forge("convert", folder, "--out", out, "--preset", PRESET, "--fix", "all", "--rig", "auto")
    assert done.code == 1, done.stdout + done.stderr[-2000:]
    assert (out / "blocky.vrm").is_file(), done.stdout
    failed = [line for line in done.stdout.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1 and "chair.glb: not a standing humanoid:" in failed[0], done.stdout
