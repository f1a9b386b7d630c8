"""Auto-rig end to end, as a user runs it: `forge.py convert MODEL --rig auto --fix all`.

- A humanoid built here from cubes and cylinders joined into one mesh (never rigged) rigs, and exports a VRM
  three-vrm loads and the validator passes; its weights are complete, at most 4 per vertex, normalised, and
  never bleed across the body.
- What is no standing humanoid (a chair, a quadruped, two characters side by side, a lying figure) is refused
  with its reason in one line, exit 1, nothing written and the input untouched.
- Measured against the artists (tests/corpus/autorig_harness.py): each rigged third-party humanoid loses its
  skeleton, the bare mesh is auto-rigged and converted, and three-vrm compares its joints with the artist's
  skeleton placed on the same bare mesh and converted the same way, its posed surface with the artist's rig.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bpy
import numpy as np
import pytest

from addon.blender import autorig, avatar_import, rig_reader, vrm_addon
from addon.blender.autorig import read
from addon.core.autorig import plan_rig, rigid
from addon.core.presets import get_preset
from addon.core.rig import humanoid
from addon.core.vrm import accessors, glb, webpack
from tests import thumbnails
from tests.conftest import run_forge
from tests.corpus import autorig_harness as harness
from tests.corpus import primitives
from tests.test_vrm_export import consumers

pytestmark = pytest.mark.slow  # each model converts twice and loads in node: tens of seconds

PRESET = "companions-web"
# The goals, as fractions of the avatar's height.
GOALS = {"joint_median": 0.02, "joint_worst": 0.08, "surface": 0.01}
# Goals a model does not meet yet, and why (bench/bench_autorig.py has the figures). Each is reported as an
# expected failure, and fails the test the day the model meets it, so this list only ever shrinks.
PLACEMENT = (
    "the automatic placement (addon/core/autorig) is off the artist's joints where artists disagree and no "
    "geometry tells which: hips at the thighs' joints or at the waist (up to 10% of the height apart), upper "
    "arms at 0.66 or 1.33 of the chest's half width, knees at 0.47 or 0.61 of the leg, foot joints at the sole "
    "or the ankle; any one of those pairs at the artist's would meet the median (docs/auto-rig-accuracy.md)"
)
# The surface's share that is not placement: the artist's own skeleton placed on the bare mesh and converted
# like the auto-rig (the reference) already differs from the artist's rig by this much after the test pose.
PROXY = "; with the artist's own skeleton placed the surface is already {}% off: {}"
SHORT: dict[tuple[str, str], str] = {
    ("fbx_quaternius_female_casual.fbx", "joint_median"): PLACEMENT,
    ("fbx_quaternius_female_casual.fbx", "surface"): PLACEMENT
    + PROXY.format(
        0.9,
        "unposed, the two exports' rest meshes already differ by 0.86% (the weights alone, vertex by vertex, "
        "by 0.07%: bench/bench_autorig_weights.py)",
    ),
    ("vrm0_godette.vrm", "joint_median"): PLACEMENT,
    ("vrm0_godette.vrm", "surface"): PLACEMENT
    + PROXY.format(
        0.8,
        "its body's and face's bare shells ride on the voxel proxy's weights, and the artist's file keeps its "
        "legs spread where the VRM 1.0 T-pose written for the auto-rig straightens them, so the test pose bends "
        "them from other rests; the rest is the placement's (upper arms 3.8% and hips 6.7% off)",
    ),
}

# The robots (docs/auto-rig-accuracy.md, "Robots"). RobotExpressive's worst joint is within the goal.
EXPRESSIVE = (
    "its wrists sit inside one part holding forearm and fist, where the narrowest cut is 7% past the artist's; "
    "its feet's joints are 6% above the artist's (at the sole), and the hull over its thighs puts its hips "
    "and thighs' joints 3% off"
)
DEBUG_ROBOT = (
    "its body is an axis marker per bone (three bars from each bone's head, a gap between every two), which no "
    "cut reads as limbs: the thighs' joints, head, spine and arms land 12-18% off"
)
SHORT |= {("glb_robot_expressive.glb", goal): EXPRESSIVE for goal in ("joint_median", "surface")}
SHORT |= {("vrm1_debug_robot.vrm", goal): DEBUG_ROBOT for goal in GOALS}


def _meets(name: str, found: dict[str, Any], goal: str) -> None:
    value, limit = found[goal], GOALS[goal]
    short = SHORT.get((name, goal))
    if short is None:
        assert value <= limit, f"{name}: {goal} {value:.4f} > {limit} ({found['joints']})"
    elif value <= limit:
        pytest.fail(f"{name} now meets {goal} ({value:.4f} <= {limit}): take it off SHORT")
    else:
        pytest.xfail(f"{name}: {goal} {value:.4f} > {limit}: {short}")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("build", "pose"),
    [(primitives.t_pose, "T-pose"), (primitives.person, "A-pose"), (primitives.a_pose, "A-pose")],
    ids=["T-pose", "arms 30 degrees down", "arms 45 degrees down"],
)
def test_a_never_rigged_primitive_humanoid_rigs_and_exports_a_vrm(
    build: Callable[[], None], pose: str, tmp_path: Path
) -> None:
    model = primitives.write_glb(build, tmp_path / "blocky.glb")
    before = _digest(model)
    out = tmp_path / "blocky.vrm"
    done = run_forge("convert", model, "--out", out, "--preset", PRESET, "--fix", "all", "--rig", "auto", "--json")
    assert done.code == 0, done.stdout + done.stderr[-2000:]
    entry = done.json()["models"][0]
    assert entry["rig"]["rigged"] and any(note.startswith(pose) for note in entry["rig"]["notes"]), entry["rig"]
    assert entry["export"]["verification"]["problems"] == [], entry["export"]["verification"]
    assert _digest(model) == before
    summary = consumers([out])[str(out)]
    assert "error" not in summary, summary.get("error")
    assert summary["validator"]["errors"] == 0, summary["validator"]
    assert set(summary["humanBones"]) >= humanoid.REQUIRED_VRM1
    positions = summary["positions"]  # three-vrm: y up, the avatar faces +z, its left at +x
    assert positions["head"][1] > positions["hips"][1] > positions["leftFoot"][1]
    assert positions["leftHand"][0] > positions["leftLowerArm"][0] > positions["leftUpperArm"][0] > 0
    assert positions["rightHand"][0] < positions["rightLowerArm"][0] < positions["rightUpperArm"][0] < 0
    assert positions["hips"][1] > positions["leftLowerLeg"][1] > positions["leftFoot"][1]


def test_auto_leaves_a_rigged_model_alone_and_replace_rigs_it_anew(tmp_path: Path) -> None:
    rigged = tmp_path / "rigged.vrm"
    model = primitives.write_glb(primitives.person, tmp_path / "blocky.glb")
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
    assert {p["how"] for p in rig["parts"]} <= {"heat", "proxy", "nearest", "rigid", "shells"}
    assert _digest(rigged) == before


def test_the_weights_are_complete_and_stay_on_their_side_and_region(tmp_path: Path) -> None:
    model = primitives.write_glb(primitives.person, tmp_path / "blocky.glb")
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
        (primitives.chair, "supports reach the floor"),
        (primitives.quadruped, "supports reach the floor"),
        (primitives.pair, "several characters"),
        (primitives.lying, "not standing"),
    ],
    ids=["chair", "quadruped", "two side by side", "lying"],
)
def test_what_is_no_standing_humanoid_is_refused_with_its_reason(
    build: Callable[[], None], reason: str, tmp_path: Path
) -> None:
    model = primitives.write_glb(build, tmp_path / "thing.glb")
    before = _digest(model)
    done = run_forge("convert", model, "--out", tmp_path, "--preset", PRESET, "--rig", "auto")
    assert done.code == 1, done.stdout + done.stderr[-2000:]
    failed = [line for line in done.stdout.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1 and "thing.glb: not a standing humanoid:" in failed[0] and reason in failed[0], done.stdout
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "thing.vrm").exists()
    assert _digest(model) == before


@pytest.mark.parametrize(
    ("build", "thighs", "note"),
    [
        (primitives.touching, 0.055, None),
        (primitives.skirt, 0.09, "a skirt hides the crotch: the legs followed up inside it"),
        (primitives.long_hair, 0.09, None),
    ],
    ids=["thighs touching from the knees up", "skirt to the knees", "long hair to the waist"],
)
def test_what_hides_the_gaps_between_limbs_still_rigs_at_the_right_joints(
    build: Callable[[], None], thighs: float, note: str | None, tmp_path: Path
) -> None:
    """Thighs pressed together, a skirt to the knees, a sheet of hair behind the arms wider than the shoulders:
    the placement finds every limb's joints where the model was built (within 4% of the height, median 2%)."""
    model = primitives.write_glb(build, tmp_path / "figure.glb")
    bpy.ops.wm.read_homefile(use_empty=True)
    avatar_import.import_avatar(model, bare_ok=True)
    plan = plan_rig(read.read_parts([o for o in bpy.data.objects if o.type == "MESH"]))
    m = np.array(plan.to_rig_frame)
    heads = {b.name: np.array(b.head) for b in plan.bones}
    errors = {}
    for side, sign in (("left", 1.0), ("right", -1.0)):
        for bone, at in zip(primitives.JOINTS, primitives.joints(thighs=thighs), strict=True):
            world = np.array([sign * at[0], at[1], at[2]])
            errors[side + bone] = (
                float(np.linalg.norm(heads[side + bone] - (m[:3, :3] @ world + m[:3, 3]))) / plan.height
            )
    report = {k: f"{v:.1%}" for k, v in errors.items()}
    assert max(errors.values()) <= 0.04 and np.median(list(errors.values())) <= 0.02, report
    assert note is None or note in plan.notes, plan.notes


@pytest.fixture(scope="module", params=[*harness.ARTISTS, *harness.ROBOTS])
def measured(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One artist's avatar stripped, auto-rigged and converted, beside the artist's own rig converted and the
    artist's skeleton placed on the bare mesh and converted like the auto-rig (the joints' reference)."""
    name = request.param
    if not harness.SHARED_CORPUS.is_dir():
        pytest.skip(f"the third-party corpus is not at {harness.SHARED_CORPUS} (see tests/corpus/SOURCES.md)")
    vrm_addon.ensure_enabled()
    folder = tmp_path_factory.mktemp(Path(name).stem)
    stripped = harness.strip(harness.SHARED_CORPUS / name, folder / "bare.glb")
    auto, artist, reference = folder / "auto.vrm", folder / "artist.vrm", folder / "reference.vrm"
    oracle = harness.oracle_convert(stripped, reference, get_preset(PRESET))
    assert oracle["ok"], oracle["error"]
    rigged = run_forge("convert", stripped.bare, "--out", auto, "--preset", PRESET, "--fix", "all", "--rig", "auto",
                       "--json", timeout=900)  # fmt: skip
    done = run_forge("convert", harness.SHARED_CORPUS / name, "--out", artist, "--preset", PRESET, "--fix", "all")
    assert done.code == 0, done.stdout
    found = harness.compare(auto, artist, reference) if rigged.code == 0 else None
    return {"name": name, "rigged": rigged, "auto": auto, "artist": artist, "found": found}


def test_every_bare_artist_mesh_rigs_into_a_vrm_three_vrm_loads(measured: dict[str, Any]) -> None:
    assert measured["rigged"].code == 0, measured["rigged"].stdout + measured["rigged"].stderr[-2000:]
    summary = consumers([measured["auto"]])[str(measured["auto"])]
    assert "error" not in summary, summary.get("error")
    assert summary["validator"]["errors"] == 0, summary["validator"]
    at = {bone: p[1] for bone, p in summary["positions"].items()}  # three-vrm: y up
    for side in ("left", "right"):  # plausible anatomy: no leg bone of no length
        assert at["head"] > at["hips"] > at[f"{side}UpperLeg"] > at[f"{side}LowerLeg"] > at[f"{side}Foot"], at


def test_the_rendered_thumbnails_frame_the_avatar(measured: dict[str, Any]) -> None:
    """The thumbnail convert renders (a VRM brings its author's, kept as it is) shows the converted avatar
    whole and in the middle: the frame follows the posed meshes, not their rest shape's boxes."""
    assert measured["rigged"].code == 0, measured["rigged"].stdout + measured["rigged"].stderr[-2000:]
    rendered = [measured["auto"]] + ([] if measured["name"].endswith(".vrm") else [measured["artist"]])
    for vrm in rendered:
        thumbnails.assert_shows_the_avatar(thumbnails.thumbnail_pixels(vrm))


@pytest.mark.parametrize("goal", ["joint_median", "joint_worst", "surface"])
def test_the_rig_is_the_artists(measured: dict[str, Any], goal: str) -> None:
    """Joints within 2% of the height (median) and 8% (worst) of the artist's, and after one test pose the
    surface within 1% of the height of where the artist's rig puts it."""
    assert measured["found"] is not None, measured["rigged"].stdout
    _meets(measured["name"], measured["found"], goal)


def _pieces_and_joints(vrm: Path) -> list[tuple[set[int], float]]:
    """Per separate piece of each skinned primitive of the file (triangles joined where they share a place): the
    joints its vertices' main weights are on, and the least share of a vertex's weight on its main joint."""
    document, binary = glb.read(webpack.decoded(vrm.read_bytes()))
    out = []
    for mesh in document["meshes"]:
        for primitive in mesh["primitives"]:
            attributes = primitive["attributes"]
            if "WEIGHTS_0" not in attributes:
                continue
            weights = accessors.accessor_array(document, binary, attributes["WEIGHTS_0"]).astype(np.float64)
            joints = accessors.accessor_array(document, binary, attributes["JOINTS_0"])
            points = accessors.accessor_array(document, binary, attributes["POSITION"]).astype(np.float64)
            triangles = accessors.accessor_array(document, binary, primitive["indices"]).reshape(-1, 3).astype(np.int64)
            main = weights.argmax(axis=1)
            share = weights.max(axis=1) / weights.sum(axis=1)
            joint = joints[np.arange(len(joints)), main]
            labels = rigid.pieces(points, triangles)
            out += [
                ({int(j) for j in joint[labels == root]}, float(share[labels == root].min()))
                for root in np.unique(labels)
            ]
    return out


@pytest.mark.parametrize("measured", harness.ROBOTS, indirect=True)
def test_each_rigid_part_of_a_robot_moves_wholly_with_one_bone(measured: dict[str, Any]) -> None:
    """In the robot's VRM, every separate piece of every mesh follows one joint with all its weight: no rigid
    part is stretched across two bones."""
    assert measured["rigged"].code == 0, measured["rigged"].stdout + measured["rigged"].stderr[-2000:]
    rig = measured["rigged"].json()["models"][0]["rig"]
    assert {p["how"] for p in rig["parts"]} <= {"shells", "rigid"}, rig["parts"]
    pieces = _pieces_and_joints(measured["auto"])
    assert len(pieces) >= 20
    assert all(len(joints) == 1 and share > 0.999 for joints, share in pieces), pieces


def _bones_of_parts(vrm: Path) -> dict[str, set[str]]:
    """Per skinned mesh object of the file (by its node's name), the bones its vertices' main weights are on."""
    document, binary = glb.read(webpack.decoded(vrm.read_bytes()))
    nodes = document["nodes"]
    out: dict[str, set[str]] = {}
    for node in (n for n in nodes if "mesh" in n and "skin" in n):
        joints = document["skins"][node["skin"]]["joints"]
        for primitive in document["meshes"][node["mesh"]]["primitives"]:
            weights = accessors.accessor_array(document, binary, primitive["attributes"]["WEIGHTS_0"])
            index = accessors.accessor_array(document, binary, primitive["attributes"]["JOINTS_0"])
            main = index[np.arange(len(index)), weights.argmax(axis=1)]
            out.setdefault(node["name"], set()).update(nodes[joints[int(j)]]["name"] for j in np.unique(main))
    return out


@pytest.mark.parametrize("measured", harness.ROBOTS, indirect=True)
def test_a_robot_faces_its_front_with_its_left_on_the_artists_left(measured: dict[str, Any]) -> None:
    """No robot is rigged facing backwards: each part the artist named for a side (`Hand.L`, `ArmL`,
    `LowerLegR_1`) follows a bone of that side or the middle, never the other side's (a robot rigged facing
    backwards, its left and right swapped, has them all on the other side). The debug robot has no
    feet nor face (axis markers): it faces the file's front, and the notes say so; RobotExpressive's feet and
    face show it."""
    assert measured["rigged"].code == 0, measured["rigged"].stdout + measured["rigged"].stderr[-2000:]
    notes = measured["rigged"].json()["models"][0]["rig"]["notes"]
    sided = {}
    for name, bones in _bones_of_parts(measured["auto"]).items():
        side = re.search(r"\.?([LR])(_\d+)?(_mesh)?$", name)  # the export names a bone's namesake `_mesh`
        if side is not None:
            sided[name] = bones
            other = ".R" if side.group(1) == "L" else ".L"
            assert not any(bone.endswith(other) for bone in bones), (name, bones)
    assert len(sided) >= 10, sided
    expected = "front: −Y as the file has it" if measured["name"] == "vrm1_debug_robot.vrm" else "front: −Y found from"
    assert any(note.startswith(expected) for note in notes), notes


def test_a_folder_of_bare_models_is_rigged_model_by_model(tmp_path: Path) -> None:
    # Several models convert each in a process of its own: --rig must reach each of them.
    folder = tmp_path / "models"
    folder.mkdir()
    primitives.write_glb(primitives.person, folder / "blocky.glb")
    primitives.write_glb(primitives.chair, folder / "chair.glb")
    out = tmp_path / "out"
    out.mkdir()
    done = run_forge("convert", folder, "--out", out, "--preset", PRESET, "--fix", "all", "--rig", "auto")
    assert done.code == 1, done.stdout + done.stderr[-2000:]
    assert (out / "blocky.vrm").is_file(), done.stdout
    failed = [line for line in done.stdout.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1 and "chair.glb: not a standing humanoid:" in failed[0], done.stdout


def test_batch_rigs_each_bare_model_and_reports_how(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    primitives.write_glb(primitives.person, models / "blocky.glb")
    primitives.write_glb(primitives.chair, models / "chair.glb")
    out = tmp_path / "out"
    out.mkdir()
    batch = ("batch", "--from", models, "--out", out, "--preset", PRESET, "--fix", "all", "--shard", "0/1", "--json")
    done = run_forge(*batch, "--rig", "auto", timeout=900)
    assert done.code == 1, done.stderr[-2000:]
    report = done.json()
    assert report["settings"]["rig"] == "auto"
    items = {i["id"]: i for i in report["items"]}
    assert items["blocky.glb"]["status"] == "done", items
    rig = items["blocky.glb"]["rig"]
    assert rig["rigged"] is True and rig["bones"] >= len(humanoid.REQUIRED_VRM1), rig
    assert items["chair.glb"]["status"] == "failed"
    assert "chair.glb: not a standing humanoid:" in items["chair.glb"]["reason"]
    assert sorted(p.name for p in out.glob("*.vrm")) == ["blocky.vrm"]
    stored = json.loads(next((out / "batch" / "reports").rglob("*.json")).read_text())
    assert {i["id"]: i.get("rig") for i in stored["items"]}["blocky.glb"] == rig

    # The same batch again skips the rigged model; without --rig the bare model is no avatar to convert.
    again = run_forge(*batch, "--rig", "auto", timeout=900)
    assert {i["id"]: i["status"] for i in again.json()["items"]}["blocky.glb"] == "skipped"
    (tmp_path / "plain").mkdir()
    plain = run_forge(*batch[:4], tmp_path / "plain", *batch[5:], timeout=900)
    blocky = {i["id"]: i for i in plain.json()["items"]}["blocky.glb"]
    assert blocky["status"] == "failed" and "not a rigged avatar" in blocky["reason"], blocky

    # Projects are re-exported with their own rig: --rig is refused there, before anything runs.
    (tmp_path / "root" / "projects").mkdir(parents=True)
    refused = run_forge("batch", "--from", tmp_path / "root" / "projects", "--out", tmp_path / "root",
                        "--preset", PRESET, "--rig", "auto")  # fmt: skip
    assert refused.code == 2 and "--rig auto rigs models to convert" in refused.stderr, refused.stderr
    assert not (tmp_path / "root" / "batch").exists()
